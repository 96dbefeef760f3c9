/* Durations, sizes, and the names of failure classes and trigger rules. */
#include <stdint.h>

#include "pitwall/dag.h"
#include "pw_test.h"

static void dur_ok(const char *s, int64_t want)
{
	int64_t got = -12345;
	int rc = pw_parse_duration(s, &got);
	PW_CHECK(rc == 0 && got == want, "duration '%s' = %lld ms", s, (long long)want);
	if (rc != 0 || got != want)
		printf("#   rc %d, got %lld\n", rc, (long long)got);
}

static void dur_bad(const char *s)
{
	int64_t got = 0;
	PW_CHECK(pw_parse_duration(s, &got) < 0, "duration '%s' is rejected", s ? s : "(null)");
}

static void size_ok(const char *s, int64_t want)
{
	int64_t got = -12345;
	int rc = pw_parse_size(s, &got);
	PW_CHECK(rc == 0 && got == want, "size '%s' = %lld bytes", s, (long long)want);
	if (rc != 0 || got != want)
		printf("#   rc %d, got %lld\n", rc, (long long)got);
}

static void size_bad(const char *s)
{
	int64_t got = 0;
	PW_CHECK(pw_parse_size(s, &got) < 0, "size '%s' is rejected", s ? s : "(null)");
}

static void fmt(int64_t ms, const char *want)
{
	char buf[32];
	pw_format_duration(ms, buf, sizeof(buf));
	PW_CHECK_STR(buf, want, "format %lld ms", (long long)ms);
}

