/* The cluster seam on real raft: one node and three nodes on loopback, each
 * driving a counter state machine, with the raft log and snapshots on disk.
 *
 * Waits are bounded (a deadline on the loop, never an assertion on how long
 * something took), so a slow machine makes the suite slower, not red. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "core/error.h"
#include "lmd/cluster.h"
#include "lmd/faults.h"
#include "tests/unit/helpers.h"

/* Generous bound on any one wait: elections take a second or two here. */
#define WAIT_MS 10000

/* ---- A counter state machine ---- */

struct counter {
	int64_t total;
	uint64_t index; /* last index applied or restored */
	unsigned applied, snapshots, restores;
};

static int64_t command_value(const uint8_t *cmd, size_t len)
{
	int64_t v = 0;
	for (size_t i = 0; i < len; i++)
		v += cmd[i];
	return v;
}

/* Command number k: len bytes whose values depend on k and on the position,
 * so that a byte lost or moved by the padding changes the total. */
static void make_command(unsigned k, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(k * 37 + i * 11 + 1);
}

static int counter_apply(void *data, uint64_t index, const void *cmd, size_t len, void **result)
{
	struct counter *k = data;
	int64_t *r = malloc(sizeof *r);

	assert_true(index > k->index);
	assert_non_null(r);
	k->index = index;
	k->total += command_value(cmd, len);
	k->applied++;
	*r = k->total;
	*result = r;
	return 0;
}

static int counter_snapshot(void *data, void **buf, size_t *len)
{
	struct counter *k = data;
	uint8_t *p = malloc(16);

	assert_non_null(p);
	memcpy(p, &k->total, 8);
	memcpy(p + 8, &k->index, 8);
	*buf = p;
	*len = 16;
	k->snapshots++;
	return 0;
}

static int counter_restore(void *data, uint64_t index, const void *buf, size_t len)
{
	struct counter *k = data;
	uint64_t stored;

	assert_int_equal(len, 16);
	memcpy(&k->total, buf, 8);
	memcpy(&stored, (const uint8_t *)buf + 8, 8);
	/* The snapshot stands for every entry up to index, raft's own entries
	 * (barriers, configurations) included, so the last command the state
	 * saw may come before it, never after. */
	assert_true(stored <= index);
	k->index = index;
	k->restores++;
	return 0;
}

/* ---- Nodes on one loop ---- */

struct node {
	char address[32];
	char *dir;
	struct lm_cluster_config cfg;
	struct counter k;
	struct lm_cluster_fsm fsm;
	struct lm_cluster *c; /* NULL while down */
	bool closing;
	unsigned became_ready; /* on_change(true) calls */
};

struct world {
	uv_loop_t loop;
	uv_timer_t tick; /* wakes the loop so that deadlines are checked */
	struct node nodes[4];
	unsigned n;
	int64_t total; /* what every counter should reach */
	unsigned done; /* proposals called back */
	unsigned failed;
	int reserved[4]; /* sockets holding the nodes' ports */
};

/* Reserves n loopback ports, all different, for the whole test: parallel
 * test runs must not take them, not even while a node is down.  Each port
 * is bound exclusively first (so a port someone else holds is skipped),
 * then marked SO_REUSEADDR: raft's listener (libuv binds with SO_REUSEADDR)
 * may then bind and listen on it, while another process's exclusive probe
 * still fails.  Ports come from below the kernel's ephemeral range, where
 * outgoing connections (raft dials its peers) never land. */
