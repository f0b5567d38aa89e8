/* The cluster: lmd's only user of libraft (see cluster.h).
 *
 * Written against the raft 0.15 API that Debian ships, keeping clear of the
 * traps research/stack-notes.md §1 lists for it:
 *
 *  - every entry is a multiple of 8 bytes, or 0.15 mis-decodes it after a
 *    restart or on a follower (§1.5): commands travel in an envelope that
 *    records their real length and is zero-padded;
 *  - one buffer per raft_apply(), or the callback fires for the first entry
 *    of the batch only (§1.5);
 *  - the raft FSM's apply never fails for business reasons, or raft retries
 *    the same entry forever (§1.6);
 *  - 0.15 appends no entry when a node wins an election, so the new leader's
 *    state machine may lag entries committed by its predecessor: we issue a
 *    barrier and call the node ready only once it has been applied (§1.7);
 *  - RAFT_LEADERSHIPLOST means the outcome is unknown, the entry may still
 *    commit (§1.5): proposers hear LMC_EINDOUBT;
 *  - 0.15 has no state-change callback (§1.7): a check handle compares the
 *    role after every loop iteration;
 *  - the stock TCP transport trusts the handshake it reads (a heap overflow
 *    in 0.15) and carries no cluster identity: raft_uv runs on lmd's own
 *    transport instead (transport.h).
 *
 * Code that reaches into struct raft reads only fields that keep their names
 * in raft 0.16 to 0.18 (current_term, commit_index, configuration), so that
 * the module builds unchanged against a newer raft. */
#include "config.h"

#include "lmd/cluster.h"

#include <assert.h>
#include <stddef.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/transport.h"

/* Entry envelope, little-endian:
 *   0  4  magic "lmdc"
 *   4  2  format version
 *   6  2  reserved, zero
 *   8  4  length of the command
 *  12  4  reserved, zero
 *  16     the command, then zeros up to a multiple of 8 */
#define ENTRY_MAGIC   "lmdc"
#define ENTRY_VERSION 1
#define ENTRY_HEADER  16
#define ENTRY_ALIGN   8

/* Snapshot envelope, little-endian:
 *   0  4  magic "lmds"
 *   4  2  format version
 *   6  2  reserved, zero
 *   8  8  index of the last entry the snapshot includes
 *  16  8  length of the state machine's snapshot
 *  24     the state machine's snapshot
 * raft does not tell restore() which index a snapshot stands for, so we keep
 * it in the snapshot itself. */
#define SNAPSHOT_MAGIC   "lmds"
#define SNAPSHOT_VERSION 1
#define SNAPSHOT_HEADER  24

#define DEFAULT_HEARTBEAT_MS 100
#define DEFAULT_ELECTION_MS  1000
/* Every snapshot stops this node's loop for 30-50 ms: raft_uv closes the
 * open log segment, and closing its writer calls io_destroy() on the loop
 * thread, which the kernel is slow to return from (seen with strace under
 * bench/run; raft 0.15).  Every 1024 entries that halved lmd's checkout
 * throughput and put the stall in the p99 at any load; every 8192 it costs
 * a few percent.  The price is memory and replay: up to threshold +
 * trailing entries (16384 of 100-300 bytes, a few MB) stay in memory, and
 * a restart re-applies up to 8192 entries (under 100 ms here).  Trailing
 * stays >= threshold (stack-notes.md §1.9). */
#define DEFAULT_SNAPSHOT_THRESHOLD  8192
#define DEFAULT_SNAPSHOT_TRAILING   8192
#define DEFAULT_INSTALL_SNAPSHOT_MS 5000

/* Longest raft address we keep: a dotted IPv4 literal, a colon and a port
 * fit in 21 bytes; the status struct has room for 63. */
#define ADDRESS_MAX 63
_Static_assert(ADDRESS_MAX == LM_TRANSPORT_ADDRESS_MAX, "one bound on raft addresses");
_Static_assert(LM_CLUSTER_ID_SIZE == LM_TRANSPORT_ID_SIZE, "one size of cluster identity");

