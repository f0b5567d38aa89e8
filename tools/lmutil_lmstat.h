/* lmutil lmstat and lmavail share how they ask the servers of a source for
 * their status (lmutil_lmstat.c) and what they learn of each server.
 * lmstat prints it in FlexLM's layout, which the monitors admins run on
 * lmstat read (lmutil_lmstat_flexlm.c, lmutil_lmstat_info.c,
 * tests/data/lmstat/MONITORS.md), in lmd's own extended one (--lmd: roles,
 * terms, lag, digests) or as JSON (lmutil_lmstat_lmd.c); lmavail counts
 * the free seats (lmutil_lmavail.c). */
#ifndef LM_TOOLS_LMUTIL_LMSTAT_H
#define LM_TOOLS_LMUTIL_LMSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/source.h"
#include "core/limits.h"
#include "proto/frame_conn.h"
#include "proto/lm.pb-c.h"

struct server_view {
	char address[LM_ADDRESS_TEXT_MAX];
	const char *role;
	bool asked; /* false: left out (lmstat -s naming another server) */
	bool up;
	int error; /* why a server asked did not answer (LMC_ETIMEDOUT...) */
	bool has_lag;
	uint64_t lag;           /* the leader's applied index minus this server's */
	Lm__ServerStatus *self; /* its own entry in its reply */
	Lm__StatusReply *reply;
	struct lm_frame_conn conn;
};

/* What to ask each server. */
struct lmstat_query {
	const char *feature; /* NULL: every feature */
	bool holders, digest;
	unsigned timeout_ms;     /* to connect, and again for each answer */
	const char *only_server; /* NULL: all; else port@host or host */
};

/* Asks the servers of list (one view each in v, list->nservers of them)
 * and returns the features as the leader sees them, else as any server
 * that answered does, or NULL when none did.  Free with lm_lmstat_close. */
const Lm__StatusReply *lm_lmstat_ask(const struct lm_source *list, struct server_view *v,
                                     const struct lmstat_query *q);
void lm_lmstat_close(struct server_view *v, size_t n);
/* Whether v is the server that name (port@host, or host) names. */
bool lm_lmstat_names(const struct server_view *v, const char *name);
/* The vendor the servers that answered serve ("lmd" when none did). */
const char *lm_lmstat_vendor(const struct server_view *v, size_t n);
/* The connect-and-answer timeout: FLEXLM_TIMEOUT (microseconds) as
 * FlexLM's clients read it, else 5 s. */
unsigned lm_lmstat_default_timeout_ms(void);
/* -t SECONDS: 1 to 3600 into *ms, or -1 (reported). */
int lm_lmstat_parse_timeout(const char *text, unsigned *ms);

/* FlexLM's lmstat layout, in parts.  The header: the copyright line, then
 * "Flexible License Manager status on DATE" and an empty line. */
void lm_lmstat_flexlm_header(void);
/* The license server block; with only a view named, its status line alone
 * (lmstat -s SERVER). */
void lm_lmstat_flexlm_servers(const struct server_view *v, size_t n);
/* The vendor daemon block. */
void lm_lmstat_flexlm_vendor(const struct server_view *v, size_t n);
/* "Users of" each feature, and the holders and reservations of those in
 * use.  A feature asked for (asked not NULL) but not served gets FlexLM's
 * "Cannot get users of" line. */
void lm_lmstat_flexlm_features(const struct server_view *v, size_t n, const Lm__StatusReply *r,
                               const char *asked);
/* lmstat -i: the table of the features (of feature only, when not NULL):
 * name, version, seats, vendor, expiry; with header, the copyright and
 * date lines first (-i alone). */
void lm_lmstat_flexlm_info(const Lm__StatusReply *r, const char *vendor, const char *feature,
                           bool header);
/* lmstat -v: the copyright line and "lmstat vX.Y.Z build N PLATFORM". */
void lm_lmstat_flexlm_version(void);
/* "Mon 11/30/2026 10:42" (with_year) or "Mon 11/30 10:42", local time. */
void lm_lmstat_flex_time(int64_t t, bool with_year, char *out, size_t size);
/* "31-dec-2027", or "permanent(no expiration date)". */
void lm_lmstat_flex_expiry(int32_t expiry, char *out, size_t size);
/* One word for the monitors that split on blanks: blanks and parentheses
 * become '_'; fallback when empty (the raw value is in --json). */
void lm_lmstat_one_word(const ProtobufCBinaryData *b, const char *fallback, char *out, size_t size);

/* lmd's own layout (--lmd) and JSON. */
void lm_lmstat_lmd_text(struct server_view *v, size_t n, const Lm__StatusReply *r, bool all);
int lm_lmstat_json(struct server_view *v, size_t n, const Lm__StatusReply *r);

/* lmutil_named.c: "<indent>named users: 2 of 5: alice, bob" for a pool
 * limited to named users or hosts; nothing for the others. */
void lm_lmstat_print_named(const Lm__FeatureStatus *f, const char *indent);

#endif
