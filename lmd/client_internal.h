/* What lmd/client.c (connections, frames, the commit machinery),
 * lmd/requests.c (a session's requests) and lmd/admin.c (administrators'
 * requests) share about a client connection.  Private to lmd. */
#ifndef LM_CLIENT_INTERNAL_H
#define LM_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "lmd/server.h"
#include "proto/command.pb-c.h"
#include "proto/frame.h"

#define HANDLES_MAX LM_POOL_HANDLES_PER_SESSION_MAX

enum conn_state {
	CONN_HELLO, /* waiting for Hello */
	CONN_READY, /* said Hello; may open a session or ask for status */
	CONN_CLOSING,
};

struct lm_client {
	struct lm_server *s;
	uv_tcp_t tcp;
	struct lm_client *prev, *next;
	enum conn_state state;
	bool local;    /* peer on loopback: may use admin requests */
	bool busy;     /* a command of this connection is being committed */
	bool closed;   /* uv_close done */
	unsigned refs; /* pending callbacks that will touch this struct */
	bool counted;  /* counted in s->peers under peer_key */
	uint8_t peer_key[16];
	uint64_t accepted_ms;
	uint64_t active_ms;        /* uv_now() of the last complete frame */
	uint64_t frame_started_ms; /* uv_now() when the partial frame began, 0: none */
	/* The attached session, 0 if none.  The link is two-way (the live
	 * session's conn points back here) and only lm_client_bind() sets it;
	 * every path that ends either side clears both (client.c). */
	uint64_t session_id;
	uint64_t request_id; /* of the request in flight */
	char peer[64];
	/* Identity from Hello. */
	char user[LM_WIRE_USER_MAX + 1];
	char host[LM_WIRE_HOST_MAX + 1];
	char display[LM_WIRE_DISPLAY_MAX + 1];
	char lock_code[LM_WIRE_LOCKCODE_MAX + 1];
	char app_version[LM_WIRE_VERSION_MAX + 1];
	uint32_t pid;
	/* Bytes of a frame not yet complete, or frames received while busy. */
	uint8_t *pending;
	size_t pending_len, pending_cap;
	/* Commands of the request in flight not yet committed (several for
	 * an lmremove by user), whether one of them failed, and the seats
	 * they returned. */
	unsigned outstanding;
	bool request_failed;
	unsigned affected;
};

struct lm_request;
/* Called once the command of p committed; open says whether the client can
 * still be answered.  Not called when the outcome is unknown. */
typedef void (*lm_request_done_fn)(struct lm_request *p, struct lm_pool_result *res, bool open);

/* A command being committed for a client request. */
struct lm_request {
	struct lm_client *c;
	uint64_t request_id;
	uint64_t session_id;
	lm_request_done_fn done;
	uint64_t handle;
	char feature[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];
	unsigned count;
	uint8_t secret[LM_SESSION_SECRET_LEN];
};

/* A request for the envelope's request id, or NULL after answering the
 * client that the server is out of memory. */
struct lm_request *lm_request_new(struct lm_client *c, const Lm__Envelope *env,
                                  lm_request_done_fn done);
/* Proposes cmd for p: the connection stops reading until every command of
 * the request has committed.  On failure p is freed, the client answered
 * (unless other commands of the request are still pending) and the code
 * returned. */
int lm_request_submit(struct lm_request *p, Lmcmd__Command *cmd);
/* The request in flight is answered: read the next one. */
void lm_client_finish_request(struct lm_client *c);
void lm_client_unref(struct lm_client *c);

void lm_client_send(struct lm_client *c, const Lm__Envelope *e, bool close_after);
void lm_client_send_error(struct lm_client *c, uint64_t request_id, int code, const char *message,
                          bool close_after);
/* Where to go when this server cannot serve: the leader, or nobody yet. */
void lm_client_send_not_serving(struct lm_client *c, uint64_t request_id);
/* True when this server serves and the connection has a session; else
 * answers the client and returns false. */
bool lm_client_need_session(struct lm_client *c, const Lm__Envelope *env);

/* Attaches the live session to c, first detaching c from its earlier
 * session and the session from its earlier connection (which is closed:
 * the client reconnected).  NULL when out of memory. */
struct lm_live_session *lm_client_bind(struct lm_client *c, uint64_t session_id);

/* requests.c */
void lm_client_on_hello(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_session_open(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_checkout(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_checkin(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_session_close(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_heartbeat(struct lm_client *c, const Lm__Envelope *env);

/* admin.c */
void lm_client_on_status(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_remove(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_shutdown(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_reread(struct lm_client *c, const Lm__Envelope *env);
void lm_client_on_replace(struct lm_client *c, const Lm__Envelope *env);

#endif
