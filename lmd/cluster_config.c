/* Checking a cluster's configuration (struct lm_cluster_config) before
 * anything starts, so that a mistake is a sentence at start-up rather than
 * a raft failure later; and the raft data directory. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "lmd/cluster_internal.h"
#include "lmd/transport.h"

/* Our transport dials and listens on exactly what it parses (as raft 0.15's
 * stock one did, §1.2): say so early rather than at start. */
int lm_cluster_check_address(const char *what, const char *a, char *err, size_t errsize)
{
	struct sockaddr_in sa;

	if (a == NULL || *a == '\0') {
		snprintf(err, errsize, "%s: no raft address", what);
		return LMC_EINVAL;
	}
	if (lm_transport_parse_address(a, &sa) != 0) {
		snprintf(err, errsize, "%s: raft address \"%.64s\" is not IPV4:PORT (IPv4 only)",
		         what, a);
		return LMC_EINVAL;
	}
	return 0;
}

int lm_cluster_check_config(const struct lm_cluster_config *cfg, const struct lm_cluster_fsm *fsm,
                            char *err, size_t errsize)
{
	char what[32];

	if (fsm == NULL || fsm->apply == NULL || fsm->snapshot == NULL || fsm->restore == NULL) {
		snprintf(err, errsize, "the state machine lacks a callback");
		return LMC_EINVAL;
	}
	if (cfg->nnodes != 1 && cfg->nnodes != 3) {
		snprintf(err, errsize, "a cluster has 1 or 3 servers, not %u", cfg->nnodes);
		return LMC_EINVAL;
	}
	if (cfg->id == 0 || (cfg->id > cfg->nnodes && !cfg->join)) {
		snprintf(err, errsize, "node id %u is not between 1 and %u", cfg->id, cfg->nnodes);
		return LMC_EINVAL;
	}
	for (unsigned i = 0; i < cfg->nnodes; i++) {
		snprintf(what, sizeof what, "server %u", i + 1);
		int rv = lm_cluster_check_address(what, cfg->addresses[i], err, errsize);
		if (rv != 0)
			return rv;
		for (unsigned j = 0; j < i; j++)
			if (strcmp(cfg->addresses[i], cfg->addresses[j]) == 0) {
				snprintf(err, errsize,
				         "servers %u and %u share the raft address %s", j + 1,
				         i + 1, cfg->addresses[i]);
				return LMC_EINVAL;
			}
	}
	if (cfg->address != NULL || cfg->id > cfg->nnodes) {
		int rv = lm_cluster_check_address("this node", cfg->address, err, errsize);
		if (rv != 0)
			return rv;
	}
	if (cfg->dir == NULL || *cfg->dir == '\0') {
		snprintf(err, errsize, "no raft data directory");
		return LMC_EINVAL;
	}
	unsigned heartbeat =
	        cfg->heartbeat_ms ? cfg->heartbeat_ms : LM_CLUSTER_DEFAULT_HEARTBEAT_MS;
	unsigned election = cfg->election_ms ? cfg->election_ms : LM_CLUSTER_DEFAULT_ELECTION_MS;
	if (heartbeat >= election) {
		snprintf(err, errsize,
		         "heartbeat (%u ms) must be shorter than the election (%u ms)", heartbeat,
		         election);
		return LMC_EINVAL;
	}
	unsigned threshold = cfg->snapshot_threshold ? cfg->snapshot_threshold
	                                             : LM_CLUSTER_DEFAULT_SNAPSHOT_THRESHOLD;
	unsigned trailing = cfg->snapshot_trailing ? cfg->snapshot_trailing
	                                           : LM_CLUSTER_DEFAULT_SNAPSHOT_TRAILING;
	/* dqlite's rule (stack-notes.md §1.9): the previous snapshot plus the
	 * trailing log must be able to rebuild the state if the newest
	 * snapshot is unusable. */
	if (trailing < threshold) {
		snprintf(err, errsize, "snapshot trailing (%u) must be at least the threshold (%u)",
		         trailing, threshold);
		return LMC_EINVAL;
	}
	return 0;
}

int lm_cluster_make_dir(const char *dir, char *err, size_t errsize)
{
	struct stat st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errsize, "%s: %s", dir, strerror(errno));
		return LMC_EIO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errsize, "%s: not a directory", dir);
		return LMC_EIO;
	}
	return 0;
}
