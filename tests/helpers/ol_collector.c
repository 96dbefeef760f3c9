/*
 * A tiny OpenLineage collector for the tests: an HTTP/1.1 server on
 * 127.0.0.1 (port chosen by the kernel, printed on stdout) that handles one
 * request per connection, one connection at a time, so what it records is
 * in arrival order.
 *
 *   ol_collector OUT [--fail-first N] [--fail-status CODE] [--control FILE]
 *                    [--requests FILE] [--hang]
 *
 * Each accepted POST body is appended to OUT as one line.  The first N
 * requests are answered CODE (default 503) and not recorded.  --control:
 * before each request FILE is read; "fail" or 0 means answer CODE, a number
 * K > 0 means accept and write K-1 back, no file means accept.  --requests
 * appends "N METHOD PATH STATUS AUTHORIZATION" for every request (the
 * header's value, or "-").  --hang: accept connections, never answer (an
 * endpoint that hangs).  Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void append(const char *path, const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	while (n) {
		ssize_t w = write(fd, data, n);
		if (w <= 0)
			break;
		data += w;
		n -= (size_t)w;
	}
	close(fd);
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* The value of header name in the head (NUL-terminated, CRLF lines), copied to out. */
static int header(const char *head, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t len = strcspn(v, "\r\n");
			if (len >= size)
				len = size - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 0;
		}
	}
	return -1;
}

/* --control: whether to accept this request. */
static int control_says(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	char word[32] = "";
	int got = fscanf(f, "%31s", word);
	fclose(f);
	long k = got == 1 ? strtol(word, NULL, 10) : 0;
	if (k <= 0)
		return 0;
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%ld\n", k - 1);
		fclose(f);
	}
	return 1;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *reqlog = NULL, *control = NULL;
	int hang = 0;
	long fail_first = 0;
	int fail_status = 503;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fail-first") == 0 && i + 1 < argc)
			fail_first = atol(argv[++i]);
		else if (strcmp(argv[i], "--fail-status") == 0 && i + 1 < argc)
			fail_status = atoi(argv[++i]);
		else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
			reqlog = argv[++i];
		else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc)
			control = argv[++i];
		else if (strcmp(argv[i], "--hang") == 0)
			hang = 1;
		else if (!out && argv[i][0] != '-')
			out = argv[i];
		else {
			fprintf(stderr,
				"usage: ol_collector OUT [--fail-first N] [--fail-status CODE] "
				"[--control FILE] [--requests FILE] [--hang]\n");
			return 64;
		}
	}
	if (!out) {
		fprintf(stderr, "ol_collector: no output file\n");
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 64) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) < 0) {
		perror("ol_collector");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);

	long n = 0;
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("ol_collector: accept");
			return 1;
		}
		if (hang)
			continue; /* keep the connection open, say nothing */
		struct timeval tv = {5, 0};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

		/* The head, up to the blank line. */
		size_t cap = 65536, len = 0;
		char *buf = malloc(cap + 1);
		char *end = NULL;
		while (!end) {
			if (len == cap) {
				cap *= 2;
				buf = realloc(buf, cap + 1);
			}
			ssize_t r = recv(c, buf + len, cap - len, 0);
			if (r <= 0)
				break;
			len += (size_t)r;
			buf[len] = '\0';
			end = strstr(buf, "\r\n\r\n");
		}
		if (!end || !buf) {
			free(buf);
			close(c);
			continue;
		}
		*end = '\0';
		size_t head_len = (size_t)(end - buf) + 4;
		char method[16] = "", path[1024] = "", value[4096];
		sscanf(buf, "%15s %1023s", method, path);
		long clen =
		    header(buf, "Content-Length", value, sizeof(value)) == 0 ? atol(value) : 0;
		if (header(buf, "Expect", value, sizeof(value)) == 0 &&
		    strcasecmp(value, "100-continue") == 0)
			send_all(c, "HTTP/1.1 100 Continue\r\n\r\n");
		char auth[4096] = "-";
		header(buf, "Authorization", auth, sizeof(auth));

		/* The body. */
		size_t have = len - head_len;
		char *body = malloc((size_t)clen + 2);
		memcpy(body, buf + head_len, have < (size_t)clen ? have : (size_t)clen);
		while (have < (size_t)clen) {
			ssize_t r = recv(c, body + have, (size_t)clen - have, 0);
			if (r <= 0)
				break;
			have += (size_t)r;
		}
		free(buf);
		if (have < (size_t)clen) {
			free(body);
			close(c);
			continue;
		}

		n++;
		int status = n <= fail_first ? fail_status : 200;
		if (status == 200 && control)
			status = control_says(control) ? 200 : fail_status;
		if (reqlog) {
			char line[8192];
			int k = snprintf(line, sizeof(line), "%ld %s %s %d %s\n", n, method, path,
					 status, auth);
			append(reqlog, line,
			       (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
		}
		if (status == 200 && strcmp(method, "POST") == 0) {
			body[clen] = '\n';
			append(out, body, (size_t)clen + 1);
		}
		free(body);
		char resp[256];
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
			 "0\r\nConnection: close\r\n\r\n",
			 status,
			 status == 200	 ? "OK"
			 : status == 503 ? "Service Unavailable"
					 : "Error");
		send_all(c, resp);
		close(c);
	}
}
