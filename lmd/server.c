/* The server's glue to the cluster (server.h): the cluster id, the pool as
 * raft's state machine, proposing commands, and what the rest of lmd may
 * know of the cluster (who leads, who is a member) without holding it. */
#include "config.h"

#include "lmd/server.h"
#include "lmd/walltime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/bytes.h"
#include "core/error.h"
#include "core/log.h"
#include "lmd/datadir.h"
#include "lmd/disk.h"
#include "lmd/faults.h"
#include "lmd/command.h"

/* ---- the cluster id ----
 *
 * The first leader of a new cluster names it (pool.h: SetClusterId); every
 * server learns the id as it applies the log. */

/* Once the pool holds the cluster id (its SetClusterId or a snapshot was
 * applied), it is kept in DATA/cluster-id, so that after a restart the
 * replication port knows it before raft replays anything.  A file that
 * names another id than the log means the directory mixes two clusters'
 * data: nothing this server could serve from it is trustworthy. */
static void learn_cluster_id(struct lm_server *s)
{
	uint8_t id[LM_CLUSTER_ID_SIZE];
	char text[2 * LM_CLUSTER_ID_SIZE + 1], err[LM_DATADIR_PATH_MAX + 128];
	bool known;

	if (s->pool_has_cluster_id)
		return;
	if (lm_pool_cluster_id(s->pool, id, &known) != 0)
		lm_fatal("cannot read the cluster id from the pool");
	if (!known)
		return;
	s->pool_has_cluster_id = true;
	lm_hex_encode(id, sizeof id, text);
	if (s->has_cluster_id) {
		if (memcmp(id, s->cluster_id, sizeof id) != 0) {
			char file[sizeof text];
			lm_hex_encode(s->cluster_id, sizeof s->cluster_id, file);
			lm_fatal("%s/cluster-id names cluster %s, but the raft log is of cluster "
			         "%s: the data directory mixes two clusters' files; remove it and "
			         "start this server with --join, then run `lmutil lmreplace`",
			         s->cfg.data_dir, file, text);
		}
		return;
	}
	if (lm_datadir_set_cluster_id(&s->datadir, id, err, sizeof err) != 0)
		lm_fatal("%s", err);
	memcpy(s->cluster_id, id, sizeof id);
	s->has_cluster_id = true;
	lm_log("cluster", "id %s", text);
}

static void cluster_id_done(void *arg, int status, struct lm_pool_result *res)
{
	struct lm_server *s = arg;
	(void)res;
	s->cluster_id_proposed = false;
	if (status != 0)
		lm_log_error("could not commit the cluster id (status %d); will retry", status);
}

/* The first leader of a cluster names it; a leader of a cluster whose
 * pool has an id (the usual case) does nothing.  Two leaders racing both
 * propose; the first applied stays.  Until it is applied the leader opens
 * no session (requests.c), and the expiry sweep proposes again after a
 * failure. */
void lm_server_propose_cluster_id(struct lm_server *s)
{
	uint8_t id[LM_CLUSTER_ID_SIZE] = {0};
	bool known, zero = true;

	if (s->cluster_id_proposed || lm_pool_cluster_id(s->pool, id, &known) != 0 || known)
		return;
	/* One that DATA/cluster-id names stays (the pool cannot lack it,
	 * unless someone cut the log: then the file is the better witness). */
	if (s->has_cluster_id) {
		memcpy(id, s->cluster_id, sizeof id);
		zero = false;
	}
	while (zero) {
		if (RAND_bytes(id, sizeof id) != 1) {
			lm_log_error("no random numbers for a cluster id");
			return;
		}
		for (size_t i = 0; i < sizeof id; i++)
			zero = zero && id[i] == 0;
	}
	struct lm_command cmd;
	lm_command_set_cluster_id(&cmd, id, sizeof id);
	int rc = lm_server_propose(s, &cmd, cluster_id_done, s);
	lm_command_release(&cmd);
	if (rc != 0)
		lm_log_error("cannot propose the cluster id: %s; will retry", lmc_strerror(rc));
	s->cluster_id_proposed = rc == 0;
}

static void leader_change_done(void *arg, int status, struct lm_pool_result *res)
{
	(void)arg;
	(void)res;
	if (status != 0)
		lm_log_error("the leadership record did not commit: %s", lmc_strerror(status));
}

void lm_server_propose_leader_change(struct lm_server *s)
{
	struct lm_cluster_status st;
	lm_server_cluster_status(s, &st);
	struct lm_command cmd;
	lm_command_leader_change(&cmd, s->raft_id, s->node, s->addresses[s->node - 1], st.term);
	int rc = lm_server_propose(s, &cmd, leader_change_done, s);
	lm_command_release(&cmd);
	if (rc != 0)
		lm_log_error("cannot propose the leadership record: %s", lmc_strerror(rc));
}

/* ---- the pool as the cluster's state machine ---- */

static int fsm_apply(void *data, uint64_t index, const void *cmd, size_t len, void **result)
{
	struct lm_server *s = data;
	struct lm_pool_result *res = malloc(sizeof *res);
	if (!res)
		lm_fatal("out of memory applying entry %llu", (unsigned long long)index);
	if (s->report_events)
		lm_report_events_before(s->report_events, s->pool, index, cmd, len);
	int rc = lm_pool_apply(s->pool, index, cmd, len, res);
	s->license_check_due = true;
	lm_walltime_committed(cmd, len);
	if (rc == 0)
		learn_cluster_id(s);
	if (rc == LMC_EPROTO)
		lm_fatal("raft entry %llu is not a valid command: the log is corrupt",
		         (unsigned long long)index);
	if (rc != 0)
		lm_fatal("cannot apply raft entry %llu to the store: %s", (unsigned long long)index,
		         lmc_strerror(rc));
	if (s->report_events)
		lm_report_events_after(s->report_events, s->pool, res);
	*result = res;
	return 0;
}

