/* The server's one way to log: one line per event on stderr,
 *   2026-11-21T12:40:01.123Z lmd[1] checkout user=alice host=ws7 feature=stats ...
 * and its one way to die. */
#ifndef LM_LOG_H
#define LM_LOG_H

/* The node id printed in every line (0 before it is known). */
void lm_log_set_node(unsigned node);
/* event: one word ("start", "checkout", "denied", "expire", "error"...). */
void lm_log(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs an "fatal" line and exits with status 1. */
void lm_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
