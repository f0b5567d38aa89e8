/* How lmutil's server commands ask a server (tools/lmutil_admin.c): find
 * the servers of a source, open a connection, say Hello, send one request
 * and wait for its answer, following a follower to the leader. */
#ifndef LM_LMUTIL_ADMIN_H
#define LM_LMUTIL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "client/source.h"
#include "proto/frame_conn.h"

/* How long a request may wait for its answer, unless it says otherwise. */
#define LM_ADMIN_CALL_TIMEOUT_MS 5000

/* An admin key to sign requests with (lmutil_admin_key.c): LM_ADMIN_KEY
 * names its file. */
struct lm_admin_signer {
	char name[LM_ADMIN_KEY_NAME_MAX + 1];
	EVP_PKEY *key;
};
int lm_admin_signer_load(struct lm_admin_signer *sg, const char *path, char *err, size_t errsize);
void lm_admin_signer_free(struct lm_admin_signer *sg);
/* Signs LM_ADMIN_SIGNED_PREFIX, nonce and the packed request. */
int lm_admin_sign(const struct lm_admin_signer *sg, const uint8_t *nonce, const uint8_t *req,
                  size_t len, uint8_t sig[LM_SIG_LEN]);

/* On c, open to a server and past Hello: when the server has an admin
 * socket on this machine and the same server answers there, c moves to
 * it (lmd trusts the socket's root and admin group, never an address).
 * Returns true when it moved. */
bool lm_admin_use_socket(struct lm_frame_conn *c, size_t reply_max, unsigned timeout_ms);

/* The servers of source (NULL: LM_LICENSE_FILE) into list, and their
 * pinned keys for lm_admin_connect().  Reports what is wrong
 * (tools/report.h) and returns -1 when there is none. */
int lm_admin_load_servers(const char *source, struct lm_source *list);

/* Connects to a's client port and says Hello, over TLS when the server's
 * key is pinned by the license file lmutil was given (or LMC_TLS asks);
 * the connection is open only on success (lm_frame_conn_greet). */
int lm_admin_connect(struct lm_frame_conn *c, const struct lm_address *a, size_t reply_max,
                     unsigned timeout_ms);

/* Opens a connection to a, says Hello and sends req, waiting up to
 * timeout_ms for the answer.  Returns as lm_frame_conn_call; the connection
 * is closed on return unless *reply is set. */
int lm_admin_ask_within(struct lm_frame_conn *c, const struct lm_address *a,
                        const Lm__Envelope *req, Lm__Envelope **reply, size_t reply_max,
                        unsigned timeout_ms);
/* lm_admin_ask_within with LM_ADMIN_CALL_TIMEOUT_MS. */
int lm_admin_ask(struct lm_frame_conn *c, const struct lm_address *a, const Lm__Envelope *req,
                 Lm__Envelope **reply, size_t reply_max);

/* Sends req to the leader: the first server that answers, or the one a
 * follower names.  Reports each failure; returns 0 with *reply (and c
 * open) or -1. */
int lm_admin_ask_leader(const struct lm_source *list, const Lm__Envelope *req,
                        struct lm_frame_conn *c, Lm__Envelope **reply);

#endif