static int fsm_snapshot(void *data, void **buf, size_t *len)
{
	struct lm_server *s = data;
	return lm_pool_snapshot(s->pool, buf, len);
}

static int fsm_restore(void *data, uint64_t index, const void *buf, size_t len)
{
	struct lm_server *s = data;
	s->license_check_due = true;
	int rc = lm_pool_restore(s->pool, index, buf, len);
	if (rc == 0 && s->report_log)
		lm_report_log_skip_to(s->report_log, index);
	if (rc == 0) {
		s->pool_has_cluster_id = false;
		learn_cluster_id(s);
	}
	return rc;
}

void lm_server_fsm_init(struct lm_server *s)
{
	s->fsm = (struct lm_cluster_fsm){
	        .data = s,
	        .apply = fsm_apply,
	        .snapshot = fsm_snapshot,
	        .restore = fsm_restore,
	};
}

/* ---- proposing ---- */

struct proposal {
	struct lm_server *s;
	lm_server_done_cb cb;
	void *arg;
};

static void deliver(struct proposal *p, int status, void *result)
{
	p->cb(p->arg, status, status == 0 ? result : NULL);
	free(result);
	free(p);
}

#ifdef LM_TEST_HOOKS
/* Test builds only: LM_TEST_COMMIT_DELAY_MS=N hands each proposer its
 * result N ms after its command applied, which cluster.h allows ("later"):
 * meanwhile the pool applies the commands that follow, and a reply must be
 * built from the result, not from the pool as it is by then. */
struct delayed {
	uv_timer_t timer;
	struct proposal *p;
	int status;
	void *result;
};

static void delayed_closed(uv_handle_t *h)
{
	free(h->data);
}

static void delayed_fire(uv_timer_t *t)
{
	struct delayed *d = t->data;
	deliver(d->p, d->status, d->result);
	uv_close((uv_handle_t *)&d->timer, delayed_closed);
}

static bool delay_delivery(struct proposal *p, int status, void *result)
{
	const char *v = getenv("LM_TEST_COMMIT_DELAY_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;
	struct delayed *d = ms > 0 ? malloc(sizeof *d) : NULL;
	if (!d)
		return false;
	*d = (struct delayed){.p = p, .status = status, .result = result};
	uv_timer_init(p->s->loop, &d->timer);
	d->timer.data = d;
	uv_timer_start(&d->timer, delayed_fire, (uint64_t)ms, 0);
	return true;
}
#endif

static void proposal_done(void *arg, int status, void *result)
{
	struct proposal *p = arg;
#ifdef LM_TEST_HOOKS
	if (delay_delivery(p, status, result))
		return;
#endif
	deliver(p, status, result);
}

int lm_server_propose(struct lm_server *s, const struct lm_command *cmd, lm_server_done_cb cb,
                      void *arg)
{
	if (cmd->error != 0)
		return cmd->error;
	/* Refused here, before raft or the store could run short of disk and
	 * fail in ways a client cannot be told about (lmd/disk.h). */
	int rc = lm_disk_check();
	if (rc != 0)
		return rc;
	struct proposal *p = lm_fault_alloc() ? NULL : malloc(sizeof *p);
	if (!p)
		return LMC_ENOMEM;
	*p = (struct proposal){.s = s, .cb = cb, .arg = arg};
	rc = lm_cluster_propose(s->cluster, cmd->data, cmd->len, proposal_done, p);
	if (rc != 0)
		free(p);
	return rc;
}

/* ---- what the rest of lmd knows of the cluster ---- */

unsigned lm_server_line_of(const struct lm_server *s, unsigned raft_id)
{
	return lm_datadir_line_of(s->license.nservers, raft_id);
}

const char *lm_server_leader_address(struct lm_server *s)
{
	struct lm_cluster_status st;
	lm_cluster_status(s->cluster, &st);
	unsigned line = lm_server_line_of(s, st.leader_id);
	return line ? s->addresses[line - 1] : NULL;
}

bool lm_server_awaits_membership(struct lm_server *s)
{
	struct lm_cluster_status st;
	lm_cluster_status(s->cluster, &st);
	return !st.voter && st.role != LM_CLUSTER_UNAVAILABLE;
}

void lm_server_cluster_status(struct lm_server *s, struct lm_cluster_status *st)
{
	lm_cluster_status(s->cluster, st);
}

int lm_server_members(struct lm_server *s, struct lm_cluster_member *out, int max)
{
	return lm_cluster_members(s->cluster, out, max);
}

int lm_server_replace(struct lm_server *s, unsigned old_id, unsigned new_id, const char *address,
                      void (*cb)(void *arg, int status), void *arg)
{
	return lm_cluster_replace(s->cluster, old_id, new_id, address, cb, arg);
}

const char *lm_server_cluster_error(struct lm_server *s)
{
	return s->cluster ? lm_cluster_errmsg(s->cluster) : "";
}
