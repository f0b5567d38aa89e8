/* What the key-center commands of lmvendor share (lmvendor_center*.c):
 * finding and opening the store, checking values typed by people, and the
 * entitlement's terms.  The store itself is vendor/keycenter.h. */
#ifndef LM_LMVENDOR_CENTER_H
#define LM_LMVENDOR_CENTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "vendor/keycenter.h"

/* The longest site or order number, company, contact, comment. */
#define KC_NUMBER_MAX 32
#define KC_TEXT_MAX   200
/* The most authorization codes one entitlement can be split into, and the
 * largest quantity of one entitlement. */
#define KC_QUANTITY_MAX 1000000

/* Opens the store named by --store (store_flag) or LMVENDOR_STORE; create
 * makes a new one.  Returns 0, or 1 after reporting. */
int kc_open(struct lm_kc *kc, const char *store_flag, bool create);
/* Reports kc's last failure with code rc and returns 1; aborts the open
 * transaction. */
int kc_fail(struct lm_kc *kc, int rc);

/* Checks a value typed by a person before it is stored or printed in a
 * license: not empty, at most max bytes, no control characters, and no
 * double quote (it ends up in KEY="value" fields).  number: letters,
 * digits, '-', '_' and '.' only.  Returns 0, or LMVENDOR_EXIT_USAGE after
 * saying what is wrong. */
int kc_check_text(const char *what, const char *value, size_t max);
int kc_check_number(const char *what, const char *value);
/* A count from 1 (0 when zero_ok) up to KC_QUANTITY_MAX; -1 after saying
 * what is wrong. */
long kc_parse_count(const char *what, const char *text, bool zero_ok);

/* The last day an entitlement (rec, with id) may be used: its own end or
 * that of its latest renewal (LM_DATE_PERMANENT when perpetual), and the
 * latest maintenance end (LM_DATE_NONE when none).  Returns 0 or a
 * negative LMC_E*. */
int kc_term(struct lm_kc *kc, json_t *ent, int32_t *end, int32_t *maintenance);

/* The license types an order line may name: concurrent, named-user, and
 * two kinds of authorized-user license (node-locked, one per machine).
 * "authorized-user" is right to copy (a code installs on as many machines
 * as its quantity; the meaning it had before single copy existed, so old
 * stores read the same), "authorized-user-single" is single copy (each
 * code is good for one machine).  "authorized-user-copy" is accepted when
 * typed and stored as "authorized-user". */
#define KC_TYPE_SINGLE_COPY "authorized-user-single"
/* The stored spelling of a type as typed, or NULL when it is none. */
const char *kc_type_canonical(const char *typed);
bool kc_type_node_locked(const char *type);
bool kc_type_single_copy(const char *type);
/* "single copy", "right to copy", or NULL for a type not authorized-user. */
const char *kc_type_copies(const char *type);

/* Today, as the key center counts terms: lm_date_today(), or in builds
 * configured with --enable-test-hooks the day LMVENDOR_TODAY names, so
 * that a test can see a term run out. */
int32_t kc_today(void);

/* An authorization code as typed (its check symbol checked), normalised
 * into out: 0, or 1 after reporting. */
int kc_parse_auth(const char *text, char *out, size_t size);

/* How many times a year one code's activations may be returned (moved to
 * another machine), unless the vendor gives another limit. */
#define KC_REHOSTS_PER_YEAR 4

/* What lmvendor serve asks of the commands, the documents they print
 * with --json: each returns 0 with *answer (a new reference), or non-zero
 * after lm_report_fail (lm_report_last has the code and sentence).  The
 * store's open transaction is theirs. */
/* activate: req is an activation request as `lmutil activate-request`
 * writes it. */
int kc_activate_request(struct lm_kc *kc, json_t *req, EVP_PKEY *key, json_t **answer);
/* inventory --site site (by: LM_DATE_NONE, or the --expiring day). */
int kc_inventory(struct lm_kc *kc, const char *site, int32_t by, json_t **answer);

/* authcode return: gives back what the host of locks (one lock code, or a
 * triad's three) holds from code (count, or all when count is 0), at most
 * rehost_limit times in 365 days per code. */
/* --rehost-limit N (0 to 1000): 0, or LMVENDOR_EXIT_USAGE after saying so. */
int kc_parse_rehost_limit(const char *text, int *out);
int kc_return(struct lm_kc *kc, const char *code, const char *const *locks, int nlocks, long count,
              int rehost_limit, json_t **answer);

/* Site members (lmvendor_center_member.c).  kc_check_email: a plain
 * address (local@domain: no spaces, quotes or angle brackets); 0, or
 * LMVENDOR_EXIT_USAGE after saying what is wrong.  kc_check_rights:
 * "admin" or "member", likewise. */
int kc_check_email(const char *what, const char *value);
int kc_check_rights(const char *value);
/* member add (active at once), request (pending) or approve (pending to
 * active, by an active admin of the site; by NULL: the vendor approves)
 * of email at site, in its own write transaction: 0 with *answer (the
 * member record, a new reference), or 1 after reporting (LMC_EINVAL: no
 * such site, or the member's state does not allow it; LMC_EDENIED: by is
 * not an admin of the site), nothing changed. */
