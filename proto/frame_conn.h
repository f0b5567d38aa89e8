/* A blocking frame connection to one license server: connect with a
 * timeout, send one frame, receive one frame by a deadline.
 *
 * Used by liblmc's session thread (client/session_thread.c), which polls
 * c->fd itself, by the lmutil admin commands, which call
 * lm_frame_conn_call() once per request, and by lmd's bootstrap, which asks
 * its peers from the thread pool (lmd/bootstrap.c).  Nothing here retries or
 * fails over: that is the session's job.
 *
 * Transport failures and server refusals are told apart by *reply: a
 * function that returns a negative code with *reply NULL failed to talk to
 * the server (LMC_ENOSERVER: cannot connect or the connection broke,
 * LMC_ETIMEDOUT, LMC_EPROTO / LMC_ETOOLARGE: the server sent a bad frame;
 * the connection is unusable after any of them); with *reply set, the
 * server answered with an ErrorReply carrying that code.  Either way a
 * sentence naming the server is left in c->error. */
#ifndef LM_FRAME_CONN_H
#define LM_FRAME_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/limits.h"
#include "proto/address.h"
#include "proto/arena.h"
#include "proto/frame.h"

/* How a connection is protected (lm_frame_conn_secure()). */
enum lm_frame_security {
	LM_FRAME_PLAINTEXT,
	LM_FRAME_TLS_UNPINNED, /* encrypted, but the server proved no pinned key */
	LM_FRAME_TLS_PINNED,   /* encrypted to the key its SERVER line pins */
};

/* When a client speaks TLS (LMC_TLS): always to a server whose key is
 * pinned, whatever is asked (no downgrade); to the others only when asked,
 * and "require" refuses them. */
enum lm_frame_tls_use {
	LM_FRAME_TLS_WHEN_PINNED, /* LMC_TLS unset or "off" */
	LM_FRAME_TLS_ON,          /* "on": unpinned servers too, without authentication */
	LM_FRAME_TLS_REQUIRE,     /* "require": pinned servers only */
};

struct lm_frame_conn {
	int fd; /* -1 when closed */
	/* TLS over fd once lm_frame_conn_secure() started it, else NULL. */
	SSL *tls;
	enum lm_frame_security security;
	struct lm_address addr;
	char name[LM_ADDRESS_TEXT_MAX]; /* "port@host", for messages */
	struct lm_frame_reader reader;
	void *arena_block;
	struct lm_arena arena;
	uint8_t *out; /* the last frame sent, grown as needed */
	size_t outcap;
	/* The connection's name and what went wrong: a server's whole
	 * ErrorReply text fits (an lmreread refusal lists an options file's
	 * errors). */
	char error[LM_WIRE_ADDRESS_MAX + LM_WIRE_TEXT_MAX + 8];
	char io_error[160]; /* why the last read or write failed */
	/* From the last ErrorReply received: its "port@host" leader, or "". */
	char leader[LM_WIRE_ADDRESS_MAX + 1];
	/* From the HelloReply: the server's cluster id, when it said. */
	uint8_t cluster_id[LM_CLUSTER_ID_SIZE];
	bool has_cluster_id;
	/* From the HelloReply: the server's admin socket ("" when it has
	 * none) and its process's instance id. */
	char admin_socket[LM_ADMIN_SOCKET_PATH_MAX + 1];
	uint8_t instance[LM_ADMIN_INSTANCE_LEN];
	bool has_instance;
	/* Why lm_frame_conn_open_unix() could not connect (EACCES: the
	 * socket's mode keeps this user out), else 0. */
	int connect_errno;
};

/* Milliseconds of a monotonic clock, for deadlines. */
int64_t lm_clock_ms(void);

/* Connects to a within timeout_ms (each address the name resolves to is
 * tried in turn until the time is up), with TCP_NODELAY, for replies of up
 * to reply_max bytes of payload (LM_FRAME_MAX, or LM_FRAME_REPLY_MAX for a
 * status reply).  Returns 0, LMC_ENOSERVER (name unknown, refused,
 * unreachable), LMC_ETIMEDOUT or LMC_ENOMEM; on failure c needs no close. */
int lm_frame_conn_open(struct lm_frame_conn *c, const struct lm_address *a, size_t reply_max,
                       unsigned timeout_ms);
/* Connects to the Unix domain socket at path (lmd's admin socket), naming
 * the connection name in messages. */
