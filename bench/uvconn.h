/* One client connection to lmd (or to lmbench's echo server) on a libuv
 * loop, speaking the project's framing: frames packed with lm_frame_pack,
 * cut from the stream by an lm_frame_reader and decoded by
 * lm_envelope_decode into an arena, exactly as proto/frame_conn.c does in the
 * blocking library.
 *
 * The caller owns struct lb_conn (usually in an array) and hears of it
 * through three callbacks: connected, one per frame received, and closed,
 * called exactly once per lb_conn_start() after the handle is fully closed,
 * whatever ended it (a refused connect, the peer hanging up, a bad frame,
 * or lb_conn_close).  After closed the struct may be started again. */
#ifndef LB_UVCONN_H
#define LB_UVCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <uv.h>

#include "core/limits.h"
#include "proto/frame.h"

struct lm_tls_conn;

struct lb_conn;

struct lb_conn_cbs {
	void (*connected)(struct lb_conn *c);
	/* env points into a shared arena and is valid during the call only. */
	void (*frame)(struct lb_conn *c, const Lm__Envelope *env);
	/* status: 0 after lb_conn_close, else the libuv or LMC_E* error. */
	void (*closed)(struct lb_conn *c, int status);
};

enum lb_conn_state {
	LB_CONN_IDLE, /* never started, or closed */
	LB_CONN_CONNECTING,
	LB_CONN_OPEN,
	LB_CONN_CLOSING,
};

struct lb_conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct lm_frame_reader reader;
	const struct lb_conn_cbs *cbs;
	void *data;
	enum lb_conn_state state;
	int status;              /* why it is closing */
	struct lm_tls_conn *tls; /* with lb_conn_use_tls(), else NULL */
};

/* The largest reply payload lmbench reads: heartbeat and checkout replies
 * are far smaller (a checkout reply carries one license line of at most
 * LM_LINE_MAX bytes).  A small reader keeps 50,000 idle connections
 * cheap. */
#define LB_REPLY_MAX 8192

/* Every connection started from now on speaks TLS (core/tls_conn.h) and
 * is connected only once the server proved the key pin (NULL: any key).
 * Returns 0 or LMC_ENOMEM. */
int lb_conn_use_tls(const uint8_t *pin);

/* Connects to addr, from src when not NULL (a loopback alias; the port is
 * still picked by the kernel at connect time).  Returns 0 (connected or
 * closed will follow) or a libuv error (nothing will follow). */
int lb_conn_start(struct lb_conn *c, uv_loop_t *loop, const struct sockaddr_in *addr,
                  const struct sockaddr_in *src, const struct lb_conn_cbs *cbs, void *data);
/* Packs e as one frame and queues it.  Returns 0, or an error after which
 * the connection is closing. */
int lb_conn_send(struct lb_conn *c, const Lm__Envelope *e);
/* Closes the connection; closed(c, 0) follows.  Safe in any state. */
void lb_conn_close(struct lb_conn *c);

#endif
