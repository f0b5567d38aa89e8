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

/* An lm_kc_scan visitor appending each record to the JSON array arg. */
int kc_collect(void *arg, const char *key, json_t *value);

/* A date as stored and printed (YYYY-MM-DD, "permanent"). */
json_t *kc_date_json(int32_t day);
/* Reads a stored date; LM_DATE_NONE when absent. */
int32_t kc_date_of(json_t *rec, const char *field);

#endif
