/* How lmutil's server commands ask a server (tools/lmutil_admin.c): find
 * the servers of a source, open a connection, say Hello, send one request
 * and wait for its answer, following a follower to the leader. */
#ifndef LM_LMUTIL_ADMIN_H
#define LM_LMUTIL_ADMIN_H

#include <stddef.h>

#include "client/source.h"
#include "proto/frame_conn.h"

/* How long a request may wait for its answer, unless it says otherwise. */
#define LM_ADMIN_CALL_TIMEOUT_MS 5000

/* The servers of source (NULL: LM_LICENSE_FILE) into list.  Reports what
 * is wrong (tools/report.h) and returns -1 when there is none. */
int lm_admin_load_servers(const char *source, struct lm_source *list);

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
