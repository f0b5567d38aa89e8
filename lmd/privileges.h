/* Running as root no longer than needed (least privilege).
 *
 * Started as root, lmd reads its license and vendor key (which may be
 * readable by root only), then becomes --user before it opens its data
 * directory or any port: every file it creates belongs to that user, and a
 * flaw in the code that reads the network cannot act as root.  Run as root
 * throughout only when told (--allow-root, or LMD_ALLOW_ROOT=1 in the
 * environment, for containers and test harnesses). */
#ifndef LM_PRIVILEGES_H
#define LM_PRIVILEGES_H

#include <stddef.h>

#include "lmd/args.h"

/* Before anything else: refuses root without --user or --allow-root, and
 * --user when not root.  Returns 0, or -1 with err set. */
int lm_privileges_check(const struct lm_config *cfg, char *err, size_t size);

/* Becomes cfg->run_as_user when it is set (a no-op otherwise): makes the
 * data directory for it if it does not exist, refuses one that belongs to
 * another user, refuses ports below 1024 (they would need root to bind
 * after the drop), then drops groups, group and user for good.  ports
 * lists the TCP ports lmd will bind, nports of them.  Returns 0, or -1 with
 * err set. */
int lm_privileges_drop(const struct lm_config *cfg, const unsigned *ports, size_t nports, char *err,
                       size_t size);

#endif
