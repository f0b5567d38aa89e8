/* The cluster (see cluster.h): setting a node up and starting it, the
 * post-election barrier that makes a leader ready, the watch that tells the
 * caller about leadership changes, and status.  cluster_internal.h has the
 * map of the other files and the raft 0.15 traps they keep clear of. */
#include "config.h"

#include "lmd/cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>
#include <raft/uv.h>

#include "core/error.h"
#include "lmd/cluster_internal.h"
#include "lmd/transport.h"

void lm_cluster_seterr(struct lm_cluster *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	va_end(ap);
}

/* ---- Setting up ---- */

int lm_cluster_init(struct lm_cluster **out, uv_loop_t *loop, const struct lm_cluster_config *cfg,
                    struct lm_cluster_fsm *fsm, char *err, size_t errsize)
{
	struct lm_cluster *c;
	int rv;

	*out = NULL;
	rv = lm_cluster_check_config(cfg, fsm, err, errsize);
	if (rv != 0)
		return rv;
	rv = lm_cluster_make_dir(cfg->dir, err, errsize);
	if (rv != 0)
		return rv;
	c = calloc(1, sizeof *c);
	if (c == NULL || (c->dir = strdup(cfg->dir)) == NULL) {
		free(c);
		snprintf(err, errsize, "out of memory");
		return LMC_ENOMEM;
	}
	c->loop = loop;
	c->fsm = fsm;
	c->id = cfg->id;
	c->nnodes = cfg->nnodes;
	c->join = cfg->join;
	for (unsigned i = 0; i < cfg->nnodes; i++)
		snprintf(c->addresses[i], sizeof c->addresses[i], "%s", cfg->addresses[i]);
	snprintf(c->address, sizeof c->address, "%s",
	         cfg->address ? cfg->address : cfg->addresses[cfg->id - 1]);

	struct lm_transport_config tc = {.log = cfg->log,
	                                 .log_arg = cfg->log_arg,
	                                 .peer = cfg->peer,
	                                 .peer_arg = cfg->log_arg,
	                                 .cluster_id = cfg->cluster_id,
	                                 .cluster_id_arg = cfg->log_arg,
	                                 .tls = cfg->tls};
	memcpy(tc.config_id, cfg->config_id, sizeof tc.config_id);
	if (lm_transport_init(&c->transport, loop, &tc) != 0) {
		snprintf(err, errsize, "raft transport: out of memory");
		rv = RAFT_NOMEM;
		goto err_free;
	}
	rv = raft_uv_init(&c->io, loop, c->dir, &c->transport);
	if (rv != 0) {
		snprintf(err, errsize, "raft storage in %s: %s", c->dir, raft_strerror(rv));
		goto err_transport;
	}
	if (cfg->segment_size)
		raft_uv_set_segment_size(&c->io, cfg->segment_size);
	/* Our callback goes between raft_uv's close and raft's (see cluster_close.c). */
	c->uv_io_close = c->io.close;
	c->io.close = lm_cluster_io_close;
#ifdef LM_TEST_HOOKS
	c->uv_io_append = c->io.append;
	c->io.append = lm_cluster_fault_append;
#endif

	lm_cluster_fsm_setup(c);
	rv = raft_init(&c->raft, &c->io, &c->raft_fsm, cfg->id, c->address);
	if (rv != 0) {
		/* c is calloc'd, so the message is at worst empty. */
		snprintf(err, errsize, "raft: %s",
		         *raft_errmsg(&c->raft) ? raft_errmsg(&c->raft) : raft_strerror(rv));
		goto err_io;
	}
	c->raft.data = c;
	raft_set_heartbeat_timeout(&c->raft, cfg->heartbeat_ms ? cfg->heartbeat_ms
	                                                       : LM_CLUSTER_DEFAULT_HEARTBEAT_MS);
	raft_set_election_timeout(&c->raft, cfg->election_ms ? cfg->election_ms
	                                                     : LM_CLUSTER_DEFAULT_ELECTION_MS);
	raft_set_snapshot_threshold(&c->raft, cfg->snapshot_threshold
	                                              ? cfg->snapshot_threshold
	                                              : LM_CLUSTER_DEFAULT_SNAPSHOT_THRESHOLD);
	raft_set_snapshot_trailing(&c->raft, cfg->snapshot_trailing
	                                             ? cfg->snapshot_trailing
	                                             : LM_CLUSTER_DEFAULT_SNAPSHOT_TRAILING);
	/* A raft 0.15 follower that is taking a snapshot of its own answers an
	 * InstallSnapshot with RAFT_BUSY, and the leader resends only after
	 * this timeout (seen in test_three_nodes; raft's default is 30 s).
	 * Our snapshots are small enough to cross a LAN well within it. */
	raft_set_install_snapshot_timeout(
	        &c->raft, cfg->install_snapshot_ms ? cfg->install_snapshot_ms
	                                           : LM_CLUSTER_DEFAULT_INSTALL_SNAPSHOT_MS);
	/* Pre-vote keeps a node that was cut off from forcing an election with
	 * its inflated term when it comes back (Raft thesis §9.6). */
	raft_set_pre_vote(&c->raft, true);

