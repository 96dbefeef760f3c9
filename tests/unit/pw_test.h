/*
 * A tiny TAP test harness: every check prints "ok N - ..." or
 * "not ok N - ...", and PW_TEST_DONE() prints the plan and a closing
 * "N passed, N failed" line and returns the exit status.
 */
#ifndef PW_TEST_H
#define PW_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pw_test_n, pw_test_failed;

#define PW_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		int pw_c_ = !!(cond);                                                              \
		pw_test_n++;                                                                       \
		if (pw_c_) {                                                                       \
			printf("ok %d - ", pw_test_n);                                             \
		} else {                                                                           \
			pw_test_failed++;                                                          \
			printf("not ok %d - ", pw_test_n);                                         \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		if (!pw_c_)                                                                        \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
	} while (0)

#define PW_CHECK_STR(got, want, ...)                                                               \
	do {                                                                                       \
		const char *pw_g_ = (got), *pw_w_ = (want);                                        \
		int pw_ok_ = (pw_g_ && pw_w_) ? strcmp(pw_g_, pw_w_) == 0 : pw_g_ == pw_w_;        \
		PW_CHECK(pw_ok_, __VA_ARGS__);                                                     \
		if (!pw_ok_)                                                                       \
			printf("#   got:  %s\n#   want: %s\n", pw_g_ ? pw_g_ : "(null)",           \
			       pw_w_ ? pw_w_ : "(null)");                                          \
	} while (0)

#define PW_CHECK_INT(got, want, ...)                                                               \
	do {                                                                                       \
		long long pw_g_ = (long long)(got), pw_w_ = (long long)(want);                     \
		PW_CHECK(pw_g_ == pw_w_, __VA_ARGS__);                                             \
		if (pw_g_ != pw_w_)                                                                \
			printf("#   got:  %lld\n#   want: %lld\n", pw_g_, pw_w_);                  \
	} while (0)

#define PW_TEST_DONE()                                                                             \
	do {                                                                                       \
		printf("1..%d\n", pw_test_n);                                                      \
		printf("%d passed, %d failed\n", pw_test_n - pw_test_failed, pw_test_failed);      \
		return pw_test_failed ? 1 : (pw_test_n ? 0 : 1);                                   \
	} while (0)

#endif
