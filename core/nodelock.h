/* Whether a license line can be used here and now, with no server: the
 * checks liblmc makes for node-locked (uncounted) licenses and that
 * `lmutil lmdiag` explains. */
#ifndef LM_NODELOCK_H
#define LM_NODELOCK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/license.h"
#include "core/lockcode.h"
#include "core/machine.h"

/* The checks that do not depend on where the seat is served: START, expiry
 * and version.  Returns 0 or LMC_ENOTSTARTED / LMC_EEXPIRED / LMC_EVERSION
 * with a sentence in reason. */
int lm_license_check_terms(const struct lm_license *l, const char *version, int32_t today,
                           char *reason, size_t size);

/* Checks one line for a request of version at day today on machine here:
 * signature, START, expiry, version, then the HOSTID lock code within the
 * line's tolerance.  Counted lines are LMC_ECOUNTED (they need lmd).
 * Returns 0 or the first failing LMC_E* code with a sentence in reason. */
int lm_nodelock_check_line(const struct lm_license_file *f, const struct lm_license *l,
                           EVP_PKEY *key, const struct lm_machine *here, const char *version,
                           int32_t today, char *reason, size_t size);

/* Checks every FEATURE/INCREMENT line named feature and returns 0 with
 * *usable set to the first usable one, or the most telling failure among
 * them (a wrong host says more than an expired copy of an old line). */
int lm_nodelock_check(const struct lm_license_file *f, EVP_PKEY *key, const struct lm_machine *here,
                      const char *feature, const char *version, int32_t today,
                      const struct lm_license **usable, char *reason, size_t size);

/* How far through the checks a line failing with code got (-1 for codes
 * the checks do not produce): a larger stage explains a refusal better. */
int lm_nodelock_stage(int code);

#endif
