/* Replacing a server of the cluster (lm_cluster_replace): a new voter in,
 * the dead one out, one raft configuration change at a time, each step
 * judged from the configuration so that a retried replacement skips what
 * is done. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "core/error.h"
#include "lmd/cluster_internal.h"

const struct raft_server *lm_cluster_find_server(struct lm_cluster *c, unsigned id)
{
	for (unsigned i = 0; i < c->raft.configuration.n; i++)
		if (c->raft.configuration.servers[i].id == id)
			return &c->raft.configuration.servers[i];
	return NULL;
}

static int change_error(int rv)
{
	switch (rv) {
	case 0: return 0;
	case RAFT_NOTLEADER: return LMC_ENOTLEADER;
	case RAFT_LEADERSHIPLOST: return LMC_EINDOUBT;
	case RAFT_NOMEM: return LMC_ENOMEM;
	case RAFT_SHUTDOWN: return LMC_ESHUTDOWN;
	/* The new server did not catch up within raft's catch-up rounds. */
	case RAFT_NOCONNECTION: return LMC_ETIMEDOUT;
	default: return LMC_EINVAL;
	}
}

void lm_cluster_replace_finish(struct lm_cluster *c, int status)
{
	struct replace *r = c->replace;
	c->replace = NULL;
	r->cb(r->arg, status);
	free(r);
}

static void replace_cb(struct raft_change *req, int status)
{
	struct replace *r = req->data;
	struct lm_cluster *c = r->c;

	r->inflight = false;
	if (status != 0) {
		lm_cluster_seterr(c, "replacing server %u by %u: %s", r->old_id, r->new_id,
		                  raft_strerror(status));
		lm_cluster_replace_finish(c, change_error(status));
		return;
	}
	if (c->closing) {
		lm_cluster_replace_finish(c, LMC_ESHUTDOWN);
		return;
	}
	/* The next step runs from the watch, outside raft's call stack, where
	 * raft no longer counts this change as pending. */
}

/* After raft took (rv 0) or refused a step. */
static void replace_submitted(struct lm_cluster *c, int rv)
{
	struct replace *r = c->replace;

	if (rv != 0) {
		lm_cluster_seterr(c, "replacing server %u by %u: %s", r->old_id, r->new_id,
		                  raft_errmsg(&c->raft));
		lm_cluster_replace_finish(c, change_error(rv));
		return;
	}
	r->inflight = true;
}

/* Runs the next step that still needs doing, judged from the current
 * configuration so that a retried replacement skips what is done:
 *
 *   1. add the new server as a spare (no vote, so the quorum is unchanged);
 *   2. promote it to voter, which raft does once it has caught up;
 *   3. remove the old server.
 *
 * Adding first keeps the old server counted while the new one catches up,
 * but raft refuses two servers at one address (RAFT_DUPLICATEADDRESS): a
 * replacement that takes over the old server's address (same host, new
 * disk) can only come in after the old one left, so then step 3 runs first.
 * Either way the old server is dead, and the two others must both be up
 * until the new one votes. */
void lm_cluster_replace_step(struct lm_cluster *c)
{
	struct replace *r = c->replace;

	if (raft_state(&c->raft) != RAFT_LEADER) {
		lm_cluster_seterr(c, "replacing server %u by %u: lost the leadership", r->old_id,
		                  r->new_id);
		lm_cluster_replace_finish(c, LMC_ENOTLEADER);
		return;
	}
	r->req.data = r;
	const struct raft_server *fresh = lm_cluster_find_server(c, r->new_id);
	const struct raft_server *old = lm_cluster_find_server(c, r->old_id);
	if (fresh == NULL) {
		if (r->added) {
			/* Never remove the old server before the new one votes. */
			lm_cluster_seterr(c, "server %u left the configuration while joining",
			                  r->new_id);
			lm_cluster_replace_finish(c, LMC_EINVAL);
		} else if (old != NULL && strcmp(old->address, r->address) == 0) {
			replace_submitted(c, raft_remove(&c->raft, &r->req, r->old_id, replace_cb));
		} else {
			replace_submitted(
			        c, raft_add(&c->raft, &r->req, r->new_id, r->address, replace_cb));
		}
		return;
	}
	r->added = true;
	if (strcmp(fresh->address, r->address) != 0) {
		lm_cluster_seterr(c, "server %u is already in the cluster at %s", r->new_id,
		                  fresh->address);
		lm_cluster_replace_finish(c, LMC_EINVAL);
		return;
	}
	if (fresh->role != RAFT_VOTER) {
		replace_submitted(
		        c, raft_assign(&c->raft, &r->req, r->new_id, RAFT_VOTER, replace_cb));
		return;
	}
	if (old != NULL) {
		replace_submitted(c, raft_remove(&c->raft, &r->req, r->old_id, replace_cb));
		return;
	}
	lm_cluster_replace_finish(c, 0);
}

int lm_cluster_replace(struct lm_cluster *c, unsigned old_id, unsigned new_id,
                       const char *new_address, void (*cb)(void *arg, int status), void *arg)
{
	char err[128];
	struct replace *r;

	if (c->closing)
		return LMC_ESHUTDOWN;
	if (cb == NULL || old_id == 0 || new_id == 0 || old_id == new_id)
		return LMC_EINVAL;
	if (lm_cluster_check_address("new server", new_address, err, sizeof err) != 0) {
		lm_cluster_seterr(c, "%s", err);
		return LMC_EINVAL;
	}
	if (c->replace != NULL) {
		lm_cluster_seterr(c, "another replacement is in progress");
		return LMC_EINVAL;
	}
	if (!lm_cluster_ready(c))
		return LMC_ENOTLEADER;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return LMC_ENOMEM;
	r->c = c;
	r->old_id = old_id;
	r->new_id = new_id;
	snprintf(r->address, sizeof r->address, "%s", new_address);
	r->cb = cb;
	r->arg = arg;
	/* The first step runs from the watch too: cb is never called from
	 * inside this function. */
	c->replace = r;
	return 0;
}
