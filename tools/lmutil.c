/* lmutil: the administrator's tool.  Each subcommand lives in its own file
 * (lmutil_<name>.c) and is one row of the table below; as with FlexLM's
 * lmutil, a link named after a subcommand (lmhostid -> lmutil) runs it
 * directly. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tools/cmd.h"
#include "tools/report.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
        {"lmhostid", lm_cmd_lmhostid, "print this machine's lock code, or --explain CODE"},
        {"lmdiag", lm_cmd_lmdiag, "explain whether the features of a license file are usable here"},
        {"checkout", lm_cmd_checkout, "check a feature out, hold it and check it in (for scripts)"},
        {"lmstat", lm_cmd_lmstat, "show servers, features and (-a) who holds seats"},
        {"lmavail", lm_cmd_lmavail, "free seats of features now; exit 0 when enough are free"},
        {"lmremove", lm_cmd_lmremove, "return a holder's seats to the pool"},
        {"named-user", lm_cmd_named_user, "list or remove the named users of a feature"},
        {"lmdown", lm_cmd_lmdown, "shut the license servers down"},
        {"lmreread", lm_cmd_lmreread, "make the servers reload their license file"},
        {"lmreplace", lm_cmd_lmreplace, "swap a dead server of a triad for its replacement"},
        {"lmoptcheck", lm_cmd_lmoptcheck, "check an options file offline, against a license"},
        {"report", lm_cmd_report, "verify or summarise lmd's usage report log"},
        {"activate-request", lm_cmd_activate_request,
         "write a request file for the vendor's key center (offline activation)"},
        {"activate", lm_cmd_activate,
         "activate online at the vendor's key center (--url) and write the license"},
        {"deactivate", lm_cmd_deactivate,
         "return a key-center license from this machine (a proved return request)"},
        {"admin-keygen", lm_cmd_admin_keygen, "make an admin key pair for signed remote admin"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
	fprintf(out, "usage: lmutil COMMAND [OPTIONS]\n"
	             "       lmutil COMMAND --help\n"
	             "       lmutil --version\n"
	             "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *self = argc > 0 && argv[0] ? argv[0] : "lmutil";
	const char *slash = strrchr(self, '/');
	const struct command *cmd = find(slash ? slash + 1 : self);
	if (cmd) {
		lm_report_begin(cmd->name);
		return lm_report_end(cmd->run(argc, argv));
	}

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "-v") == 0) {
		printf("lmutil (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
#ifdef LM_TEST_HOOKS
		printf("built with test hooks (LM_HOSTID_ROOT is honoured)\n");
#endif
		return 0;
	}
	cmd = find(name);
	if (!cmd) {
		fprintf(stderr,
		        "lmutil: unknown command '%s'; `lmutil --help` lists the commands\n", name);
		return 2;
	}
	/* The subcommand sees its own name as argv[0], as if run alone. */
	lm_report_begin(cmd->name);
	return lm_report_end(cmd->run(argc - 1, argv + 1));
}
