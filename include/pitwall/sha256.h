/* SHA-256 (FIPS 180-4), for the audit chain, lineage and executable digests. */
#ifndef PITWALL_SHA256_H
#define PITWALL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[8];
	uint64_t len; /* bytes */
	uint8_t buf[64];
	size_t nbuf;
} pw_sha256;

void pw_sha256_init(pw_sha256 *s);
void pw_sha256_update(pw_sha256 *s, const void *data, size_t n);
void pw_sha256_final(pw_sha256 *s, uint8_t out[32]);
/* Lower-case hex of data's digest into hex[65]. */
void pw_sha256_hex(const void *data, size_t n, char hex[65]);
void pw_sha256_to_hex(const uint8_t digest[32], char hex[65]);
/* Digest of a file's contents; returns 0 or -errno.  size may be NULL. */
int pw_sha256_file(const char *path, char hex[65], int64_t *size);

#endif
