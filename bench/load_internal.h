/* What the two files of the checkout load share.  Private to bench/load*.c.
 *
 *   load.c         the load: its clients, its clock, and the two
 *                  measurements (checkout throughput, failover)
 *   load_client.c  one simulated client's conversation with lmd */
#ifndef LB_LOAD_INTERNAL_H
#define LB_LOAD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "bench/hist.h"
#include "bench/lmbench.h"
#include "bench/uvconn.h"

enum lb_phase {
	PH_WAIT,       /* backing off before the next connection */
	PH_CONNECTING, /* TCP connect */
	PH_HELLO,      /* Hello sent */
	PH_SESSION,    /* SessionOpen sent */
	PH_RUN,        /* one checkout or checkin in flight */
	PH_CLOSING,    /* SessionClose sent at the end of the run */
	PH_DONE,
};

enum lb_op {
	OP_NONE,
	OP_CHECKOUT,
	OP_CHECKIN,
};

struct lb_client {
	struct lb_conn conn;
	struct lb_load *load;
	unsigned index;
	enum lb_phase phase;
	uint64_t phase_ns; /* when the phase began */
	uint64_t retry_ns; /* PH_WAIT: when to connect */
	unsigned server;   /* --servers entry connected or to connect to */

	bool have_session;
	uint64_t session_id;
	uint8_t secret[LM_SESSION_SECRET_LEN];
	uint64_t next_request_id;

	enum lb_op op;     /* in flight, or to send again after a reconnect */
	uint64_t op_id;    /* its request id, kept for every retry */
	uint64_t first_ns; /* first sent: the op's latency counts from here */
	uint64_t sent_ns;  /* last (re)sent */
	uint64_t handle;   /* seat held, 0 if none */

	bool recovered; /* failover: checked out again after the kill */
	uint64_t recovered_ns;
};

struct lb_load {
	const struct lb_options *o;
	uv_loop_t *loop;
	struct lb_client *clients;
	unsigned n;
	uint64_t window_start, window_end;
	uint64_t ops, errors, reconnects, redirects;
	struct lb_hist hist;
	uv_timer_t tick;
	bool stopping;
	uint64_t stop_ns;
	unsigned live; /* clients not PH_DONE */
	char identity_host[32];
	/* checkout --pids: the servers' CPU time (clock ticks) when the window
	 * opened and closed, -1 until read. */
	long long cpu_start, cpu_end;

	/* Failover. */
	bool failover;
	bool killed;
	uint64_t kill_ns, killed_ns, deadline_ns;
	int killed_index;
	unsigned recovered;
};

/* ---- load_client.c ---- */

void lb_client_set_phase(struct lb_client *c, enum lb_phase p);
/* Connects to c->server; on failure, waits and tries again later. */
void lb_client_connect(struct lb_client *c);
/* The client gives up on this server: the connection closes, and the next
 * attempt goes to next_server after delay_ns. */
void lb_client_leave(struct lb_client *c, unsigned next_server, uint64_t delay_ns);
/* The --servers entry after the client's. */
unsigned lb_client_next_server(struct lb_client *c);

#endif
