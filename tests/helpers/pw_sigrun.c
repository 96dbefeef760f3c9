/*
 * pw_sigrun [-o OUTFILE] [-e ERRFILE] SIGNAL TIMEOUT_MS WAITFILE... -- COMMAND [ARG...]
 *
 * Starts COMMAND (stdout to OUTFILE, stderr to ERRFILE, stdin /dev/null) with SIGINT/SIGTERM at
 * their defaults and unblocked (a background job of a non-interactive shell would inherit SIGINT
 * ignored), waits until every WAITFILE exists (at most TIMEOUT_MS), sends SIGNAL
 * ("TERM", "INT" or a number) to COMMAND's pid, waits for it and prints one
 * line: "exit N", or "signal N" when it died of a signal, "early exit N" /
 * "early signal N" when it ended before the files showed up, or "timeout"
 * (they never did; COMMAND was SIGKILLed).  Returns 0 unless the helper
 * itself failed.  Deliberately not a child subreaper: whatever COMMAND
 * leaves behind is reparented to init, as it would be in production.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void redirect(const char *path, int fd, int flags)
{
	int f = open(path, flags, 0644);
	if (f < 0 || dup2(f, fd) < 0) {
		fprintf(stderr, "pw_sigrun: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(f);
}

int main(int argc, char **argv)
{
	const char *outfile = NULL, *errfile = NULL;
	while (argc > 2 && (strcmp(argv[1], "-o") == 0 || strcmp(argv[1], "-e") == 0)) {
		if (argv[1][1] == 'o')
			outfile = argv[2];
		else
			errfile = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 5) {
		fprintf(stderr, "usage: pw_sigrun [-o OUT] [-e ERR] SIGNAL TIMEOUT_MS WAITFILE... "
				"-- COMMAND [ARG...]\n");
		return 2;
	}
	int sig;
	if (strcmp(argv[1], "TERM") == 0)
		sig = SIGTERM;
	else if (strcmp(argv[1], "INT") == 0)
		sig = SIGINT;
	else
		sig = atoi(argv[1]);
	long timeout = atol(argv[2]);
	int sep = -1;
	for (int i = 3; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	if (sep < 0 || sep + 1 >= argc) {
		fprintf(stderr, "pw_sigrun: missing -- COMMAND\n");
		return 2;
	}
	sigset_t none;
	sigemptyset(&none);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		redirect("/dev/null", 0, O_RDONLY);
		if (outfile)
			redirect(outfile, 1, O_WRONLY | O_CREAT | O_TRUNC);
		if (errfile)
			redirect(errfile, 2, O_WRONLY | O_CREAT | O_TRUNC);
		execvp(argv[sep + 1], argv + sep + 1);
		fprintf(stderr, "pw_sigrun: exec %s: %s\n", argv[sep + 1], strerror(errno));
		_exit(127);
	}

	long deadline = now_ms() + timeout;
	int ready = 0;
	while (!ready) {
		ready = 1;
		for (int i = 3; i < sep; i++) {
			struct stat st;
			if (stat(argv[i], &st) != 0)
				ready = 0;
		}
		int status;
		if (!ready && waitpid(pid, &status, WNOHANG) == pid) {
			printf("early %s %d\n", WIFEXITED(status) ? "exit" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			goto out;
		}
		if (!ready && now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("timeout\n");
			goto out;
		}
		if (!ready)
			usleep(10000);
	}
	usleep(50000); /* let pitwall settle after the last task wrote its file */
	kill(pid, sig);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		printf("exit %d\n", WEXITSTATUS(status));
	else
		printf("signal %d\n", WTERMSIG(status));
out:
	fflush(stdout);
	return 0;
}