	/* Neither can fail once the loop exists. */
	uv_check_init(loop, &c->watch);
	uv_timer_init(loop, &c->defer);
	c->watch.data = c;
	c->defer.data = c;
	c->open_handles = 2;
	*out = c;
	return 0;

err_io:
	raft_uv_close(&c->io);
err_transport:
	/* raft never ran the transport's init, or it failed: nothing of
	 * the transport is on the loop. */
	lm_transport_close(&c->transport);
err_free:
	free(c->dir);
	free(c);
	return rv == RAFT_NOMEM ? LMC_ENOMEM : LMC_EIO;
}
/* ---- Running ---- */

static int bootstrap(struct lm_cluster *c)
{
	struct raft_configuration conf;
	int rv = 0;

	/* Every node builds the same configuration in the same order, so that
	 * entry 1 is identical on all of them (stack-notes.md §1.3). */
	raft_configuration_init(&conf);
	for (unsigned i = 0; i < c->nnodes && rv == 0; i++)
		rv = raft_configuration_add(&conf, i + 1, c->addresses[i], RAFT_VOTER);
	if (rv == 0)
		rv = raft_bootstrap(&c->raft, &conf);
	raft_configuration_close(&conf);
	/* Any earlier start left a log behind: nothing to do. */
	if (rv == RAFT_CANTBOOTSTRAP)
		return 0;
	if (rv != 0) {
		lm_cluster_seterr(c, "bootstrap in %s: %s", c->dir, raft_errmsg(&c->raft));
		return rv == RAFT_NOMEM ? LMC_ENOMEM : LMC_EIO;
	}
	return 0;
}

static void watch_cb(uv_check_t *h);

int lm_cluster_start(struct lm_cluster *c)
{
	int rv;

	if (c->started || c->closing)
		return LMC_EINVAL;
	if (!c->join) {
		rv = bootstrap(c);
		if (rv != 0)
			return rv;
	}
	rv = raft_start(&c->raft);
	if (rv != 0) {
		lm_cluster_seterr(c, "raft start in %s as %s: %s", c->dir, c->address,
		                  *raft_errmsg(&c->raft) ? raft_errmsg(&c->raft)
		                                         : raft_strerror(rv));
		/* raft_start() may fail after fsm_restore() put a state in c->fsm:
		 * the caller closes us anyway. */
		return rv == RAFT_NOMEM ? LMC_ENOMEM : LMC_EIO;
	}
	c->started = true;
	uv_check_start(&c->watch, watch_cb);
	return 0;
}

bool lm_cluster_ready(struct lm_cluster *c)
{
	return c->started && !c->closing && raft_state(&c->raft) == RAFT_LEADER &&
	       c->ready_term == c->raft.current_term;
}

static void barrier_cb(struct raft_barrier *req, int status)
{
	struct lm_cluster *c = req->data;

	c->barrier_inflight = false;
	if (status != 0) {
		/* Lost the leadership meanwhile: the watch notices. */
		if (status != RAFT_LEADERSHIPLOST && status != RAFT_SHUTDOWN)
			lm_cluster_seterr(c, "post-election barrier: %s", raft_strerror(status));
		return;
	}
	if (raft_state(&c->raft) == RAFT_LEADER && c->raft.current_term == c->barrier_term)
		c->ready_term = c->barrier_term;
}

