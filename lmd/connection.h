/* lmd's connection layer: client connections, the frames they carry, the
 * replies sent back, and the commit of the commands their requests make.
 *
 *   connection.c         accepting, reading frames (proto's frame reader),
 *                        dispatching each request (dispatch.h), the link
 *                        between a connection and its session, the sweep
 *                        of connections that hold a slot for nothing
 *   connection_write.c   replies and error replies
 *   connection_commit.c  a request's commands through the cluster
 *
 * A connection handles one request at a time: while a command is being
 * committed it stops reading, which bounds what a client can queue on the
 * server and keeps each session's requests in order (the pool deduplicates
 * only a session's last request id).  A reply that grants or returns a seat
 * is sent only from the commit callback, once the command is durable
 * (DESIGN.md §2.6).  The handlers (requests.c, admin.c) use this header;
 * it knows nothing of them. */
#ifndef LM_CONNECTION_H
#define LM_CONNECTION_H

#include <stdbool.h>
#include <stdint.h>

#include "lmd/command.h"
#include "lmd/server.h"
#include "proto/frame.h"

#define LM_CONNECTION_HANDLES_MAX LM_POOL_HANDLES_PER_SESSION_MAX

/* What a client port connection speaks, known from its first byte
 * (core/tls.h); the admin socket's are plaintext from the start. */
enum lm_connection_transport {
	LM_CONNECTION_UNDECIDED,
	LM_CONNECTION_PLAINTEXT,
	LM_CONNECTION_TLS, /* tls holds its state */
};

/* Allowed moves: HELLO -> READY (Hello said), either -> CLOSING. */
enum lm_connection_state {
	LM_CONNECTION_HELLO, /* waiting for Hello */
	LM_CONNECTION_READY, /* said Hello; may open a session or ask for status */
	LM_CONNECTION_CLOSING,
};

struct lm_connection {
	struct lm_server *s;
	/* A TCP client, or a peer of the admin socket (admin_socket.c). */
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} io;
	struct lm_connection *prev, *next;
	enum lm_connection_state state;
	enum lm_connection_transport transport;
	/* TLS state (core/tls_conn.h), only on TLS connections: plaintext ones
	 * pay one pointer.  Counted in s->tls_handshakes until established. */
	struct lm_tls_conn *tls;
	bool tls_counted;
	/* Admin authority (admin_auth.h): a peer of the admin socket, who
	 * the kernel says it is and whether that makes it an admin; the
	 * challenge handed out for a signed request; the admin key that
	 * signed the request being handled ("" otherwise). */
	bool on_admin_socket;
	bool socket_admin;
	uint32_t peer_uid;
	char peer_who[96];
	bool has_challenge;
	uint8_t challenge[LM_ADMIN_NONCE_LEN];
	char signed_by[LM_ADMIN_KEY_NAME_MAX + 1];
	bool busy;     /* a command of this connection is being committed */
	bool closed;   /* uv_close done */
	unsigned refs; /* pending callbacks that will touch this struct */
	bool counted;  /* counted in s->peers under peer_key */
	uint8_t peer_key[16];
	uint64_t accepted_ms;
	uint64_t active_ms;        /* uv_now() of the last complete frame */
	uint64_t frame_started_ms; /* uv_now() when the partial frame began, 0: none */
	/* The attached session, 0 if none.  The link is two-way (the live
	 * session's conn points back here) and only lm_connection_bind() sets
	 * it; every path that ends either side clears both (connection.c). */
	uint64_t session_id;
	uint64_t request_id; /* of the request in flight */
	char peer[64];
	/* Identity from Hello. */
	char user[LM_WIRE_USER_MAX + 1];
	char host[LM_WIRE_HOST_MAX + 1];
	char display[LM_WIRE_DISPLAY_MAX + 1];
	char lock_code[LM_WIRE_LOCKCODE_MAX + 1];
	char app_version[LM_WIRE_VERSION_MAX + 1];
	char project[LM_WIRE_PROJECT_MAX + 1]; /* LM_PROJECT, "" when unset */
	char ip[LM_WIRE_IP_MAX + 1];           /* the peer's address, without port */
	uint32_t pid;
	/* Bytes of a frame not yet complete, or frames received while busy,
	 * counted in s->pending_total. */
	struct lm_frame_reader reader;
	/* Commands of the request in flight not yet committed (several for
	 * an lmremove by user), whether one of them failed, and the seats
	 * they returned. */
	unsigned outstanding;
	bool request_failed;
	unsigned affected;
};

