#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "pitwall/container.h"

static void print_info(const pw_image_info *info, const char *archive)
{
	printf("image   %s\n", info->name ? info->name : "(unnamed)");
	printf("digest  %s\n", info->digest);
	printf("config  %s\n", info->config_digest);
	printf("layout  %s\n", info->dir);
	if (info->nfiles)
		printf("files   %zu (%.1f MiB)\n", info->nfiles,
		       (double)info->layer_size / (1024.0 * 1024.0));
	else
		printf("size    %.1f MiB\n", (double)info->layer_size / (1024.0 * 1024.0));
	if (archive)
		printf("archive %s\n", archive);
}

static int image_build(int argc, char **argv)
{
	pw_image_build_opts o = {0};
	const char *v;
	for (int i = 1; i < argc; i++) {
		if (pw_cli_opt(argc, argv, &i, "-o", "--output", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("image", "-o needs a directory");
			o.out_dir = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--archive", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("image", "--archive needs a file name");
			o.archive = v;
		} else if (pw_cli_opt(argc, argv, &i, NULL, "--from-build", &v)) {
			if (!v || !*v)
				return pw_cli_usage_error("image",
							  "--from-build needs the build directory");
			o.build_dir = v;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return pw_cli_usage_error("image", "unknown option '%s'", argv[i]);
		} else if (o.def_dir) {
			return pw_cli_usage_error("image", "one definition at a time, got '%s' too",
						  argv[i]);
		} else {
			o.def_dir = argv[i];
		}
	}
	if (!o.def_dir)
		return pw_cli_usage_error("image", "no definition given (e.g. containers/ingest)");
	pw_image_info info;
	char err[2048];
	if (pw_image_build(&o, &info, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return PW_EXIT_FAILED;
	}
	print_info(&info, o.archive);
	pw_image_info_release(&info);
	return PW_EXIT_OK;
}

static int image_digest(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return pw_cli_usage_error("image", "image digest takes one layout directory");
	pw_image_info info;
	char err[1024];
	char *dir = pw_image_find(argv[1], NULL);
	if (pw_image_inspect(dir ? dir : argv[1], &info, err, sizeof(err)) < 0) {
		fprintf(stderr, "pitwall image digest: %s\n", err);
		free(dir);
		return PW_EXIT_FAILED;
	}
	printf("%s\n", info.digest);
	pw_image_info_release(&info);
	free(dir);
	return PW_EXIT_OK;
}

int pw_cmd_image(int argc, char **argv)
{
	if (argc < 2)
		return pw_cli_usage_error("image", "say build or digest");
	if (strcmp(argv[1], "build") == 0)
		return image_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "digest") == 0)
		return image_digest(argc - 1, argv + 1);
	return pw_cli_usage_error("image", "unknown subcommand '%s' (build or digest)", argv[1]);
}
