/* lmbench: a load generator for lmd, one libuv process simulating many
 * clients (bench/run drives it; README.md "Performance" shows the figures).
 *
 * Each mode is a small program of its own (echo.c, fsync.c, load.c,
 * sessions.c) over two shared pieces: a libuv connection that speaks lmd's
 * framing through the project's own codec (uvconn.h) and a latency
 * histogram (hist.h).  Every figure goes to stdout as one JSON object per
 * line, {"metric": ..., "value": ..., <labels>}; progress and problems go
 * to stderr. */
#ifndef LB_LMBENCH_H
#define LB_LMBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "proto/address.h"

/* Servers a run may name: a triad, with room to spare. */
#define LB_SERVERS_MAX 8

/* What the command line says, for every mode; each mode reads its part. */
struct lb_options {
	struct lm_address servers[LB_SERVERS_MAX];
	struct sockaddr_in server_addrs[LB_SERVERS_MAX];
	size_t nservers;
	unsigned clients;  /* closed-loop clients (echo, checkout, failover) */
	unsigned sessions; /* idle sessions (sessions) */
	double seconds;    /* measuring window */
	double warmup;     /* seconds before the window opens */
	double hold;       /* sessions: seconds to stay connected once all are open */
	double timeout;    /* probe and failover: give up after this long */
	const char *feature;
	const char *version;
	unsigned port;            /* echo-server */
	int pids[LB_SERVERS_MAX]; /* failover: the servers' pids, in --servers order */
	size_t npids;
	const char *dir; /* fsync */
	/* Extra "key=value" labels copied into every figure printed. */
	const char *labels[16];
	size_t nlabels;
};

/* Nanoseconds of CLOCK_MONOTONIC, for intervals. */
uint64_t lb_now_ns(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME), to compare with
 * timestamps taken by other processes. */
uint64_t lb_wall_ms(void);

/* Prints one figure as a JSON line: metric, value, then the labels given
 * as a NULL-terminated list of "key=value" strings, then the --label ones.
 * A value that reads as a number is printed as one, anything else as a
 * string. */
void lb_emit(const struct lb_options *o, const char *metric, double value, ...)
        __attribute__((sentinel));

/* Raises the soft limit on open files to the hard limit (and the hard one
 * too when allowed) so that one process can hold tens of thousands of
 * connections.  Returns the limit now in force. */
unsigned long lb_raise_nofile(void);

/* The loopback source address of connection i when n connections go to one
 * server: the kernel gives each source address its own ~28000 ephemeral
 * ports, so big runs spread over 127.0.0.1, .2, ...  NULL when one address
 * is enough (or the server is not on loopback). */
const struct sockaddr_in *lb_source_addr(const struct lb_options *o, unsigned i, unsigned n);

/* Which --servers entry a "port@host" leader hint names, or -1. */
int lb_server_index(const struct lb_options *o, const char *address);

/* The modes: each returns the process exit status. */
int lb_echo_server(const struct lb_options *o);
int lb_echo(const struct lb_options *o);
int lb_fsync(const struct lb_options *o);
int lb_checkout(const struct lb_options *o);
int lb_failover(const struct lb_options *o);
int lb_sessions(const struct lb_options *o);
int lb_probe(const struct lb_options *o);

#endif