int lm_frame_conn_open_unix(struct lm_frame_conn *c, const char *path, const char *name,
                            size_t reply_max);
/* Reads LMC_TLS's value (NULL: unset) into *use.  Returns 0 or LMC_EINVAL. */
int lm_frame_conn_tls_use(const char *text, enum lm_frame_tls_use *use);
/* Starts TLS on the connection just opened, before anything is sent, when
 * use and pin (the server key its SERVER line pins, NULL when none) call
 * for it (enum lm_frame_tls_use); with a pin the server must prove that
 * key.  Returns 0 (c->security says what was done), LMC_ETLS (no TLS
 * server there), LMC_EKEYPIN (another key answered, or none is pinned and
 * use is "require"), LMC_ETIMEDOUT or LMC_ENOMEM, with c->error set; the
 * connection is unusable after a failure. */
int lm_frame_conn_secure(struct lm_frame_conn *c, enum lm_frame_tls_use use, const uint8_t *pin,
                         unsigned timeout_ms);

struct lm_identity;
/* Connects to a, starts TLS as use and pin say (lm_frame_conn_secure),
 * and says Hello as id (NULL: this process), each step within timeout_ms;
 * a server that answers a plaintext Hello with LMC_ENEEDTLS is asked
 * again over TLS, unpinned.  Returns as lm_frame_conn_hello(), with c
 * open on success and closed (c->error set) on failure. */
int lm_frame_conn_greet(struct lm_frame_conn *c, const struct lm_address *a, size_t reply_max,
                        unsigned timeout_ms, enum lm_frame_tls_use use, const uint8_t *pin,
                        const struct lm_identity *id);

/* Moves the open connection from into to (closing what to held): the arena
 * points at itself, so a plain struct copy would not do.  Whatever the last
 * receive returned is gone. */
void lm_frame_conn_move(struct lm_frame_conn *to, struct lm_frame_conn *from);
/* Closes the socket and frees the buffers; safe on a closed connection. */
void lm_frame_conn_close(struct lm_frame_conn *c);

/* Sends e as one frame, by the monotonic deadline (lm_clock_ms() based). */
int lm_frame_conn_send(struct lm_frame_conn *c, const Lm__Envelope *e, int64_t deadline);

/* Receives the next frame, waiting until the deadline; a deadline in the
 * past only takes what has already arrived.  *env points into the
 * connection's arena and stays valid until the next receive.  Returns 0,
 * LMC_ETIMEDOUT (nothing complete yet: the connection stays usable), or a
 * transport error. */
int lm_frame_conn_recv(struct lm_frame_conn *c, Lm__Envelope **env, int64_t deadline);

/* Sends req and waits up to timeout_ms for the next frame, which must
 * answer req's request_id.  Returns 0 with *reply set, the code of an
 * ErrorReply (with *reply set, c->error the server's message and c->leader
 * its leader hint), or a transport error with *reply NULL. */
int lm_frame_conn_call(struct lm_frame_conn *c, const Lm__Envelope *req, Lm__Envelope **reply,
                       unsigned timeout_ms);

/* Who this process is, as the Hello tells the server. */
struct lm_identity {
	char user[LM_WIRE_USER_MAX + 1];
	char host[LM_WIRE_HOST_MAX + 1];
	char display[LM_WIRE_DISPLAY_MAX + 1]; /* "" when there is none */
	uint32_t pid;
	char lock_code[LM_LOCKCODE_TEXT_MAX]; /* "" when no criterion is readable */
	char app_version[LM_WIRE_VERSION_MAX + 1];
	char project[LM_WIRE_PROJECT_MAX + 1]; /* LM_PROJECT, "" when unset */
};

/* Fills id for this process: the user of geteuid(), gethostname(), the
 * DISPLAY variable (else the pid stands for it), the LM_PROJECT variable
 * (FlexLM's: options files' PROJECT rules name it), this machine's lock code,
 * and app_version (NULL: none).  Characters the wire does not accept are
 * replaced with '?'.  Returns 0 or LMC_EINVAL (app_version not a printable
 * word of at most LM_WIRE_VERSION_MAX characters). */
int lm_frame_conn_identity(struct lm_identity *id, const char *app_version);

/* The Hello exchange, first on every connection; id NULL means
 * lm_frame_conn_identity(NULL app_version).  Returns as lm_frame_conn_call() does. */
int lm_frame_conn_hello(struct lm_frame_conn *c, const struct lm_identity *id, unsigned timeout_ms);

#endif
