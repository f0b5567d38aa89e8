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
 * stderr, in one of two formats.  In a terminal or a file (LM_LOG_PLAIN,
 * the default) it is timestamped in UTC, with the node id that
 * lm_log_set_node() set:
 *
 *   2026-11-21T12:40:01.123Z lmd[1] checkout user=alice host=ws7 feature=stats
 *
 * When stderr is systemd's journal (LM_LOG_JOURNAL) the journal stamps the
 * time and names the process itself; the line starts with its priority
 * instead, the "<N>" prefix of sd-daemon(3) that the journal reads off a
 * stream, so that `journalctl -p err` finds the errors:
 *
 *   <6>node 1 checkout user=alice host=ws7 feature=stats
 *
 * (the journal shows "lmd[PID]:" in front, so the node is spelt out where
 * "lmd[1]" would read as a second process id).  The program picks the
 * format at start, with lm_log_stream_is_journal().
 *
 * Tests and tools may install a sink of their own (to capture lines, or to
 * keep them quiet).  Lines of a level less severe than lm_log_set_level()
 * are dropped before they are formatted; the default keeps info and above,
 * so debug lines cost a comparison unless asked for.
 *
 * Set the sink, the format, the level and the node before any other thread
 * may log: they are plain variables.  Logging itself is safe from any
 * thread as long as the sink is (the default one writes each line with one
 * fprintf, which keeps lines whole when stderr is shared). */
#ifndef LM_CORE_LOG_H
#define LM_CORE_LOG_H

#include <stdbool.h>

enum lm_log_level {
	LM_LOG_ERROR,   /* something failed: a request, a peer, a disk, the process */
	LM_LOG_WARNING, /* something is off, and was handled */
	LM_LOG_INFO,    /* the events an administrator follows (kept by default) */
	LM_LOG_DEBUG,   /* details for whoever debugs lmd */
};

/* How the default sink writes a line (see above). */
enum lm_log_format {
	LM_LOG_PLAIN,   /* time, lmd[node], event, message */
	LM_LOG_JOURNAL, /* <priority>, node, event, message */
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
/* The default sink's format from now on (LM_LOG_PLAIN at start). */
void lm_log_set_format(enum lm_log_format format);
/* Whether fd is the stream systemd connected to the journal.  systemd
 * puts the device and inode numbers of that stream in JOURNAL_STREAM
 * ("dev:ino", in decimal) when it connects stdout or stderr to the
 * journal; the variable is inherited by whatever the service runs, so
 * only a match with fstat(2) of fd says that fd still goes there
 * (systemd.exec(5), "$JOURNAL_STREAM").  journal_stream is the variable's
 * value, NULL when it is not set. */
bool lm_log_stream_is_journal(int fd, const char *journal_stream);

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
