/* One way to log and one way to die, for lmd and the libraries it is built
 * from (the pool and its store, the cluster).
 *
 * A log line is an event word and a sentence, at a level:
 *
 *   lm_log("checkout", "user=%s feature=%s", ...);      an event (info)
 *   lm_log_error("cannot write %s: %s", path, why);     event "error"
 *   lm_fatal("the raft log in %s is corrupt", dir);     event "fatal", then exit(1)
 *
 * Every line goes to one sink.  The default sink writes lmd's line on
 * stderr, timestamped in UTC, with the node id that lm_log_set_node() set:
 *
 *   2026-11-21T12:40:01.123Z lmd[1] checkout user=alice host=ws7 feature=stats
 *
 * Tests and tools may install a sink of their own (to capture lines, or to
 * keep them quiet).  Lines of a level less severe than lm_log_set_level()
 * are dropped before they are formatted; the default keeps info and above,
 * so debug lines cost a comparison unless asked for.
 *
 * Set the sink, the level and the node before any other thread may log:
 * they are plain variables.  Logging itself is safe from any thread as long
 * as the sink is (the default one writes each line with one fprintf, which
 * keeps lines whole when stderr is shared). */
#ifndef LM_CORE_LOG_H
#define LM_CORE_LOG_H

#include <stdbool.h>

enum lm_log_level {
	LM_LOG_ERROR,   /* something failed: a request, a peer, a disk, the process */
	LM_LOG_WARNING, /* something is off, and was handled */
	LM_LOG_INFO,    /* the events an administrator follows (kept by default) */
	LM_LOG_DEBUG,   /* details for whoever debugs lmd */
};

/* Receives every line that passes the level: event is one word, message
 * the formatted sentence without a newline; both only for the call. */
typedef void (*lm_log_sink_fn)(void *arg, enum lm_log_level level, const char *event,
                               const char *message);

/* Sends lines to sink(arg, ...) from now on; NULL restores the default. */
void lm_log_set_sink(lm_log_sink_fn sink, void *arg);
/* Drops lines less severe than level (LM_LOG_INFO at start). */
void lm_log_set_level(enum lm_log_level level);
/* Whether a line at level would be kept: to skip building costly
 * arguments of a debug line. */
bool lm_log_enabled(enum lm_log_level level);
/* The node id the default sink prints in every line (0 until known). */
void lm_log_set_node(unsigned node);

/* event: one word ("start", "checkout", "denied", "expire"...). */
void lm_log_at(enum lm_log_level level, const char *event, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* An event at LM_LOG_INFO. */
void lm_log(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line with the event word "error" at LM_LOG_ERROR, and one with
 * "warning" at LM_LOG_WARNING. */
void lm_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lm_log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An event at LM_LOG_DEBUG. */
void lm_log_debug(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The one way to die: logs a "fatal" line at LM_LOG_ERROR and exits with
 * status 1.  For states a process must not go on
 * from (a corrupt raft log, a store that cannot apply a committed entry)
 * and for start-up errors (STYLE.md, habit 4). */
void lm_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