/* Raft thesis §6.4 and stack-notes.md §1.7: a new leader knows which entries
 * are committed only once an entry of its own term is; raft 0.15 does not
 * append one by itself, so we do. */
static void maybe_barrier(struct lm_cluster *c)
{
	if (raft_state(&c->raft) != RAFT_LEADER || c->ready_term == c->raft.current_term ||
	    c->barrier_inflight)
		return;
	c->barrier.data = c;
	c->barrier_term = c->raft.current_term;
	int rv = raft_barrier(&c->raft, &c->barrier, barrier_cb);
	if (rv == 0)
		c->barrier_inflight = true;
	else if (rv != RAFT_NOTLEADER) /* the next iteration tries again */
		lm_cluster_seterr(c, "post-election barrier: %s", raft_strerror(rv));
}

static void watch_cb(uv_check_t *h)
{
	struct lm_cluster *c = h->data;
	raft_id leader;
	const char *address;

	if (c->closing)
		return;
	lm_cluster_drop_result(c);
	maybe_barrier(c);
	if (c->replace != NULL && !c->replace->inflight)
		lm_cluster_replace_step(c);

	bool ready = lm_cluster_ready(c);
	raft_leader(&c->raft, &leader, &address);
	if (ready == c->told_ready && leader == c->told_leader)
		return;
	c->told_ready = ready;
	c->told_leader = leader;
	if (c->change_cb != NULL)
		c->change_cb(c->change_arg, ready);
}

void lm_cluster_on_change(struct lm_cluster *c, lm_cluster_change_cb cb, void *arg)
{
	c->change_cb = cb;
	c->change_arg = arg;
}
/* ---- Status ---- */

void lm_cluster_status(struct lm_cluster *c, struct lm_cluster_status *st)
{
	raft_id leader = 0;
	const char *address = NULL;

	memset(st, 0, sizeof *st);
	st->id = c->id;
	st->nnodes = c->nnodes;
	st->role = LM_CLUSTER_UNAVAILABLE;
	if (c->started && !c->closing) {
		switch (raft_state(&c->raft)) {
		case RAFT_FOLLOWER: st->role = LM_CLUSTER_FOLLOWER; break;
		case RAFT_CANDIDATE: st->role = LM_CLUSTER_CANDIDATE; break;
		case RAFT_LEADER: st->role = LM_CLUSTER_LEADER; break;
		default: break;
		}
		raft_leader(&c->raft, &leader, &address);
	}
	st->ready = lm_cluster_ready(c);
	st->leader_id = (unsigned)leader;
	if (address != NULL)
		snprintf(st->leader_address, sizeof st->leader_address, "%s", address);
	st->term = c->raft.current_term;
	st->commit_index = c->raft.commit_index;
	st->applied_index = raft_last_applied(&c->raft);
	st->last_index = raft_last_index(&c->raft);
	const struct raft_server *self = lm_cluster_find_server(c, c->id);
	st->voter = self != NULL && self->role == RAFT_VOTER;
}

int lm_cluster_members(struct lm_cluster *c, struct lm_cluster_member *out, int max)
{
	const struct raft_configuration *conf = &c->raft.configuration;
	if (!c->started || c->closing)
		return 0;
	for (unsigned i = 0; i < conf->n && (int)i < max; i++) {
		out[i].id = (unsigned)conf->servers[i].id;
		snprintf(out[i].address, sizeof out[i].address, "%s", conf->servers[i].address);
		out[i].voter = conf->servers[i].role == RAFT_VOTER;
	}
	return (int)conf->n;
}

const char *lm_cluster_role_name(int role)
{
	switch (role) {
	case LM_CLUSTER_FOLLOWER: return "follower";
	case LM_CLUSTER_CANDIDATE: return "candidate";
	case LM_CLUSTER_LEADER: return "leader";
	default: return "unavailable";
	}
}

const char *lm_cluster_errmsg(struct lm_cluster *c)
{
	return c->errmsg;
}

const char *lm_cluster_raft_version(void)
{
	return LM_RAFT_VERSION;
}
