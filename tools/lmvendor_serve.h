/* What the files of `lmvendor serve` share (lmvendor_serve*.c): the key
 * center online.  lmvendor_serve.c is the HTTPS server and its routes,
 * lmvendor_serve_token.c the bearer tokens (`lmvendor token`) and the
 * audit trail (`lmvendor audit`), lmvendor_serve_limit.c the rate limits.
 *
 * Tokens and audit entries are records of the key-center store
 * (vendor/keycenter.h):
 *
 *   token/<sha256 of the token, hex>
 *                  {"id","role":"vendor"|"customer","site","name","created",
 *                   "last_used","revoked"}: the token itself is printed
 *                  once and never stored; a revoked token's record stays
 *                  (token list shows it) but no longer lets anyone in
 *   audit/<ms since 1970, 15 digits>/<n, 6 digits>
 *                  {"time","ip","who","method","path","status","outcome",
 *                   "message","auth"}: one per request, in time order */
#ifndef LM_LMVENDOR_SERVE_H
#define LM_LMVENDOR_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vendor/keycenter.h"

/* The longest request body: an activation request is a few hundred bytes. */
#define SERVE_BODY_MAX (64 * 1024)
/* A token: "lmk_" and 64 hex digits (32 random bytes). */
#define SERVE_TOKEN_PREFIX "lmk_"
#define SERVE_TOKEN_LEN    (4 + 64)

/* Who made a request: a token's holder, or nobody (role NULL). */
struct serve_caller {
	const char *role; /* "vendor", "customer", or NULL: no token */
	char id[17];      /* the token's id: the first 16 hex digits of its hash */
	char site[64];    /* a customer token's site */
	char name[128];
	char member[128]; /* the site member a customer token is bound to, or "" */
	char key[80];     /* the token's record: token/<sha256 hex> */
};

/* Looks the bearer token up in the store (its own read transaction):
 * 0 with *caller filled, LM_KC_NOTFOUND for a token the store does not
 * know, or a negative LMC_E* with kc->error. */
int serve_token_find(struct lm_kc *kc, const char *token, struct serve_caller *caller);

/* Appends one audit entry (its own write transaction, a child of the
 * request's held one in serve); entry is borrowed.
 * The token of caller (when there is one) gets its "last_used" time in
 * the same transaction.  Returns 0 or a negative LMC_E* with kc->error. */
int serve_audit(struct lm_kc *kc, json_t *entry, const struct serve_caller *caller);

/* The rate limit: a token bucket per client (a token's id, or an IP
 * address) of burst requests, refilled at per_minute a minute. */
struct serve_limit;
struct serve_limit *serve_limit_new(unsigned per_minute);
void serve_limit_free(struct serve_limit *limit);
/* Takes one request from client's bucket at now_ms: 0 when allowed, or
 * the seconds to wait (at least 1) before the next would be. */
unsigned serve_limit_take(struct serve_limit *limit, const char *client, uint64_t now_ms);

#endif