int main(void)
{
	/* Bare numbers are seconds. */
	dur_ok("30", 30000);
	dur_ok("0", 0);
	dur_ok("3600", 3600000);
	dur_ok("1.5", 1500);
	dur_ok("0.001", 1);
	/* Units. */
	dur_ok("30s", 30000);
	dur_ok("5m", 300000);
	dur_ok("2h", 7200000);
	dur_ok("1d", 86400000);
	dur_ok("1500ms", 1500);
	dur_ok("0ms", 0);
	dur_ok("1h30m", 5400000);
	dur_ok("1d2h3m4s5ms", 86400000 + 7200000 + 180000 + 4000 + 5);
	dur_ok("1.5h", 5400000);
	dur_ok("0.5s", 500);
	dur_ok("3600s", 3600000);
	dur_ok("21600s", 21600000);
	/* Signs: parsed, so callers can say "must be greater than zero". */
	dur_ok("-5", -5000);
	dur_ok("-1m", -60000);
	dur_ok("+10s", 10000);
	/* The largest whole-second value that fits, and one past it. */
	/* Overflow and the 100-year cap (100 x 366 days) are both rejected. */
	dur_bad("9223372036854775s");
	dur_bad("9223372036854776s");
	dur_ok("36600d", 36600LL * 86400000);
	dur_bad("36601d");
	dur_bad("99999999999999999999d");
	dur_bad("106751991167d");
	dur_bad("106751991168d"); /* > INT64_MAX ms */
	/* Malformed. */
	dur_bad(NULL);
	dur_bad("");
	dur_bad("-");
	dur_bad("s");
	dur_bad("ms");
	dur_bad("5x");
	dur_bad("1h30"); /* a number without a unit after a unit */
	dur_bad("30 s"); /* no spaces */
	dur_bad(" 30");
	dur_bad("30s ");
	dur_bad("1.5.2s");
	dur_bad("1e3");
	dur_bad("10S");
	dur_bad("1w");
	dur_bad("--5");
	dur_bad("5s-");
	dur_bad("soon");

	size_ok("0", 0);
	size_ok("1024", 1024);
	size_ok("100k", 100000);
	size_ok("100K", 100000);
	size_ok("1G", 1000000000);
	size_ok("1GB", 1000000000);
	size_ok("2M", 2000000);
	size_ok("512Mi", 512LL << 20);
	size_ok("512MiB", 512LL << 20);
	size_ok("8Gi", 8LL << 30);
	size_ok("1.5Gi", 3LL << 29);
	size_ok("1Ki", 1024);
	size_ok("1ki", 1024);
	size_ok("2Ti", 2LL << 40);
	size_ok("1T", 1000000000000LL);
	size_ok("1P", 1000000000000000LL);
	size_ok("1Pi", 1LL << 50);
	size_ok("7Ei", 7LL << 60);
	size_ok("10B", 10);
	size_ok("0.5k", 500);
	size_ok("1.0001k", 1000); /* rounded to the nearest byte */
	size_bad("8Ei");	  /* > INT64_MAX */
	size_bad("99999999999999999999");
	size_bad(NULL);
	size_bad("");
	size_bad("Gi");
	size_bad("-1");
	size_bad("-1Gi");
	size_bad("512m"); /* milli? mebi? refused rather than guessed */
	size_bad("1g");
	size_bad("1 Gi");
	size_bad("1Gi ");
	size_bad("1GiB!");
	size_bad("8 gigs");
	size_bad("1X");
	size_bad("1iB");
	size_bad("1.2.3");

	fmt(0, "0ms");
	fmt(999, "999ms");
	fmt(1000, "1.0s");
	fmt(1234, "1.2s");
	fmt(59999, "59.9s");
	fmt(60000, "1m00s");
	fmt(184000, "3m04s");
	fmt(3599999, "59m59s");
	fmt(3600000, "1h00m");
	fmt(5400000, "1h30m");
	fmt(86400000, "1d00h");
	fmt(90000000, "1d01h");
	fmt(-1500, "-1.5s");
	fmt(INT64_MIN, "-106751991167d07h");
	{
		char small[4];
		pw_format_duration(184000, small, sizeof(small));
		PW_CHECK_STR(small, "3m0", "format truncates to the buffer");
	}

	PW_CHECK_INT(PW_CLASS_COUNT, 9, "nine failure classes");
	for (int i = 0; i < PW_CLASS_COUNT; i++) {
		const char *n = pw_failure_class_name((pw_failure_class)i);
		PW_CHECK_INT(pw_failure_class_from_name(n), i, "class %s round-trips", n);
	}
	PW_CHECK_STR(pw_failure_class_name(PW_CLASS_NETWORK_TIMEOUT), "network_timeout", "name 0");
	PW_CHECK_STR(pw_failure_class_name(PW_CLASS_ERROR), "error", "name of error");
	PW_CHECK_STR(pw_failure_class_name(PW_CLASS_COUNT), "unknown", "out of range class");
	PW_CHECK_INT(pw_failure_class_from_name("oom"), -1, "unknown class name");
	PW_CHECK_INT(pw_failure_class_from_name(NULL), -1, "NULL class name");
	PW_CHECK(pw_failure_class_retried_by_default(PW_CLASS_NETWORK_TIMEOUT), "timeout retried");
	PW_CHECK(pw_failure_class_retried_by_default(PW_CLASS_RESOURCE_UNAVAILABLE), "69 retried");
	PW_CHECK(pw_failure_class_retried_by_default(PW_CLASS_TRANSIENT_ERROR), "75 retried");
	PW_CHECK(pw_failure_class_retried_by_default(PW_CLASS_WORKER_PREEMPTED), "preempt retried");
	PW_CHECK(pw_failure_class_retried_by_default(PW_CLASS_ERROR), "error retried");
	PW_CHECK(!pw_failure_class_retried_by_default(PW_CLASS_DATA_VALIDATION_FAILURE), "65 not");
	PW_CHECK(!pw_failure_class_retried_by_default(PW_CLASS_PERMISSION_DENIED), "77 not");
	PW_CHECK(!pw_failure_class_retried_by_default(PW_CLASS_INVALID_CONFIGURATION), "78 not");
	PW_CHECK(!pw_failure_class_retried_by_default(PW_CLASS_OUT_OF_MEMORY), "oom not");

	PW_CHECK_STR(pw_trigger_rule_name(PW_TRIGGER_ALL_SUCCESS), "all_success", "trigger 0");
	PW_CHECK_STR(pw_trigger_rule_name(PW_TRIGGER_ALL_DONE), "all_done", "trigger 1");
	PW_CHECK_STR(pw_trigger_rule_name(PW_TRIGGER_ONE_SUCCESS), "one_success", "trigger 2");
	PW_CHECK_STR(pw_trigger_rule_name(PW_TRIGGER_NONE_FAILED), "none_failed", "trigger 3");
	PW_CHECK_STR(pw_trigger_rule_name(PW_TRIGGER_ALL_FAILED), "all_failed", "trigger 4");
	PW_CHECK_STR(pw_trigger_rule_name((pw_trigger_rule)99), "unknown", "trigger out of range");

	PW_TEST_DONE();
}
