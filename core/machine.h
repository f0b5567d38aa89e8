/* This machine's lock code criteria (core/lockcode.h), read from files.
 *
 * Where each criterion is read, below a root directory ("/" normally; tests
 * point LM_HOSTID_ROOT at a fake machine laid out the same way):
 *   machine_id    etc/machine-id (first line, trimmed)
 *   product_uuid  sys/class/dmi/id/product_uuid (lower-cased; all-zero or
 *                 all-F values are placeholders and ignored)
 *   mac           sys/class/net/<if>/address for each <if> that has a
 *                 sys/class/net/<if>/device entry (physical), lower-cased,
 *                 sorted, joined with ','; all-zero addresses ignored
 *   hostname      proc/sys/kernel/hostname
 *   disk          the name under dev/disk/by-uuid/ whose symlink target's
 *                 basename equals the basename of the device mounted at /
 *                 according to proc/self/mountinfo
 *   cpu           proc/cpuinfo: the first vendor_id, cpu family, model and
 *                 model name lines, joined with '/' */
#ifndef LM_MACHINE_H
#define LM_MACHINE_H

#include "core/limits.h"
#include "core/lockcode.h"

/* What the probes found on this machine, for `lmhostid --json`. */
struct lm_machine {
	struct lm_lockcode code;
	char value[LM_CRIT_COUNT][LM_CRIT_VALUE_MAX];  /* "" when unavailable */
	char source[LM_CRIT_COUNT][LM_CRIT_VALUE_MAX]; /* file read, or why not */
	/* What FlexLM host ids name besides (core/hostid.h), none of it part of
	 * the lock code: the IPv4 addresses this machine answers on, read from
	 * proc/net/fib_trie below the root ("/32 host LOCAL" entries, comma
	 * separated, loopback left out); the login name of the real user; the
	 * X display ($DISPLAY), or "/dev/tty" without one. */
	char ipv4[LM_CRIT_VALUE_MAX];
	char user[LM_NAME_MAX + 1];
	char display[LM_CRIT_VALUE_MAX];
};

/* The root the probes read below by default: "/", or in builds configured
 * with --enable-test-hooks the LM_HOSTID_ROOT environment variable when set
 * (test builds only: it would let any user fake a node-locked machine). */
const char *lm_machine_default_root(void);

/* Reads this machine's criteria.  Every probe reads files below root; NULL
 * means lm_machine_default_root().  A criterion that cannot be read is left
 * out of the code.  Returns 0, or
 * LMC_EIO when not a single criterion could be read. */
int lm_machine_probe(const char *root, struct lm_machine *out);

#endif
