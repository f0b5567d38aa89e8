/* What the files of lmvendor share: the usage texts, the way it complains,
 * reading and writing license files, the private key, authorization codes,
 * and the commands that live in their own files (lmvendor_<command>.c).
 * Failures are reported with tools/report.h, as "lmvendor: ..." on stderr
 * and, with --json, as the error object on stdout. */
#ifndef LM_LMVENDOR_H
#define LM_LMVENDOR_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/license.h"

/* The exit status for a wrong command line. */
#define LMVENDOR_EXIT_USAGE 2

/* Prints the usage of command (argv[0] of a command) on stdout; returns
 * 0, the exit status of --help. */
int lmvendor_help(const char *command);
/* Says what is wrong with the command line and returns
 * LMVENDOR_EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int lmvendor_usage_error(const char *fmt, ...);
/* The message for getopt's return c (an unknown option, or ':' for a
 * missing value); returns LMVENDOR_EXIT_USAGE. */
int lmvendor_bad_option(char **argv, int c);

/* The result of sign and issue: f written to path (atomically: a
 * temporary file and a rename), or printed on stdout when path is NULL.
 * With doc (--json), f is written to path only, and doc is printed with
 * "output" (path or null) and "license" (the text of f) added; doc is
 * consumed.  Returns 0, or 1 after reporting the failure. */
int lmvendor_emit(const char *path, const struct lm_license_file *f, json_t *doc);
/* lm_license_load, reporting the file and line on failure. */
int lmvendor_load_file(const char *path, struct lm_license_file *f, struct lm_parse_error *err);
/* lm_key_load_private, reporting on failure. */
int lmvendor_load_private(const char *path, EVP_PKEY **key);
/* Writes a new random authorization code into buf. */
int lmvendor_new_authcode(char *buf, size_t size);

/* The commands with a file of their own; each takes the arguments after
 * "lmvendor" (argv[0] is the command) and returns the exit status. */
int lmvendor_cmd_verify(int argc, char **argv);
int lmvendor_cmd_issue(int argc, char **argv);
/* The key center's commands (lmvendor_center*.c). */
int lmvendor_cmd_site(int argc, char **argv);
int lmvendor_cmd_order(int argc, char **argv);
int lmvendor_cmd_authcode_generate(int argc, char **argv);
int lmvendor_cmd_activate(int argc, char **argv);
int lmvendor_cmd_authcode_return(int argc, char **argv);
int lmvendor_cmd_member(int argc, char **argv);
/* The key center online (lmvendor_serve*.c). */
int lmvendor_cmd_serve(int argc, char **argv);
int lmvendor_cmd_token(int argc, char **argv);
int lmvendor_cmd_audit(int argc, char **argv);
int lmvendor_cmd_fulfil(int argc, char **argv);
int lmvendor_cmd_inventory(int argc, char **argv);
int lmvendor_cmd_renew(int argc, char **argv);
int lmvendor_cmd_dump(int argc, char **argv);

#endif
