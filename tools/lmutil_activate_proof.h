/* The proof of a customer's return request (lmutil deactivate), made on
 * the customer's machine and checked by the vendor's key center (lmvendor
 * fulfil, POST /v1/return): both tools link lmutil_activate_proof.c.
 *
 * Every license the key center issues carries a comment line
 *
 *   # lmd-return-key SITE/FEATURE/VERSION/LOCKS SECRET
 *
 * naming the host record it was issued under (LOCKS: the lock codes,
 * sorted, joined with '+') and a secret of 32 random bytes (64 hex
 * digits) made for that issue and kept in the host record.  A re-issue
 * makes a new one, a return forgets it.  The proof is the HMAC-SHA256,
 * keyed by the secret's text, of LM_RETURN_FORMAT, a newline, and the
 * request without its "proof" as jansson prints it compact with sorted
 * keys; 64 hex digits. */
#ifndef LM_LMUTIL_ACTIVATE_PROOF_H
#define LM_LMUTIL_ACTIVATE_PROOF_H

#include <jansson.h>

#define LM_RETURN_FORMAT     "lmd-return-request"
#define LM_RETURN_VERSION    1
#define LM_RETURN_KEY_PREFIX "# lmd-return-key "
#define LM_RETURN_KEY_HEX    64

/* The proof of req (its "proof" member left out) under secret, as 64 hex
 * digits and a NUL into out: 0, or -1 when it cannot be computed. */
int lm_return_proof(const json_t *req, const char *secret, char out[LM_RETURN_KEY_HEX + 1]);

#endif