int kc_member_change(struct lm_kc *kc, const char *verb, const char *site, const char *email,
                     const char *name, const char *rights, const char *by, json_t **answer);

/* A customer's proved return (a request of `lmutil deactivate`,
 * tools/lmutil_activate_proof.h): checks the proof against the host's
 * return key and gives back everything the host holds, from every code,
 * each within rehost_limit returns a year; the host's return key is
 * forgotten, so that the request counts once.  Its own write
 * transaction: 0 with *answer, or 1 after reporting (LMC_ESYNTAX: not a
 * return request; LMC_EINVAL: no such host, returned already; LMC_EDENIED:
 * the proof does not hold; LMC_ELIMIT), nothing changed. */
int kc_deactivate(struct lm_kc *kc, json_t *req, int rehost_limit, json_t **answer);
/* fulfil of a return request: kc_deactivate on the store, printed. */
int kc_fulfil_return(const char *store, json_t *req, int rehost_limit);

/* Makes partner the partner of record of order (a record) from day on,
 * closing the history's current entry: 0, LM_KC_NOTFOUND when partner is
 * the current one already (nothing changed), or LMC_EIO for a history that
 * is not a list (lmvendor_center_partner.c). */
int kc_partner_set(json_t *order, const char *partner, int32_t day);
/* order partner NUMBER [--partner NAME]: shows the partner of record and
 * its history, after changing it when partner is given.  Returns 0, or 1
 * after reporting. */
int kc_order_partner(struct lm_kc *kc, const char *number, const char *partner);

/* 0 when email is an active member of site (with rights, when not NULL:
 * "admin" or "member"), LM_KC_NOTFOUND when not, or a negative LMC_E*;
 * in the open transaction (lmvendor_center_member.c). */
int kc_member_active(struct lm_kc *kc, const char *site, const char *email, const char *rights);

/* order proof NUMBER [--pdf FILE]: prints the order's proof of
 * entitlement, and draws it into the PDF file when pdf is given
 * (lmvendor_center_proof.c).  Returns 0, or 1 after reporting. */
int kc_order_proof(struct lm_kc *kc, const char *number, const char *pdf);

/* The outbox (lmvendor_center_outbox.c).  kc_outbox_check: dir (NULL: no
 * --outbox) is a directory this user can write to; 0, or non-zero after
 * reporting, before the command changes anything.  kc_outbox_send writes
 * one message of kind ("welcome", "authorization", "renewal") to the
 * contacts of site that handle it, as DIR/<time>-<kind>-<random>.eml, its
 * path into path (empty when the site has no contact: then it only says
 * so).  Returns 0, or 1 after reporting. */
int kc_outbox_check(const char *dir);
/* The To: addresses of a message of kind to site (a record): the
 * contacts of the roles that handle it, each once, or the primary
 * contact; empty when the site has none. */
void kc_outbox_recipients(json_t *site, const char *kind, char *to, size_t size);
int kc_outbox_send(struct lm_kc *kc, const char *dir, const char *site, const char *kind,
                   const char *subject, const char *body, char *path, size_t path_size);

/* A renewal of entitlement renews of site: a new entitlement of order,
 * beside the old one and listed in its renewed_by, its term running from
 * the day after the current end to until (maintenance_until: LM_DATE_NONE
 * when none); its id is appended to ids.  In the open write transaction;
 * LMC_EINVAL (sentence in kc->error) for an unknown entitlement, a
 * perpetual one, or an until that is not after the current end
 * (lmvendor_center_order.c). */
int kc_renewal_add(struct lm_kc *kc, const char *site, const char *order, const char *renews,
                   int32_t until, int32_t maintenance_until, json_t *ids);

/* The signing key of --key flag (or LMVENDOR_KEY): 0, or non-zero after
 * reporting. */
int kc_load_key(const char *flag, EVP_PKEY **key);
/* Re-issues, in the caller's open write transaction, the license of host
 * (a host record) from its authorization code code with the terms as they
 * now stand, as `activate --count 0` would; the signed text into *license
 * (caller frees).  Returns 0, or non-zero after reporting and aborting
 * the transaction (lmvendor_center_activate.c). */
int kc_reissue(struct lm_kc *kc, const char *code, json_t *host, EVP_PKEY *key, char **license);

/* The license last issued to the host of locks (one lock code, or a
 * triad's three) holding seats of code (normalised), the newest dates of a
 * renewal included: 0 with *answer (site, auth, feature, version, type,
 * locks, count, expiry, issued, license), or 1 after reporting (LMC_EINVAL:
 * no such host).  Its own read transaction (serve's POST /v1/renewed). */
int kc_host_license(struct lm_kc *kc, const char *code, const char *const *locks, int nlocks,
                    json_t **answer);

/* An lm_kc_scan visitor appending each record to the JSON array arg. */
int kc_collect(void *arg, const char *key, json_t *value);

/* A date as stored and printed (YYYY-MM-DD, "permanent"). */
json_t *kc_date_json(int32_t day);
/* Reads a stored date; LM_DATE_NONE when absent. */
int32_t kc_date_of(json_t *rec, const char *field);

#endif
