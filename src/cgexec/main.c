/*
 * pitwall-cgexec: the limits shim as a program of its own (src/limits/shim.c).
 * It links nothing but libc, so a task with resource limits costs one
 * execve of a small binary instead of one of pitwall with its libraries;
 * pitwall finds it next to itself and falls back to `pitwall __cgexec`.
 */
#include <string.h>

#include "pitwall/limits.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "__cgexec") == 0)
		return pw_limits_shim_main(argc, argv);
	/* Also usable without the subcommand word: pitwall-cgexec [OPTION]... -- ... */
	argv[0] = "__cgexec";
	return pw_limits_shim_main(argc + 1, argv - 1);
}