/* One proposal in flight: raft keeps req until it calls apply_cb. */
struct proposal {
	struct raft_apply req;
	struct lm_cluster *c;
	lm_cluster_done_cb cb;
	void *arg;
};

/* A replacement in progress.  Its steps are not counted but read from the
 * current configuration each time (see replace_step), so that a retried
 * replacement skips what is done. */
struct replace {
	struct raft_change req;
	struct lm_cluster *c;
	bool inflight; /* raft holds req */
	bool added;    /* the new server was in the configuration at some point */
	unsigned old_id, new_id;
	char address[ADDRESS_MAX + 1];
	void (*cb)(void *arg, int status);
	void *arg;
};

struct lm_cluster {
	uv_loop_t *loop;
	struct lm_cluster_fsm *fsm;
	unsigned id, nnodes;
	bool join;
	char addresses[LM_CLUSTER_MAX_NODES][ADDRESS_MAX + 1];
	char address[ADDRESS_MAX + 1];
	char *dir;

	/* raft's objects, in the order they are set up (stack-notes.md §1.2). */
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft_fsm raft_fsm;
	struct raft raft;

	bool started, closing;
	uv_check_t watch; /* role changes, barrier, notifications */
	uv_timer_t defer; /* runs raft_close(), then reaps raft_uv */
	unsigned open_handles;

	/* Closing around raft issue #341 (see "Closing" below). */
	void (*uv_io_close)(struct raft_io *io, raft_io_close_cb cb);
	raft_io_close_cb raft_io_close_cb;
	unsigned io_close_calls, reap_calls, reap_quiet;
	uint64_t reap_deadline;
	bool leak;

	/* The post-election barrier: ready_term is the term in which this node
	 * led and had applied everything committed before it won. */
	struct raft_barrier barrier;
	bool barrier_inflight;
	uint64_t barrier_term, ready_term;

	lm_cluster_change_cb change_cb;
	void *change_arg;
	bool told_ready;
	raft_id told_leader;

	/* What fsm->apply returned for the entry applied last, until its
	 * proposer's callback takes it (raft calls it right after the apply
	 * on the proposing node) or until we free it. */
	void *result;
	uint64_t result_index, applied_seen;
	unsigned pending; /* proposals raft still holds */

	struct replace *replace;

	lm_cluster_close_cb close_cb;
	void *close_arg;
	char errmsg[256];
};

