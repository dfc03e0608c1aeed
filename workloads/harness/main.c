/* main.c — `tmbench COMMAND ...`: dispatch to one command per file.
 *
 * Adding a command: write its tmi_cmd_NAME(argc, argv) in NAME.c (argv[0]
 * is the command name), declare it in harness.h, add the file to
 * CMakeLists.txt and put the function in the table below. Commands listed
 * with a NULL function are part of the CLI contract but not built yet.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static const struct cmd {
    const char *name;                 /* the subcommand */
    int (*fn)(int argc, char **argv); /* NULL: not available in this build */
    const char *summary;              /* one line for --help */
} cmds[] = {
    {"list", tmi_cmd_list, "models (with capabilities), workloads, params and defaults"},
    {"run", tmi_cmd_run, "run a workload on a model, one result record per repetition"},
    {"serve", tmi_cmd_serve, "serve echo/http on a model until SIGINT/SIGTERM"},
    {"load", tmi_cmd_load, "out-of-process load generator (open or closed loop)"},
    {"topo", tmi_cmd_topo, "print the placement plan for a topology"},
    {"demo", tmi_cmd_demo, "classroom demonstrations (tmbench demo --list)"},
};
#define NCMDS ((int)(sizeof cmds / sizeof cmds[0]))

static void usage(FILE *f)
{
    fputs("usage: tmbench COMMAND [options]   (tmbench COMMAND --help for details)\n\n"
          "Run the same workloads on interchangeable threading models and record\n"
          "one JSON result per repetition.\n\ncommands:\n",
          f);
    for (int i = 0; i < NCMDS; i++)
        fprintf(f, "  %-7s %s%s\n", cmds[i].name, cmds[i].summary,
                cmds[i].fn ? "" : " (not in this build)");
    fputs("\nexit status: 0 ok, 1 a run failed (its record is still written), 2 usage error\n", f);
}

static const struct cmd *find(const char *name)
{
    for (int i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].name, name) == 0) return &cmds[i];
    return NULL;
}

static int dispatch(const struct cmd *c, int argc, char **argv)
{
    if (!c->fn) return tmi_usage_error("'%s' is not available in this build", c->name);
    return c->fn(argc, argv);
}

int main(int argc, char **argv)
{
    if (argc < 2) return tmi_usage_error("missing command (see 'tmbench --help')");
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        (strcmp(name, "help") == 0 && argc == 2)) {
        usage(stdout);
        return fflush(stdout) == 0 ? 0 : 2;
    }
    if (strcmp(name, "--version") == 0) {
        printf("%s\n", tmi_build_version());
        return 0;
    }
    if (strcmp(name, "help") == 0) { /* help COMMAND = COMMAND --help */
        const struct cmd *c = find(argv[2]);
        if (!c) return tmi_usage_error("unknown command '%s' (see 'tmbench --help')", argv[2]);
        char *hargv[] = {argv[2], "--help", NULL};
        return dispatch(c, 2, hargv);
    }
    const struct cmd *c = find(name);
    if (!c) return tmi_usage_error("unknown command '%s' (see 'tmbench --help')", name);
    return dispatch(c, argc - 1, argv + 1);
}
