/* Lock codes: a printable fingerprint of one machine.
 *
 * A lock code records which criteria it was made from and a short digest of
 * each, so that a license bound to it still matches when a minority of the
 * criteria change (a replaced network card, a renamed host).
 *
 * Encoding (5-bit symbols, then code32's check symbol):
 *   symbol 0        format version (currently 1)
 *   symbols 1-2     10-bit mask of the criteria present (bit i = enum lm_criterion i)
 *   4 symbols       per present criterion, in enum order: the top 20 bits of
 *                   SHA-256("lmd-lockcode-v1:" name ":" value)
 * printed in groups of 4 symbols joined by hyphens.  What each criterion is
 * and where it is read on this machine: machine.h. */
#ifndef LM_LOCKCODE_H
#define LM_LOCKCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h" /* LM_LOCKCODE_TEXT_MAX, LM_CRIT_VALUE_MAX */

enum lm_criterion {
	LM_CRIT_MACHINE_ID,   /* /etc/machine-id */
	LM_CRIT_PRODUCT_UUID, /* /sys/class/dmi/id/product_uuid (root only) */
	LM_CRIT_MAC,          /* MAC addresses of physical network interfaces */
	LM_CRIT_HOSTNAME,     /* /proc/sys/kernel/hostname */
	LM_CRIT_DISK,         /* UUID of the filesystem mounted at / */
	LM_CRIT_CPU,          /* CPU vendor, family, model and name */
	LM_CRIT_COUNT
};

#define LM_LOCKCODE_VERSION 1

struct lm_lockcode {
	uint16_t present;               /* bit i set: criterion i recorded */
	uint32_t digest[LM_CRIT_COUNT]; /* 20-bit digests */
};

/* The digest a criterion with this raw value gets. */
uint32_t lm_criterion_digest(enum lm_criterion c, const char *value);

/* "machine_id", "product_uuid", "mac", "hostname", "disk", "cpu". */
const char *lm_criterion_name(enum lm_criterion c);

int lm_lockcode_format(const struct lm_lockcode *code, char *buf, size_t size);
/* Returns 0 or LMC_EBADCODE with a sentence in err. */
int lm_lockcode_parse(const char *text, struct lm_lockcode *code, char *err, size_t errsize);

/* LM_LOCK_TOLERANCE_DEFAULT: a strict majority of the licensed criteria
 * must match, i.e. at most (n-1)/2 of n may differ or be missing. */
#define LM_LOCK_TOLERANCE_DEFAULT (-1)

struct lm_lock_match {
	int licensed;       /* criteria in the licensed code */
	int matched;        /* of those, equal here */
	int allowed_misses; /* how many may differ */
	uint16_t differs;   /* present in both, digests differ */
	uint16_t missing;   /* licensed but not readable here */
	bool accepted;
};

/* Compares the code a license is bound to with this machine's code.
 * tolerance: how many licensed criteria may differ or be missing, or
 * LM_LOCK_TOLERANCE_DEFAULT. */
void lm_lockcode_match(const struct lm_lockcode *licensed, const struct lm_lockcode *here,
                       int tolerance, struct lm_lock_match *out);

#endif