static void seterr(struct lm_cluster *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void seterr(struct lm_cluster *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
	va_end(ap);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- The entry envelope ---- */

void *lm_cluster_wrap(const void *cmd, size_t len, size_t *size)
{
	if (len > LM_CLUSTER_MAX_COMMAND)
		return NULL;
	size_t padded = (len + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN;
	uint8_t *buf = raft_malloc(ENTRY_HEADER + padded);
	if (buf == NULL)
		return NULL;
	memset(buf, 0, ENTRY_HEADER);
	memcpy(buf, ENTRY_MAGIC, 4);
	put_le(buf + 4, ENTRY_VERSION, 2);
	put_le(buf + 8, len, 4);
	if (len > 0)
		memcpy(buf + ENTRY_HEADER, cmd, len);
	memset(buf + ENTRY_HEADER + len, 0, padded - len);
	*size = ENTRY_HEADER + padded;
	return buf;
}

void lm_cluster_wrap_free(void *buf)
{
	raft_free(buf);
}

int lm_cluster_unwrap(const void *buf, size_t size, const void **cmd, size_t *len)
{
	const uint8_t *p = buf;
	if (size < ENTRY_HEADER || size % ENTRY_ALIGN != 0)
		return LMC_EPROTO;
	if (memcmp(p, ENTRY_MAGIC, 4) != 0 || get_le(p + 4, 2) != ENTRY_VERSION ||
	    get_le(p + 6, 2) != 0 || get_le(p + 12, 4) != 0)
		return LMC_EPROTO;
	uint64_t n = get_le(p + 8, 4);
	/* The size must be exactly the padded length: anything else means the
	 * entry was cut or glued to another one. */
	if (n > LM_CLUSTER_MAX_COMMAND ||
	    size != ENTRY_HEADER + (n + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN)
		return LMC_EPROTO;
	for (size_t i = ENTRY_HEADER + n; i < size; i++)
		if (p[i] != 0)
			return LMC_EPROTO;
	*cmd = p + ENTRY_HEADER;
	*len = n;
	return 0;
}

/* ---- The raft FSM: our envelopes around the caller's state machine ---- */

static void drop_result(struct lm_cluster *c)
{
	free(c->result);
	c->result = NULL;
}

static int fsm_apply(struct raft_fsm *f, const struct raft_buffer *buf, void **result)
{
	struct lm_cluster *c = f->data;
	/* raft 0.15 bumps last_applied right after each entry it applies
	 * (replicationApply), so this is the index of the entry in hand. */
	uint64_t index = raft_last_applied(&c->raft) + 1;
	const void *cmd;
	size_t len;

	assert(index > c->applied_seen);
	c->applied_seen = index;
	/* A broken invariant of the replicated log: the only safe reaction
	 * is to stop this replica before it diverges from the others
	 * (STYLE.md, habit 4). */
	if (lm_cluster_unwrap(buf->base, buf->len, &cmd, &len) != 0)
		lm_fatal("cluster: raft entry %llu (%zu bytes) is not an lmd command: the raft log "
		         "in %s is corrupt",
		         (unsigned long long)index, buf->len, c->dir);

	/* Nobody claimed the previous result: it was applied on a node that
	 * did not propose it, or its proposal was already failed. */
	drop_result(c);
	void *res = NULL;
	int rv = c->fsm->apply(c->fsm->data, index, cmd, len, &res);
	if (rv != 0) {
		/* Returning rv to raft would make it retry this entry forever
		 * without applying anything after it (stack-notes.md §1.6). */
		free(res);
		lm_fatal("cluster: applying raft entry %llu failed (%s): this replica cannot go "
		         "on; restart it to replay the log",
		         (unsigned long long)index, lmc_strerror(rv));
	}
	c->result = res;
	c->result_index = index;
	*result = res;
	return 0;
}

static int fsm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n)
{
	struct lm_cluster *c = f->data;
	void *state = NULL;
	size_t len = 0;

	int rv = c->fsm->snapshot(c->fsm->data, &state, &len);
	if (rv != 0) {
		seterr(c, "snapshot: %s", lmc_strerror(rv));
		free(state);
		/* Not fatal: the log keeps growing and raft tries again at the
		 * next threshold. */
		return RAFT_IOERR;
	}
	struct raft_buffer *b = raft_malloc(sizeof *b);
	uint8_t *p = raft_malloc(SNAPSHOT_HEADER + len);
	if (b == NULL || p == NULL) {
		raft_free(b);
		raft_free(p);
		free(state);
		return RAFT_NOMEM;
	}
	memset(p, 0, SNAPSHOT_HEADER);
	memcpy(p, SNAPSHOT_MAGIC, 4);
	put_le(p + 4, SNAPSHOT_VERSION, 2);
	/* raft 0.15 snapshots at last_applied (takeSnapshot). */
	put_le(p + 8, raft_last_applied(&c->raft), 8);
	put_le(p + 16, len, 8);
	if (len > 0)
		memcpy(p + SNAPSHOT_HEADER, state, len);
	free(state);
	b->base = p;
	b->len = SNAPSHOT_HEADER + len;
	/* With FSM version 1 raft frees both with raft_free (snapshotClose). */
	*bufs = b;
	*n = 1;
	return 0;
}

static int fsm_restore(struct raft_fsm *f, struct raft_buffer *buf)
{
	struct lm_cluster *c = f->data;
	const uint8_t *p = buf->base;

	if (buf->len < SNAPSHOT_HEADER || memcmp(p, SNAPSHOT_MAGIC, 4) != 0 ||
	    get_le(p + 4, 2) != SNAPSHOT_VERSION || get_le(p + 6, 2) != 0 ||
	    get_le(p + 16, 8) != buf->len - SNAPSHOT_HEADER ||
	    buf->len - SNAPSHOT_HEADER > LM_CLUSTER_MAX_SNAPSHOT) {
		seterr(c, "restore: a %zu-byte snapshot is not an lmd snapshot envelope", buf->len);
		return RAFT_MALFORMED; /* raft frees buf */
	}
	uint64_t index = get_le(p + 8, 8);
	int rv = c->fsm->restore(c->fsm->data, index, p + SNAPSHOT_HEADER,
	                         buf->len - SNAPSHOT_HEADER);
	if (rv != 0) {
		seterr(c, "restore of the snapshot at index %llu: %s", (unsigned long long)index,
		       lmc_strerror(rv));
		return RAFT_IOERR; /* raft frees buf */
	}
	drop_result(c);
	c->applied_seen = index;
	/* On success the buffer is ours (snapshotRestore in raft 0.15). */
	raft_free(buf->base);
	return 0;
}

/* ---- Configuration ---- */

/* Our transport dials and listens on exactly what it parses (as raft 0.15's
 * stock one did, §1.2): say so early rather than at start. */
static int check_address(const char *what, const char *a, char *err, size_t errsize)
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

static int check_config(const struct lm_cluster_config *cfg, const struct lm_cluster_fsm *fsm,
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
		int rv = check_address(what, cfg->addresses[i], err, errsize);
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
		int rv = check_address("this node", cfg->address, err, errsize);
		if (rv != 0)
			return rv;
	}
	if (cfg->dir == NULL || *cfg->dir == '\0') {
		snprintf(err, errsize, "no raft data directory");
		return LMC_EINVAL;
	}
	unsigned heartbeat = cfg->heartbeat_ms ? cfg->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
	unsigned election = cfg->election_ms ? cfg->election_ms : DEFAULT_ELECTION_MS;
	if (heartbeat >= election) {
		snprintf(err, errsize,
		         "heartbeat (%u ms) must be shorter than the election (%u ms)", heartbeat,
		         election);
		return LMC_EINVAL;
	}
	unsigned threshold =
	        cfg->snapshot_threshold ? cfg->snapshot_threshold : DEFAULT_SNAPSHOT_THRESHOLD;
	unsigned trailing =
	        cfg->snapshot_trailing ? cfg->snapshot_trailing : DEFAULT_SNAPSHOT_TRAILING;
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

static int make_dir(const char *dir, char *err, size_t errsize)
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

static void io_close(struct raft_io *io, raft_io_close_cb cb);

int lm_cluster_init(struct lm_cluster **out, uv_loop_t *loop, const struct lm_cluster_config *cfg,
                    struct lm_cluster_fsm *fsm, char *err, size_t errsize)
{
	struct lm_cluster *c;
	int rv;

	*out = NULL;
	rv = check_config(cfg, fsm, err, errsize);
	if (rv != 0)
		return rv;
	rv = make_dir(cfg->dir, err, errsize);
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
	                                 .cluster_id_arg = cfg->log_arg};
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
	/* Our callback goes between raft_uv's close and raft's (see "Closing"). */
	c->uv_io_close = c->io.close;
	c->io.close = io_close;

	/* Version 1: synchronous snapshots whose buffers raft frees.  Version
	 * 3 (async) is refused with raft_uv in 0.15 (stack-notes.md §1.6). */
	c->raft_fsm.version = 1;
	c->raft_fsm.data = c;
	c->raft_fsm.apply = fsm_apply;
	c->raft_fsm.snapshot = fsm_snapshot;
	c->raft_fsm.restore = fsm_restore;
	rv = raft_init(&c->raft, &c->io, &c->raft_fsm, cfg->id, c->address);
	if (rv != 0) {
		/* c is calloc'd, so the message is at worst empty. */
		snprintf(err, errsize, "raft: %s",
		         *raft_errmsg(&c->raft) ? raft_errmsg(&c->raft) : raft_strerror(rv));
		goto err_io;
	}
	c->raft.data = c;
	raft_set_heartbeat_timeout(&c->raft,
	                           cfg->heartbeat_ms ? cfg->heartbeat_ms : DEFAULT_HEARTBEAT_MS);
	raft_set_election_timeout(&c->raft,
	                          cfg->election_ms ? cfg->election_ms : DEFAULT_ELECTION_MS);
	raft_set_snapshot_threshold(&c->raft, cfg->snapshot_threshold ? cfg->snapshot_threshold
	                                                              : DEFAULT_SNAPSHOT_THRESHOLD);
	raft_set_snapshot_trailing(&c->raft, cfg->snapshot_trailing ? cfg->snapshot_trailing
	                                                            : DEFAULT_SNAPSHOT_TRAILING);
	/* A raft 0.15 follower that is taking a snapshot of its own answers an
	 * InstallSnapshot with RAFT_BUSY, and the leader resends only after
	 * this timeout (seen in test_three_nodes; raft's default is 30 s).
	 * Our snapshots are small enough to cross a LAN well within it. */
	raft_set_install_snapshot_timeout(&c->raft, cfg->install_snapshot_ms
	                                                    ? cfg->install_snapshot_ms
	                                                    : DEFAULT_INSTALL_SNAPSHOT_MS);
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
		seterr(c, "bootstrap in %s: %s", c->dir, raft_errmsg(&c->raft));
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
		seterr(c, "raft start in %s as %s: %s", c->dir, c->address,
		       *raft_errmsg(&c->raft) ? raft_errmsg(&c->raft) : raft_strerror(rv));
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
			seterr(c, "post-election barrier: %s", raft_strerror(status));
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
		seterr(c, "post-election barrier: %s", raft_strerror(rv));
}

static void replace_step(struct lm_cluster *c);

static void watch_cb(uv_check_t *h)
{
	struct lm_cluster *c = h->data;
	raft_id leader;
	const char *address;

	if (c->closing)
		return;
	drop_result(c);
	maybe_barrier(c);
	if (c->replace != NULL && !c->replace->inflight)
		replace_step(c);

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

/* ---- Proposals ---- */

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct proposal *p = req->data;
	struct lm_cluster *c = p->c;

	assert(c->pending > 0);
	c->pending--;
	if (status == 0) {
		/* raft calls us right after fsm_apply() of this very entry, so
		 * the result is still the one we keep; from here on it is the
		 * proposer's. */
		assert(result == NULL || (result == c->result && c->result_index == req->index));
		if (result != NULL)
			c->result = NULL;
		p->cb(p->arg, 0, result);
	} else {
		/* RAFT_LEADERSHIPLOST, or RAFT_SHUTDOWN, or a failed disk write
		 * on the leader: in each case the entry may already sit in a
		 * majority of logs and commit under the next leader
		 * (stack-notes.md §1.5), so we cannot say it failed. */
		p->cb(p->arg, LMC_EINDOUBT, NULL);
	}
	free(p);
}

int lm_cluster_propose(struct lm_cluster *c, const void *cmd, size_t len, lm_cluster_done_cb cb,
                       void *arg)
{
	struct raft_buffer buf;
	struct proposal *p;
	int rv;

	if (c->closing)
		return LMC_ESHUTDOWN;
	if (cb == NULL || (cmd == NULL && len > 0))
		return LMC_EINVAL;
	if (len > LM_CLUSTER_MAX_COMMAND)
		return LMC_ETOOLARGE;
	/* A leader before its barrier could decide from a stale state. */
	if (!lm_cluster_ready(c))
		return LMC_ENOTLEADER;
	p = malloc(sizeof *p);
	if (p == NULL)
		return LMC_ENOMEM;
	buf.base = lm_cluster_wrap(cmd, len, &buf.len);
	if (buf.base == NULL) {
		free(p);
		return LMC_ENOMEM;
	}
	p->req.data = p;
	p->c = c;
	p->cb = cb;
	p->arg = arg;
	/* Exactly one buffer: with several, raft 0.15 calls back after the
	 * first entry only (stack-notes.md §1.5). */
	rv = raft_apply(&c->raft, &p->req, &buf, 1, apply_cb);
	if (rv != 0) {
		/* The buffer is still ours when raft_apply() fails. */
		raft_free(buf.base);
		free(p);
		switch (rv) {
		case RAFT_NOTLEADER:
		case RAFT_LEADERSHIPLOST: return LMC_ENOTLEADER;
		case RAFT_NOMEM: return LMC_ENOMEM;
		case RAFT_SHUTDOWN: return LMC_ESHUTDOWN;
		case RAFT_TOOBIG: return LMC_ETOOLARGE;
		default: seterr(c, "propose: %s", raft_strerror(rv)); return LMC_EIO;
		}
	}
	c->pending++;
	return 0;
}

/* ---- Status ---- */

static const struct raft_server *find_server(struct lm_cluster *c, unsigned id);

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
	const struct raft_server *self = find_server(c, c->id);
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

/* ---- Membership ---- */

static const struct raft_server *find_server(struct lm_cluster *c, unsigned id)
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

static void replace_finish(struct lm_cluster *c, int status)
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
		seterr(c, "replacing server %u by %u: %s", r->old_id, r->new_id,
		       raft_strerror(status));
		replace_finish(c, change_error(status));
		return;
	}
	if (c->closing) {
		replace_finish(c, LMC_ESHUTDOWN);
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
		seterr(c, "replacing server %u by %u: %s", r->old_id, r->new_id,
		       raft_errmsg(&c->raft));
		replace_finish(c, change_error(rv));
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
static void replace_step(struct lm_cluster *c)
{
	struct replace *r = c->replace;

	if (raft_state(&c->raft) != RAFT_LEADER) {
		seterr(c, "replacing server %u by %u: lost the leadership", r->old_id, r->new_id);
		replace_finish(c, LMC_ENOTLEADER);
		return;
	}
	r->req.data = r;
	const struct raft_server *fresh = find_server(c, r->new_id);
	const struct raft_server *old = find_server(c, r->old_id);
	if (fresh == NULL) {
		if (r->added) {
			/* Never remove the old server before the new one votes. */
			seterr(c, "server %u left the configuration while joining", r->new_id);
			replace_finish(c, LMC_EINVAL);
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
		seterr(c, "server %u is already in the cluster at %s", r->new_id, fresh->address);
		replace_finish(c, LMC_EINVAL);
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
	replace_finish(c, 0);
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
	if (check_address("new server", new_address, err, sizeof err) != 0) {
		seterr(c, "%s", err);
		return LMC_EINVAL;
	}
	if (c->replace != NULL) {
		seterr(c, "another replacement is in progress");
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

/* ---- Closing ----
 *
 * raft_close() makes raft_uv close its handles and finish its disk work, then
 * call back.  In raft 0.15 (and up to canonical/raft 0.18) raft_uv may call
 * that close callback twice: the writer of the last open segment finishes
 * closing after the callback fired and fires it again (canonical/raft issue
 * #341, fixed in cowsql/raft PR #45).  The second call runs raft's ioCloseCb
 * again (a double free), and if raft_uv's memory was already released it
 * jumps through a dangling pointer; test_one_node_log crashed that way about
 * once in a hundred runs.  So we put our own callback between raft_uv and
 * raft, pass the first call on and swallow the rest, and release raft_uv's
 * memory only once the loop has had no request in flight for two ticks in a
 * row with no further call: what raft_uv still does after its callback is
 * thread-pool work (a loop request) and handle closes (done within the loop
 * iteration that started them). */

#define REAP_TICK_MS    5
#define REAP_GIVE_UP_MS 10000

static struct lm_cluster *cluster_of_io(struct raft_io *io)
{
	return (struct lm_cluster *)(void *)((char *)io - offsetof(struct lm_cluster, io));
}

static void io_closed(struct raft_io *io)
{
	struct lm_cluster *c = cluster_of_io(io);

	if (c->io_close_calls++ == 0)
		c->raft_io_close_cb(io);
}

static void io_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct lm_cluster *c = cluster_of_io(io);

	c->raft_io_close_cb = cb;
	c->uv_io_close(io, io_closed);
}

/* Requests (thread-pool work, file system and stream requests) still in
 * flight on the loop; a public field of uv_loop_t that uv_loop_alive() reads
 * too. */
static unsigned loop_requests(uv_loop_t *loop)
{
	return loop->active_reqs.count;
}

static void handle_closed(uv_handle_t *h)
{
	struct lm_cluster *c = h->data;

	assert(c->open_handles > 0);
	if (--c->open_handles > 0)
		return;
	assert(c->pending == 0);
	drop_result(c);
	lm_cluster_close_cb cb = c->close_cb;
	void *arg = c->close_arg;
	free(c->dir);
	/* A leaked raft_uv still points into c. */
	if (!c->leak)
		free(c);
	if (cb != NULL)
		cb(arg);
}

static void reap_cb(uv_timer_t *t)
{
	struct lm_cluster *c = t->data;

	if (c->io_close_calls != c->reap_calls || loop_requests(c->loop) != 0) {
		c->reap_calls = c->io_close_calls;
		c->reap_quiet = 0;
		if (uv_now(c->loop) < c->reap_deadline)
			return;
		/* Better a leak at shutdown than a jump through freed memory. */
		lm_log_warning("cluster: raft's I/O still busy %d ms after closing; "
		               "leaving its memory allocated",
		               REAP_GIVE_UP_MS);
		c->leak = true;
	} else if (++c->reap_quiet < 2) {
		return;
	}
	uv_timer_stop(&c->defer);
	if (!c->leak) {
		raft_uv_close(&c->io);
		lm_transport_close(&c->transport);
	}
	uv_close((uv_handle_t *)&c->watch, handle_closed);
	uv_close((uv_handle_t *)&c->defer, handle_closed);
}

static void raft_closed(struct raft *raft)
{
	struct lm_cluster *c = raft->data;

	/* raft has failed every pending request by now, and calls nothing of
	 * ours any more: a replacement it still held is over too. */
	if (c->replace != NULL)
		replace_finish(c, LMC_ESHUTDOWN);
	c->reap_calls = c->io_close_calls;
	c->reap_quiet = 0;
	c->reap_deadline = uv_now(c->loop) + REAP_GIVE_UP_MS;
	uv_timer_start(&c->defer, reap_cb, REAP_TICK_MS, REAP_TICK_MS);
}

static void defer_cb(uv_timer_t *t)
{
	struct lm_cluster *c = t->data;

	raft_close(&c->raft, raft_closed);
}

void lm_cluster_close(struct lm_cluster *c, lm_cluster_close_cb cb, void *arg)
{
	assert(!c->closing);
	c->closing = true;
	c->close_cb = cb;
	c->close_arg = arg;
	uv_check_stop(&c->watch);
	/* raft_close() from inside one of raft's own callbacks (a proposer's
	 * done callback, say) would tear raft down under its own feet: run it
	 * from the next loop iteration instead. */
	uv_timer_start(&c->defer, defer_cb, 0, 0);
}
