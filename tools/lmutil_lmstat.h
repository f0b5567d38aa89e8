/* lmutil lmstat's two text layouts share what it learned of each server:
 * FlexLM's, which the monitors admins run on lmstat read
 * (lmutil_lmstat_flexlm.c, tests/data/lmstat/MONITORS.md), and lmd's own
 * extended one (--lmd: roles, terms, lag, digests). */
#ifndef LM_TOOLS_LMUTIL_LMSTAT_H
#define LM_TOOLS_LMUTIL_LMSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "proto/frame_conn.h"
#include "proto/lm.pb-c.h"

struct server_view {
	char address[LM_ADDRESS_TEXT_MAX];
	const char *role;
	bool up;
	bool has_lag;
	uint64_t lag;           /* the leader's applied index minus this server's */
	Lm__ServerStatus *self; /* its own entry in its reply */
	Lm__StatusReply *reply;
	struct lm_frame_conn conn;
};

/* FlexLM's lmstat layout: the header, the server and vendor daemon blocks,
 * and "Users of" each feature; with all, the holders and reservations. */
void lm_lmstat_flexlm(const struct server_view *v, size_t n, const Lm__StatusReply *r, bool all);

#endif