/* ---- For the daemon (connection.c) ---- */

void lm_connection_accept(struct lm_server *s);
/* A connection on the admin socket (admin_socket.c); identify names its
 * peer from the socket's descriptor (admin_auth.h) before anything is read. */
typedef void (*lm_connection_identify_fn)(struct lm_connection *c, int fd);
void lm_connection_accept_admin(struct lm_server *s, lm_connection_identify_fn identify);
/* Closes connections that hold a slot and memory for nothing. */
void lm_connection_sweep(struct lm_server *s);
/* Closes every connection, first telling each client code and why: when
 * this node stops being the leader (clients must reconnect to the new one)
 * and when the server stops. */
void lm_connection_close_all(struct lm_server *s, int code, const char *why);
/* The session of c ended on the server (expired): c is told and closed. */
void lm_connection_detach(struct lm_connection *c);

/* ---- For the handlers ---- */

void lm_connection_close(struct lm_connection *c);
/* Attaches the live session to c, first detaching c from its earlier
 * session and the session from its earlier connection (which is closed:
 * the client reconnected).  NULL when out of memory. */
struct lm_live_session *lm_connection_bind(struct lm_connection *c, uint64_t session_id);
/* The request in flight is answered: read the next one. */
void lm_connection_finish_request(struct lm_connection *c);
void lm_connection_unref(struct lm_connection *c);

/* Replies (connection_write.c).  close_after closes c once it is sent.
 * On a TLS connection every frame is encrypted first. */
void lm_connection_send(struct lm_connection *c, const Lm__Envelope *e, bool close_after);
void lm_connection_send_error(struct lm_connection *c, uint64_t request_id, int code,
                              const char *message, bool close_after);
/* Sends what TLS has for the network (handshake messages, records,
 * alerts); closes c once sent when close_after (connection_write.c). */
void lm_connection_flush_tls(struct lm_connection *c, bool close_after);
/* Where to go when this server cannot serve: the leader, or nobody yet. */
void lm_connection_send_not_serving(struct lm_connection *c, uint64_t request_id);
/* True when this server serves and the connection has a session; else
 * answers the client and returns false. */
bool lm_connection_need_session(struct lm_connection *c, const Lm__Envelope *env);

/* ---- Committing a request's commands (connection_commit.c) ---- */

struct lm_request;
/* Called once the command of p committed; open says whether the client can
 * still be answered.  Not called when the outcome is unknown. */
typedef void (*lm_request_done_fn)(struct lm_request *p, struct lm_pool_result *res, bool open);

/* A command being committed for a client request. */
struct lm_request {
	struct lm_connection *c;
	uint64_t request_id;
	uint64_t session_id;
	lm_request_done_fn done;
	uint64_t received_ns; /* uv_hrtime() when read, for the latency metric */
	uint64_t handle;
	char feature[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];
	unsigned count;
	uint8_t secret[LM_SESSION_SECRET_LEN];
	/* Checkout: the client's nonce, signed into the grant (core/grant.h). */
	bool has_nonce;
	uint8_t nonce[LM_WIRE_NONCE_LEN];
};

/* A request for the envelope's request id, or NULL after answering the
 * client that the server is out of memory. */
struct lm_request *lm_request_new(struct lm_connection *c, const Lm__Envelope *env,
                                  lm_request_done_fn done);
/* Proposes cmd for p (the caller releases cmd after): the connection stops
 * reading until every command of the request has committed.  On failure p
 * is freed, the client answered (unless other commands of the request are
 * still pending) and the code returned. */
int lm_request_submit(struct lm_request *p, const struct lm_command *cmd);

#endif
