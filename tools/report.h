/* How lmutil's and lmvendor's commands report failures.
 *
 * Results go to stdout, as text or (--json) as one JSON document a line.
 * A failure is one sentence on stderr, "<command>: <sentence>", for people;
 * with --json it is also a JSON error object on stdout, unless the command
 * printed a document of its own (which then tells what failed), so that a
 * monitor reads every outcome from stdout and never parses prose:
 *
 *   {"error":{"code":"LMC_ENOSERVER","number":-14,"message":"..."}}
 *
 * code and number are the stable LMC_E* name and value (core/error.h); the
 * message is the sentence of stderr.  A command names itself with
 * lm_report_begin, says lm_report_json once it has read --json, and the
 * program's main() passes the command's exit status through
 * lm_report_end. */
#ifndef LM_REPORT_H
#define LM_REPORT_H

#include <stdbool.h>

#include <jansson.h>

/* Starts a command: its name prefixes the sentences on stderr. */
void lm_report_begin(const char *command);
/* The command was asked for --json. */
void lm_report_json(void);
bool lm_report_is_json(void);

/* Prints "<command>: <sentence>" on stderr and keeps code (a negative
 * LMC_E*) and the sentence as the failure that --json reports: the last
 * one wins, as the last sentence is the one that ended the command. */
__attribute__((format(printf, 2, 3))) void lm_report_fail(int code, const char *fmt, ...);
/* Keeps code and the sentence as lm_report_fail does, but prints nothing
 * and returns the sentence: for a command that words its stderr its own
 * way (FILE:LINE: error: ...). */
__attribute__((format(printf, 2, 3))) const char *lm_report_keep(int code, const char *fmt, ...);
/* Prints "<command>: <sentence>" on stderr, and keeps nothing: a warning
 * or a detail of a failure reported afterwards. */
__attribute__((format(printf, 1, 2))) void lm_report_say(const char *fmt, ...);

/* The failure kept last (code 0 and "" when none): for lmvendor serve,
 * which answers a request with the sentence a command would have said. */
const char *lm_report_last(int *code);
/* Forgets the failure kept last: before the next request. */
void lm_report_forget(void);

/* Prints doc (lm_json_print) and notes that the command printed its
 * document.  Returns 0, or 1 after saying that stdout cannot be written. */
int lm_report_print(json_t *doc);

/* Ends the command with its exit status: with --json, a failure (non-zero
 * status) that printed no document prints the error object.  Returns
 * status. */
int lm_report_end(int status);

#endif
