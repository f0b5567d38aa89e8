/* What the files of lmvendor share: the usage text, the way it complains,
 * reading and writing license files, the private key, authorization codes,
 * and the commands that live in their own files (lmvendor_<command>.c). */
#ifndef LM_LMVENDOR_H
#define LM_LMVENDOR_H

#include <stddef.h>

#include <openssl/evp.h>

#include "core/license.h"

/* The exit status for a wrong command line. */
#define LMVENDOR_EXIT_USAGE 2

extern const char lmvendor_usage[];

/* "lmvendor: " and the sentence, on stderr. */
__attribute__((format(printf, 1, 2))) void lmvendor_complain(const char *fmt, ...);
/* Says what is wrong with the command line and returns
 * LMVENDOR_EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int lmvendor_usage_error(const char *fmt, ...);
/* The message for getopt's return c (an unknown option, or ':' for a
 * missing value); returns LMVENDOR_EXIT_USAGE. */
int lmvendor_bad_option(char **argv, int c);

/* Prints f to path (atomically: a temporary file and a rename), or to
 * standard output when path is NULL.  Returns 0 or 1 after complaining. */
int lmvendor_output(const char *path, const struct lm_license_file *f);
/* lm_license_load, complaining with the file and line on failure. */
int lmvendor_load_file(const char *path, struct lm_license_file *f, struct lm_parse_error *err);
/* lm_key_load_private, complaining on failure. */
int lmvendor_load_private(const char *path, EVP_PKEY **key);
/* Writes a new random authorization code into buf. */
int lmvendor_new_authcode(char *buf, size_t size);

/* The commands with a file of their own; each takes the arguments after
 * "lmvendor" (argv[0] is the command) and returns the exit status. */
int lmvendor_cmd_verify(int argc, char **argv);
int lmvendor_cmd_issue(int argc, char **argv);

#endif
