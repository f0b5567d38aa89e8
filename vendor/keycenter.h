/* The key center's store: what the vendor sold and what was made of it,
 * in one LMDB file (MDB_NOSUBDIR: the path names the data file, LMDB keeps
 * its lock file beside it as PATH-lock).
 *
 * Records are JSON objects (jansson) under text keys, so that a field
 * added by a later release (a return, a rehost count, an audit entry of
 * the online API) is read by this one as an unknown member and kept:
 *
 *   meta                 {"format":"lmd-keycenter","version":1}
 *   counter/<name>       {"next":N}: the numbers of entitlements (E1, E2..)
 *   site/<number>        a site: company, contacts by role
 *   order/<number>       an order: site, PO, date, entitlement ids
 *   entitlement/<id>     one entitlement line (a bundle's components each
 *                        get their own)
 *   code/<code>          an authorization code: entitlement, quantity,
 *                        remaining
 *   host/<site>/<feature>/<version>/<locks>
 *                        what one host (or triad: its lock codes sorted,
 *                        joined with '+') holds of a product: the total,
 *                        the codes it came from, the license last issued
 *
 * What the next steps add fits the same shape: the online API's member
 * tokens and audit trail (member/<site>/<name>, audit/<time>/<n>), returns
 * and rehosts (fields of the host record and a return/<id> record, a
 * rehost count on the code), renewal notices and the outbox (a field on
 * the site's contacts).
 *
 * Every command is one transaction: it reads and writes through
 * lm_kc_get/lm_kc_put between lm_kc_begin and lm_kc_commit, and a failure
 * anywhere ends in lm_kc_abort, leaving the file as it was.  LMDB
 * serialises writers across processes, so that two activations of one
 * code never both take its last unit.
 *
 * A file that is not an LMDB environment, an LMDB environment without the
 * meta record (lmd's own data store, say), a newer format, or a record
 * that is not a JSON object is refused with a sentence saying so; nothing
 * is written to it. */
#ifndef LM_KEYCENTER_H
#define LM_KEYCENTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define LM_KC_FORMAT  "lmd-keycenter"
#define LM_KC_VERSION 1
/* The largest store: far more than any vendor's order book (a record is a
 * few hundred bytes), small enough to map anywhere. */
#define LM_KC_MAP_SIZE (256u << 20)
/* The longest key. */
#define LM_KC_KEY_MAX 480

/* lm_kc_get's answer when there is no such record. */
#define LM_KC_NOTFOUND 1

struct MDB_env;
struct MDB_txn;

struct lm_kc {
	struct MDB_env *env;
	struct MDB_txn *txn;  /* the open transaction, or NULL */
	struct MDB_txn *held; /* lm_kc_hold's outer transaction, or NULL */
	unsigned dbi;
	char path[4096];
	char error[512]; /* the last failure, a sentence */
};

/* Opens (create: or makes) the store at path.  Returns 0, or a negative
 * LMC_E* with a sentence in kc->error; kc needs lm_kc_close either way. */
int lm_kc_open(struct lm_kc *kc, const char *path, bool create);
/* Aborts an open transaction and closes the environment. */
void lm_kc_close(struct lm_kc *kc);

/* A read (write false) or write transaction; one at a time. */
int lm_kc_begin(struct lm_kc *kc, bool write);
/* Commits the transaction: 0, or LMC_EIO (the transaction is gone). */
int lm_kc_commit(struct lm_kc *kc);
/* Ends the transaction, writing nothing; harmless without one. */
void lm_kc_abort(struct lm_kc *kc);

/* Holds the commits that follow until lm_kc_release: the caller (lmvendor
 * serve) wants a request's work and its audit entry on disk together, in
 * one commit and one fsync.  lm_kc_hold opens an outer write transaction;
 * while it is held, lm_kc_begin opens a child of it (a write transaction
 * even when a read one is asked for), lm_kc_commit folds the child into
 * it and lm_kc_abort drops the child alone, so that a command's refusal
 * still changes nothing and what it committed stays.  lm_kc_release
 * commits the outer transaction (commit true) or drops it; 0 or LMC_EIO
 * with kc->error. */
int lm_kc_hold(struct lm_kc *kc);
int lm_kc_release(struct lm_kc *kc, bool commit);

/* The record under key: 0 with *out a new reference, LM_KC_NOTFOUND, or a
 * negative LMC_E* (a record that is not a JSON object: the store is
 * corrupted). */
int lm_kc_get(struct lm_kc *kc, const char *key, json_t **out);
/* Writes value (borrowed) under key. */
int lm_kc_put(struct lm_kc *kc, const char *key, const json_t *value);
/* The next number of the counter name (1, 2, ...), counted in the store. */
int lm_kc_next(struct lm_kc *kc, const char *name, long long *out);

/* Calls fn for each record whose key starts with prefix, in key order;
 * fn's non-zero return stops the walk and is returned. */
typedef int (*lm_kc_visit_fn)(void *arg, const char *key, json_t *value);
int lm_kc_scan(struct lm_kc *kc, const char *prefix, lm_kc_visit_fn fn, void *arg);

/* Sets kc->error to the sentence and returns code: for the callers that
 * find a record inconsistent with the rest. */
__attribute__((format(printf, 3, 4))) int lm_kc_fail(struct lm_kc *kc, int code, const char *fmt,
                                                     ...);

/* Formats key into buf ("site/" "S100" ...); LMC_ETOOLARGE when it does
 * not fit LM_KC_KEY_MAX. */
__attribute__((format(printf, 3, 4))) int lm_kc_key(char *buf, size_t size, const char *fmt, ...);

#endif
