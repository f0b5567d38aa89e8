/* A host id as a license line names it in HOSTID=: lmd's own lock code, or
 * one of the host id forms FlexLM license files have used for decades, so
 * that a vendor's existing node-locked lines keep working.
 *
 *   <lock code>           lmd's lock code (core/lockcode.h), matched with the
 *                         line's TOLERANCE
 *   ANY, DEMO             any machine
 *   ID=n                  any machine; the number only names the customer
 *                         (dashes in it are ignored)
 *   0050569a1b2c          an Ethernet (MAC) address, 12 hex digits; matched
 *                         against this machine's physical interfaces
 *   HOSTNAME=h            the host name (a fully qualified name matches the
 *                         machine whose short name is its first label)
 *   INTERNET=10.1.*.*     an IPv4 address of this machine; '*' matches any
 *                         octet
 *   USER=u                the login name of the user running the application
 *   DISPLAY=d             the X display ($DISPLAY), or /dev/tty without one
 *
 * A quoted list, HOSTID="a b c", names several: any one of them matching is
 * enough, as in FlexLM.  Forms that need hardware or a vendor's own code
 * (dongles, COMPOSITE=, VM_UUID=, disk serial numbers, 8-digit host id
 * numbers) are refused with a message saying so. */
#ifndef LM_HOSTID_H
#define LM_HOSTID_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"
#include "core/lockcode.h"
#include "core/machine.h"

enum lm_hostid_kind {
	LM_HOSTID_CODE,
	LM_HOSTID_ANY,
	LM_HOSTID_DEMO,
	LM_HOSTID_ID,
	LM_HOSTID_ETHER,
	LM_HOSTID_HOSTNAME,
	LM_HOSTID_INTERNET,
	LM_HOSTID_USER,
	LM_HOSTID_DISPLAY,
};

/* The longest host id item kept: "HOSTNAME=" and a host name. */
#define LM_HOSTID_TEXT_MAX (LM_HOST_MAX + 16)
/* Items in one HOSTID= list. */
#define LM_HOSTIDS_MAX 8

struct lm_hostid {
	enum lm_hostid_kind kind;
	struct lm_lockcode code;       /* LM_HOSTID_CODE */
	char text[LM_HOSTID_TEXT_MAX]; /* normalised, as the canonical form writes it */
};

struct lm_hostid_list {
	int n;
	struct lm_hostid ids[LM_HOSTIDS_MAX];
};

/* Reads a HOSTID= value: one host id, or several separated by spaces.
 * Returns 0, or LMC_EBADCODE / LMC_ETOOLARGE with why saying what is wrong
 * and what to write instead. */
int lm_hostid_parse(const char *value, struct lm_hostid_list *out, char *why, size_t size);

/* The normalised list, items joined by single spaces (what signatures
 * cover).  Returns 0, or LMC_ETOOLARGE when buf is too small. */
int lm_hostid_format(const struct lm_hostid_list *ids, char *buf, size_t size);

/* The list's lock code items only, for callers that explain lock codes:
 * the first one, or NULL when the list has none. */
const struct lm_lockcode *lm_hostid_first_code(const struct lm_hostid_list *ids);

struct lm_hostid_match {
	bool accepted;
	int which;                 /* index of the matching item, -1 if none */
	bool has_code;             /* the list holds a lock code ... */
	struct lm_lock_match lock; /* ... and this is how the best one matched */
};

/* Whether any item of ids names this machine (and, for USER= and DISPLAY=,
 * this user and display).  tolerance applies to lock code items. */
void lm_hostid_match(const struct lm_hostid_list *ids, const struct lm_machine *here, int tolerance,
                     struct lm_hostid_match *m);

/* A short description of the kind, "an Ethernet address". */
const char *lm_hostid_kind_name(enum lm_hostid_kind kind);

#endif