static void reserve_ports(int *fds, unsigned *ports, unsigned n)
{
	unsigned low = 32768, high = 60999;
	int one = 1;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f != NULL) {
		if (fscanf(f, "%u %u", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	if (low < 12000)
		low = 65535; /* no room below: probe above the range instead */
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (unsigned i = 0; i < n; i++) {
		for (;;) {
			unsigned port = low == 65535 ? high + 1 + (unsigned)rand() % (65535 - high)
			                             : 10000 + (unsigned)rand() % (low - 10000);
			struct sockaddr_in sa = {.sin_family = AF_INET};
			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sa.sin_port = htons((uint16_t)port);
			fds[i] = socket(AF_INET, SOCK_STREAM, 0);
			assert_true(fds[i] >= 0);
			if (bind(fds[i], (struct sockaddr *)&sa, sizeof sa) == 0) {
				assert_int_equal(setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one,
				                            sizeof one),
				                 0);
				ports[i] = port;
				break;
			}
			close(fds[i]);
		}
	}
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

static void world_init(struct world *w, unsigned nnodes, unsigned threshold)
{
	memset(w, 0, sizeof *w);
	assert_int_equal(uv_loop_init(&w->loop), 0);
	uv_timer_init(&w->loop, &w->tick);
	w->n = nnodes;
	unsigned ports[4];
	reserve_ports(w->reserved, ports, 4);
	for (unsigned i = 0; i < 4; i++) {
		struct node *n = &w->nodes[i];
		snprintf(n->address, sizeof n->address, "127.0.0.1:%u", ports[i]);
		n->dir = th_tempdir();
	}
	for (unsigned i = 0; i < 4; i++) {
		struct lm_cluster_config *cfg = &w->nodes[i].cfg;
		cfg->id = i + 1;
		cfg->nnodes = nnodes;
		for (unsigned j = 0; j < nnodes; j++)
			cfg->addresses[j] = w->nodes[j].address;
		cfg->address = w->nodes[i].address;
		cfg->dir = w->nodes[i].dir;
		cfg->heartbeat_ms = 50;
		cfg->election_ms = 500;
		cfg->snapshot_threshold = threshold;
		cfg->snapshot_trailing = threshold;
		cfg->segment_size = 1024 * 1024;
		cfg->install_snapshot_ms = 1000;
		cfg->join = i >= nnodes;
	}
}

static void world_close(struct world *w)
{
	for (unsigned i = 0; i < 4; i++) {
		assert_null(w->nodes[i].c);
		th_rmtree(w->nodes[i].dir);
		free(w->nodes[i].dir);
		close(w->reserved[i]);
	}
	uv_close((uv_handle_t *)&w->tick, NULL);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	/* Every handle of every cluster is gone. */
	assert_int_equal(uv_loop_close(&w->loop), 0);
}

/* Runs the loop until done(arg) holds; false if WAIT_MS passed first. */
static bool run_until(struct world *w, bool (*done)(struct world *, void *), void *arg)
{
	uv_update_time(&w->loop);
	uint64_t deadline = uv_now(&w->loop) + WAIT_MS;
	bool ok;

	uv_timer_start(&w->tick, tick_cb, 10, 10);
	while (!(ok = done(w, arg)) && uv_now(&w->loop) < deadline)
		uv_run(&w->loop, UV_RUN_ONCE);
	uv_timer_stop(&w->tick);
	return ok;
}

static void on_change(void *arg, bool ready)
{
	struct node *n = arg;
	if (ready)
		n->became_ready++;
}

static void node_open(struct world *w, unsigned i)
{
	struct node *n = &w->nodes[i];
	char err[256];

	memset(&n->k, 0, sizeof n->k);
	n->fsm = (struct lm_cluster_fsm){&n->k, counter_apply, counter_snapshot, counter_restore};
	n->became_ready = 0;
	int rv = lm_cluster_init(&n->c, &w->loop, &n->cfg, &n->fsm, err, sizeof err);
	if (rv != 0)
		fail_msg("node %u: init: %s", i + 1, err);
	lm_cluster_on_change(n->c, on_change, n);
	rv = lm_cluster_start(n->c);
	if (rv != 0)
		fail_msg("node %u: start: %s", i + 1, lm_cluster_errmsg(n->c));
}

static void node_closed(void *arg)
{
	struct node *n = arg;
	n->c = NULL;
	n->closing = false;
}

static bool node_is_closed(struct world *w, void *arg)
{
	(void)w;
	return ((struct node *)arg)->c == NULL;
}

static void node_close(struct world *w, unsigned i)
{
	struct node *n = &w->nodes[i];
	n->closing = true;
	lm_cluster_close(n->c, node_closed, n);
	assert_true(run_until(w, node_is_closed, n));
}

/* The ready node, or -1. */
static int ready_node(struct world *w)
{
	for (unsigned i = 0; i < 4; i++)
		if (w->nodes[i].c != NULL && lm_cluster_ready(w->nodes[i].c))
			return (int)i;
	return -1;
}

static bool some_node_ready(struct world *w, void *arg)
{
	(void)arg;
	return ready_node(w) >= 0;
}

static bool node_ready(struct world *w, void *arg)
{
	(void)w;
	struct node *n = arg;
	return lm_cluster_ready(n->c);
}

/* ---- Proposals ---- */

struct prop {
	struct world *w;
	int64_t expect; /* the running total this command makes */
};

static void prop_done(void *arg, int status, void *result)
{
	struct prop *p = arg;

	p->w->done++;
	if (status != 0 || result == NULL || *(int64_t *)result != p->expect)
		p->w->failed++;
	free(result);
}

static bool all_done(struct world *w, void *arg)
{
	return w->done == *(unsigned *)arg;
}

/* Proposes commands first..first+count-1 on node i (command k is (k-1)%100+1
 * bytes long) and waits until every one is committed and applied. */
static void propose_batch(struct world *w, unsigned i, unsigned first, unsigned count)
{
	struct prop *props = calloc(count, sizeof *props);
	uint8_t cmd[100];

	assert_non_null(props);
	w->done = 0;
	w->failed = 0;
	for (unsigned j = 0; j < count; j++) {
		unsigned k = first + j;
		size_t len = (k - 1) % 100 + 1;
		make_command(k, cmd, len);
		w->total += command_value(cmd, len);
		props[j].w = w;
		props[j].expect = w->total;
		assert_int_equal(lm_cluster_propose(w->nodes[i].c, cmd, len, prop_done, &props[j]),
		                 0);
	}
	assert_true(run_until(w, all_done, &count));
	assert_int_equal(w->failed, 0);
	free(props);
}

static bool all_caught_up(struct world *w, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < 4; i++)
		if (w->nodes[i].c != NULL && w->nodes[i].k.total != w->total)
			return false;
	return true;
}

static void no_call(void *arg, int status, void *result)
{
	(void)arg;
	(void)status;
	(void)result;
	fail_msg("callback of a refused proposal");
}

/* ---- Tests ---- */

/* Every command travels padded to 8 bytes behind a header that says its real
 * length, and anything that is not exactly such an envelope is refused. */
static void test_envelope(void **state)
{
	uint8_t cmd[40], *buf;
	const void *out;
	size_t size, len;

	(void)state;
	for (size_t n = 0; n <= sizeof cmd; n++) {
		make_command((unsigned)n, cmd, n);
		buf = lm_cluster_wrap(cmd, n, &size);
		assert_non_null(buf);
		assert_int_equal(size % 8, 0);
		assert_int_equal(size, 16 + (n + 7) / 8 * 8);
		assert_int_equal(lm_cluster_unwrap(buf, size, &out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, cmd, n);
		lm_cluster_wrap_free(buf);
	}

	make_command(7, cmd, 13);
	buf = lm_cluster_wrap(cmd, 13, &size);
	assert_int_equal(size, 32);
	/* Cut, not a multiple of 8, or glued to more bytes. */
	assert_int_equal(lm_cluster_unwrap(buf, 24, &out, &len), LMC_EPROTO);
	assert_int_equal(lm_cluster_unwrap(buf, 31, &out, &len), LMC_EPROTO);
	assert_int_equal(lm_cluster_unwrap(buf, 8, &out, &len), LMC_EPROTO);
	/* Each header field and the padding, one at a time. */
	const size_t fields[] = {0, 4, 6, 8, 12, 29};
	for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
		buf[fields[f]] ^= 0x40;
		assert_int_equal(lm_cluster_unwrap(buf, size, &out, &len), LMC_EPROTO);
		buf[fields[f]] ^= 0x40;
	}
	assert_int_equal(lm_cluster_unwrap(buf, size, &out, &len), 0);
	lm_cluster_wrap_free(buf);

	assert_null(lm_cluster_wrap(cmd, LM_CLUSTER_MAX_COMMAND + 1, &size));
}

static void expect_config_error(struct lm_cluster_config *cfg, struct lm_cluster_fsm *fsm, int code,
                                const char *needle)
{
	uv_loop_t loop;
	struct lm_cluster *c = (struct lm_cluster *)1;
	char err[256] = "";

	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(lm_cluster_init(&c, &loop, cfg, fsm, err, sizeof err), code);
	assert_null(c);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A configuration raft would trip over later is refused at init, with a
 * sentence that names the problem. */
static void test_bad_config(void **state)
{
	struct counter k = {0};
	struct lm_cluster_fsm fsm = {&k, counter_apply, counter_snapshot, counter_restore};
	char *dir = th_tempdir();
	struct lm_cluster_config good = {
	        .id = 1,
	        .nnodes = 3,
	        .addresses = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"},
	        .dir = dir,
	};
	struct lm_cluster_config cfg;

	(void)state;
	cfg = good;
	cfg.nnodes = 2;
	expect_config_error(&cfg, &fsm, LMC_EINVAL, "1 or 3");
	cfg = good;
	cfg.id = 4;
	expect_config_error(&cfg, &fsm, LMC_EINVAL, "node id 4");
	cfg = good;
	cfg.addresses[1] = "server2:27100";
	expect_config_error(&cfg, &fsm, LMC_EINVAL, "server2:27100");
	cfg = good;
	cfg.addresses[2] = "127.0.0.1:99999";
	expect_config_error(&cfg, &fsm, LMC_EINVAL, "server 3");
	cfg = good;
	cfg.addresses[2] = "127.0.0.1:1";
	expect_config_error(&cfg, &fsm, LMC_EINVAL, "share");
	cfg = good;
	cfg.snapshot_threshold = 100;
	cfg.snapshot_trailing = 10;
	expect_config_error(&cfg, &fsm, LMC_EINVAL, "trailing");
	cfg = good;
	cfg.heartbeat_ms = 1000;
	cfg.election_ms = 500;
	expect_config_error(&cfg, &fsm, LMC_EINVAL, "heartbeat");
	cfg = good;
	th_write(dir, "file", "x");
	cfg.dir = th_path(dir, "file");
	expect_config_error(&cfg, &fsm, LMC_EIO, "not a directory");
	fsm.restore = NULL;
	expect_config_error(&good, &fsm, LMC_EINVAL, "callback");

	th_rmtree(dir);
	free(dir);
}

/* A cluster that never started still closes cleanly; one whose raft port is
 * taken fails to start with a message, and closes cleanly too. */
static void test_start_failure(void **state)
{
	struct world w;
	struct sockaddr_in sa;
	uv_tcp_t taken;

	(void)state;
	world_init(&w, 1, 64);
	struct node *n = &w.nodes[0];
	char err[256];
	n->fsm = (struct lm_cluster_fsm){&n->k, counter_apply, counter_snapshot, counter_restore};
	assert_int_equal(lm_cluster_init(&n->c, &w.loop, &n->cfg, &n->fsm, err, sizeof err), 0);
	node_close(&w, 0);

	/* Someone else listens on node 1's raft port. */
	uv_tcp_init(&w.loop, &taken);
	unsigned port = (unsigned)atoi(strchr(w.nodes[0].address, ':') + 1);
	uv_ip4_addr("127.0.0.1", (int)port, &sa);
	assert_int_equal(uv_tcp_bind(&taken, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&taken, 1, NULL), 0);

	assert_int_equal(lm_cluster_init(&n->c, &w.loop, &n->cfg, &n->fsm, err, sizeof err), 0);
	assert_int_equal(lm_cluster_start(n->c), LMC_EIO);
	assert_true(*lm_cluster_errmsg(n->c) != '\0');
	assert_false(lm_cluster_ready(n->c));
	node_close(&w, 0);

	uv_close((uv_handle_t *)&taken, NULL);
	world_close(&w);
}

/* One node: proposals of every length from 1 to 100 bytes commit in order,
 * each callback gets the total its command made, and a restart on the same
 * directory replays the same state, from the log alone or from a snapshot
 * plus the log after it. */
/* Whether raft finished writing a snapshot into the node's directory (raft
 * writes it in the background and drops it if closed meanwhile). */
static bool snapshot_on_disk(struct world *w, void *arg)
{
	struct node *n = arg;
	DIR *d = opendir(n->dir);
	struct dirent *e;
	bool found = false;

	(void)w;
	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL)
		found = strncmp(e->d_name, "snapshot-", 9) == 0 &&
		        strstr(e->d_name, ".meta") != NULL;
	closedir(d);
	return found;
}

static void one_node(unsigned threshold)
{
	struct world w;
	struct lm_cluster_status st;
	uint8_t big[1];

	world_init(&w, 1, threshold);
	node_open(&w, 0);
	struct node *n = &w.nodes[0];

	/* Before the post-election barrier nothing is accepted. */
	assert_false(lm_cluster_ready(n->c));
	assert_int_equal(lm_cluster_propose(n->c, "x", 1, no_call, NULL), LMC_ENOTLEADER);
	assert_true(run_until(&w, node_ready, n));
	assert_int_equal(n->became_ready, 1);

	assert_int_equal(lm_cluster_propose(n->c, big, LM_CLUSTER_MAX_COMMAND + 1, no_call, NULL),
	                 LMC_ETOOLARGE);
	assert_int_equal(lm_cluster_propose(n->c, NULL, 3, no_call, NULL), LMC_EINVAL);

	propose_batch(&w, 0, 1, 100);
	assert_int_equal(n->k.total, w.total);
	assert_int_equal(n->k.applied, 100);
	if (threshold < 100) {
		assert_true(n->k.snapshots > 0);
		assert_true(run_until(&w, snapshot_on_disk, n));
	}

	lm_cluster_status(n->c, &st);
	assert_int_equal(st.role, LM_CLUSTER_LEADER);
	assert_string_equal(lm_cluster_role_name(st.role), "leader");
	assert_true(st.ready);
	assert_int_equal(st.leader_id, 1);
	assert_string_equal(st.leader_address, n->address);
	assert_true(st.term >= 1);
	/* Entry 1 is the configuration, then a barrier, then our 100. */
	assert_true(st.applied_index >= 102);
	assert_int_equal(st.applied_index, n->k.index);
	assert_true(st.commit_index >= st.applied_index);
	assert_true(st.last_index >= st.commit_index);
	uint64_t applied = st.applied_index;
	node_close(&w, 0);

	/* Same directory, fresh state machine. */
	node_open(&w, 0);
	if (threshold < 100)
		assert_int_equal(n->k.restores, 1);
	else
		assert_int_equal(n->k.restores, 0);
	assert_true(run_until(&w, node_ready, n));
	assert_int_equal(n->k.total, w.total);
	assert_int_equal(n->k.index, applied);
	/* And it goes on from there. */
	propose_batch(&w, 0, 101, 10);
	assert_int_equal(n->k.total, w.total);
	node_close(&w, 0);
	world_close(&w);
}

static void test_one_node_log(void **state)
{
	(void)state;
	one_node(1024);
}

static void test_one_node_snapshot(void **state)
{
	(void)state;
	one_node(16);
}

#ifdef LM_TEST_HOOKS
/* A raft log write that fails (LM_FAULT_RAFT_WRITE) fails its proposal at
 * once, with nothing applied and no callback, and the node goes on: the same
 * command proposed again commits, and after a restart the log replays
 * exactly the commands that were acknowledged. */
static void test_failed_raft_write(void **state)
{
	struct world w;
	uint8_t cmd[100];

	(void)state;
	world_init(&w, 1, 1024);
	struct node *n = &w.nodes[0];
	node_open(&w, 0);
	assert_true(run_until(&w, node_ready, n));
	propose_batch(&w, 0, 1, 5);
	for (unsigned k = 6; k <= 10; k++) {
		size_t len = (k - 1) % 100 + 1;
		unsigned applied = n->k.applied;
		make_command(k, cmd, len);
		lm_fault_set(LM_FAULT_RAFT_WRITE, 1, 0);
		assert_int_equal(lm_cluster_propose(n->c, cmd, len, no_call, NULL), LMC_EIO);
		assert_int_equal(lm_fault_failures(LM_FAULT_RAFT_WRITE), 1);
		lm_fault_set(LM_FAULT_RAFT_WRITE, 0, 0);
		assert_non_null(strstr(lm_cluster_errmsg(n->c), "propose: "));
		assert_true(lm_cluster_ready(n->c));
		assert_int_equal(n->k.applied, applied);
		propose_batch(&w, 0, k, 1);
		assert_int_equal(n->k.applied, applied + 1);
	}
	assert_int_equal(n->k.total, w.total);
	node_close(&w, 0);

	node_open(&w, 0);
	assert_true(run_until(&w, node_ready, n));
	assert_int_equal(n->k.total, w.total);
	assert_int_equal(n->k.applied, 10);
	node_close(&w, 0);
	world_close(&w);
}
#endif

/* A command in flight when its node closes. */
struct inflight {
	struct node *n;
	unsigned k;
	int calls;
	int status;
	int64_t result;
};

static void inflight_done(void *arg, int status, void *result)
{
	struct inflight *f = arg;

	f->calls++;
	f->status = status;
	if (status == 0) {
		f->result = *(int64_t *)result;
		free(result);
	} else {
		assert_null(result);
	}
	/* Closing from inside a done callback is allowed. */
	if (f->k == 1)
		lm_cluster_close(f->n->c, node_closed, f->n);
}

/* A node that closes with commands in flight calls every proposer back once:
 * the ones it saw applied with their results, the others with "outcome
 * unknown" -- and those may well be in the log and replayed at the next
 * start, never fewer than were acknowledged. */
static void test_close_with_proposals_in_flight(void **state)
{
	enum { N = 20 };
	struct world w;
	struct inflight f[N];
	int64_t totals[N + 1] = {0};
	uint8_t cmd[100];

	(void)state;
	world_init(&w, 1, 1024);
	struct node *n = &w.nodes[0];
	node_open(&w, 0);
	assert_true(run_until(&w, node_ready, n));
	for (unsigned k = 1; k <= N; k++) {
		make_command(k, cmd, k);
		totals[k] = totals[k - 1] + command_value(cmd, k);
		f[k - 1] = (struct inflight){.n = n, .k = k};
		assert_int_equal(lm_cluster_propose(n->c, cmd, k, inflight_done, &f[k - 1]), 0);
	}
	assert_true(run_until(&w, node_is_closed, n));

	unsigned acked = 0;
	for (unsigned k = 1; k <= N; k++) {
		assert_int_equal(f[k - 1].calls, 1);
		if (f[k - 1].status == 0) {
			/* Applied in order: the acknowledged ones come first. */
			assert_int_equal(acked, k - 1);
			assert_int_equal(f[k - 1].result, totals[k]);
			acked = k;
		} else {
			assert_int_equal(f[k - 1].status, LMC_EINDOUBT);
		}
	}
	assert_true(acked >= 1);

	node_open(&w, 0);
	assert_true(run_until(&w, node_ready, n));
	unsigned replayed = acked;
	while (replayed <= N && totals[replayed] != n->k.total)
		replayed++;
	if (replayed > N)
		fail_msg("total %lld after restart is no prefix of the commands",
		         (long long)n->k.total);
	w.total = n->k.total;
	propose_batch(&w, 0, N + 1, 5);
	node_close(&w, 0);
	world_close(&w);
}

static bool followers_know_leader(struct world *w, void *arg)
{
	unsigned leader = *(unsigned *)arg;
	struct lm_cluster_status st;

	for (unsigned i = 0; i < w->n; i++) {
		if (w->nodes[i].c == NULL)
			continue;
		lm_cluster_status(w->nodes[i].c, &st);
		if (st.leader_id != leader + 1)
			return false;
	}
	return true;
}

static int start_triad(struct world *w)
{
	for (unsigned i = 0; i < 3; i++)
		node_open(w, i);
	assert_true(run_until(w, some_node_ready, NULL));
	int leader = ready_node(w);
	assert_true(leader >= 0);
	assert_int_equal(w->nodes[leader].became_ready, 1);
	unsigned l = (unsigned)leader;
	assert_true(run_until(w, followers_know_leader, &l));
	return leader;
}

/* Three nodes on loopback: only the leader accepts proposals and all three
 * apply them identically; when the leader goes away another takes over, and
 * the old leader catches up when it comes back. */
static void test_three_nodes(void **state)
{
	struct world w;
	struct lm_cluster_status st;

	(void)state;
	world_init(&w, 3, 16);
	int leader = start_triad(&w);

	for (unsigned i = 0; i < 3; i++) {
		if ((int)i == leader)
			continue;
		assert_false(lm_cluster_ready(w.nodes[i].c));
		assert_int_equal(lm_cluster_propose(w.nodes[i].c, "x", 1, no_call, NULL),
		                 LMC_ENOTLEADER);
		lm_cluster_status(w.nodes[i].c, &st);
		assert_int_equal(st.role, LM_CLUSTER_FOLLOWER);
		assert_string_equal(st.leader_address, w.nodes[leader].address);
	}
	propose_batch(&w, (unsigned)leader, 1, 40);
	assert_true(run_until(&w, all_caught_up, NULL));

	/* The leader leaves; one of the two others takes over. */
	node_close(&w, (unsigned)leader);
	assert_true(run_until(&w, some_node_ready, NULL));
	int next = ready_node(&w);
	assert_true(next >= 0 && next != leader);
	assert_int_equal(w.nodes[next].became_ready, 1);
	propose_batch(&w, (unsigned)next, 41, 40);
	assert_true(run_until(&w, all_caught_up, NULL));

	/* The old leader returns with an empty state machine and catches up
	 * from its own log and the new leader (by snapshot when the leader's
	 * log no longer reaches back far enough). */
	node_open(&w, (unsigned)leader);
	assert_true(run_until(&w, all_caught_up, NULL));
	propose_batch(&w, (unsigned)next, 81, 10);
	assert_true(run_until(&w, all_caught_up, NULL));
	uint64_t index = w.nodes[next].k.index;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(w.nodes[i].k.index, index);

	for (unsigned i = 0; i < 3; i++)
		node_close(&w, i);
	world_close(&w);
}

static void replaced(void *arg, int status)
{
	int *out = arg;
	*out = status;
}

static bool replace_done(struct world *w, void *arg)
{
	(void)w;
	return *(int *)arg != 1;
}

/* A server that is gone for good is replaced by a new one with a new id,
 * which catches up and counts in the quorum from then on. */
static void test_replace(void **state)
{
	struct world w;
	int status = 1;

	(void)state;
	world_init(&w, 3, 16);
	unsigned leader = (unsigned)start_triad(&w);
	propose_batch(&w, leader, 1, 40);
	unsigned gone = (leader + 1) % 3, other = (leader + 2) % 3;
	node_close(&w, gone);

	node_open(&w, 3); /* id 4, cfg.join */
	assert_int_equal(lm_cluster_replace(w.nodes[other].c, gone + 1, 4, w.nodes[3].address,
	                                    replaced, &status),
	                 LMC_ENOTLEADER);
	assert_int_equal(lm_cluster_replace(w.nodes[leader].c, gone + 1, 4, w.nodes[3].address,
	                                    replaced, &status),
	                 0);
	assert_true(run_until(&w, replace_done, &status));
	if (status != 0)
		fail_msg("replace: %s", lm_cluster_errmsg(w.nodes[leader].c));
	assert_true(run_until(&w, all_caught_up, NULL));

	/* Now the leader and node 4 are a quorum without the third one. */
	node_close(&w, other);
	propose_batch(&w, leader, 41, 20);
	assert_true(run_until(&w, all_caught_up, NULL));
	/* Replacing again finds nothing left to do. */
	status = 1;
	assert_int_equal(lm_cluster_replace(w.nodes[leader].c, gone + 1, 4, w.nodes[3].address,
	                                    replaced, &status),
	                 0);
	assert_true(run_until(&w, replace_done, &status));
	assert_int_equal(status, 0);

	node_close(&w, leader);
	node_close(&w, 3);
	world_close(&w);
}

static bool node_votes(struct world *w, void *arg)
{
	struct lm_cluster_status st;
	(void)w;
	lm_cluster_status(((struct node *)arg)->c, &st);
	return st.voter;
}

/* A server that lost its disk comes back on the same host and port under a
 * new id: raft cannot hold two servers at one address, so the old one goes
 * first, and the cluster still ends with three voters. */
static void test_replace_same_address(void **state)
{
	struct world w;
	int status = 1;
	struct lm_cluster_member m[4];
	struct lm_cluster_status st;

	(void)state;
	world_init(&w, 3, 16);
	unsigned leader = (unsigned)start_triad(&w);
	propose_batch(&w, leader, 1, 40);
	unsigned gone = (leader + 1) % 3, other = (leader + 2) % 3;
	node_close(&w, gone);

	snprintf(w.nodes[3].address, sizeof w.nodes[3].address, "%s", w.nodes[gone].address);
	node_open(&w, 3); /* id 4, cfg.join, at the old server's address */
	lm_cluster_status(w.nodes[3].c, &st);
	assert_false(st.voter);
	assert_int_equal(lm_cluster_replace(w.nodes[leader].c, gone + 1, 4, w.nodes[3].address,
	                                    replaced, &status),
	                 0);
	assert_true(run_until(&w, replace_done, &status));
	if (status != 0)
		fail_msg("replace: %s", lm_cluster_errmsg(w.nodes[leader].c));
	assert_true(run_until(&w, all_caught_up, NULL));
	assert_int_equal(lm_cluster_members(w.nodes[leader].c, m, 4), 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(m[i].voter);
		assert_int_not_equal(m[i].id, gone + 1);
	}
	/* The newcomer learns that it votes from the last configuration
	 * entry, which may reach it after the commands. */
	assert_true(run_until(&w, node_votes, &w.nodes[3]));

	/* The leader and the newcomer are a quorum on their own. */
	node_close(&w, other);
	propose_batch(&w, leader, 41, 20);
	assert_true(run_until(&w, all_caught_up, NULL));

	node_close(&w, leader);
	node_close(&w, 3);
	world_close(&w);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_start_failure),
		cmocka_unit_test(test_one_node_log),
		cmocka_unit_test(test_one_node_snapshot),
		cmocka_unit_test(test_close_with_proposals_in_flight),
#ifdef LM_TEST_HOOKS
		cmocka_unit_test(test_failed_raft_write),
#endif
		cmocka_unit_test(test_three_nodes),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_replace_same_address),
	};
	/* clang-format on */
	/* As in lmd: raft's transport writes to peers that may have gone. */
	signal(SIGPIPE, SIG_IGN);
	/* TEST_FILTER=test_three_nodes runs one test. */
	if (getenv("TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	printf("raft %s\n", lm_cluster_raft_version());
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
