/*
 * The stderr observer: JSON lines in the spec's log schema, plain text, or
 * a live view on a terminal.
 */
#ifndef PW_EXEC_EVENTS_H
#define PW_EXEC_EVENTS_H

#include <stdio.h>

#include "pitwall/run.h"

typedef struct {
	pw_log_format format;
	FILE *out;
	bool status_shown; /* live view: a status line is on screen */
	size_t failed;
	size_t succeeded;
	int64_t last_draw_ms; /* live view: redraw at most every 100 ms */
} pw_log_observer;

/* PW_LOG_AUTO resolves to LIVE when out is a terminal, JSON otherwise. */
void pw_log_observer_init(pw_log_observer *lo, pw_log_format format, FILE *out);
void pw_log_observer_event(void *payload, const pw_run_ctx *ctx, const pw_event *ev);

const char *pw_event_type_name(pw_event_type t);

#endif
