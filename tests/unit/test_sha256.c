#include <stdio.h>
#include <string.h>

#include "pitwall/sha256.h"
#include "pw_test.h"

int main(void)
{
	char hex[65];
	pw_sha256_hex("", 0, hex);
	PW_CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		     "empty");
	pw_sha256_hex("abc", 3, hex);
	PW_CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		     "abc");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	pw_sha256_hex(two, strlen(two), hex);
	PW_CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		     "two blocks (FIPS 180-2 example)");
	/* A million 'a's fed in uneven pieces exercises the buffering. */
	pw_sha256 s;
	uint8_t d[32];
	char chunk[1000];
	memset(chunk, 'a', sizeof(chunk));
	pw_sha256_init(&s);
	for (int fed = 0, step = 1; fed < 1000000; step = step % 997 + 1) {
		int n = 1000000 - fed < step ? 1000000 - fed : step;
		pw_sha256_update(&s, chunk, (size_t)n);
		fed += n;
	}
	pw_sha256_final(&s, d);
	pw_sha256_to_hex(d, hex);
	PW_CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		     "one million 'a' in uneven chunks");
	char path[] = "/tmp/pw_sha_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("abc", f);
	fclose(f);
	int64_t size = -1;
	PW_CHECK_INT(pw_sha256_file(path, hex, &size), 0, "hash a file");
	PW_CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		     "file digest");
	PW_CHECK_INT(size, 3, "file size");
	remove(path);
	PW_CHECK(pw_sha256_file("/nonexistent/x", hex, NULL) < 0, "missing file is an error");
	PW_TEST_DONE();
}
