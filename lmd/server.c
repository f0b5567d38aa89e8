/* lmd's start-up, its glue to the cluster and the pool, and the sweeps
 * that expire silent sessions. */
#include "config.h"

#include "lmd/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/date.h"
#include "core/key.h"
#include "core/error.h"
#include "core/lockcode.h"
#include "lmd/bootstrap.h"
#include "lmd/datadir.h"
#include "lmd/disk.h"
#include "lmd/faults.h"
#include "lmd/instance.h"
#include "lmd/licfile.h"
#include "lmd/log.h"
#include "lmd/notify.h"
#include "proto/command.pb-c.h"
#include "proto/frame.h"

#ifdef LM_TEST_HOOKS
/* Test builds only: seconds added to the wall clock, read from the file
 * LM_TEST_CLOCK_SKEW_FILE names (at most every 100 ms), so that a test can
 * jump the leader's clock without root or a time namespace. */
static int64_t clock_skew_us(void)
{
	static int64_t skew, read_at;
	const char *path = getenv("LM_TEST_CLOCK_SKEW_FILE");
	struct timespec mono;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	int64_t now = (int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
	if (path && now - read_at >= 100) {
		read_at = now;
		FILE *f = fopen(path, "r");
		long long seconds = 0;
		if (f && fscanf(f, "%lld", &seconds) == 1)
			skew = seconds * 1000000;
		if (f)
			fclose(f);
	}
	return skew;
}
#endif

/* The wall clock only ever moves forward here: commands carry this time
 * and the pool judges license dates by it, so a clock set back (by hand,
 * by a bad NTP step) must not make an expired license valid again.  Leases
 * and session expiry use the monotonic clock (uv_now) and ignore it. */
int64_t lm_server_now_us(void)
{
	static int64_t latest;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#ifdef LM_TEST_HOOKS
	now += clock_skew_us();
#endif
	if (now < latest)
		now = latest;
	latest = now;
	return now;
}

/* ---- the license ---- */

/* The same checks as at every reread (licfile.h): exits naming the file,
 * the line and what to do when the license cannot be served here. */
static void load_license(struct lm_server *s)
{
	char err[1024];
	if (lm_key_load_public(s->cfg.pubkey_path, &s->vendor_key, err, sizeof err) != 0)
		lm_fatal("%s: %s", s->cfg.pubkey_path, err);
	struct lm_licfile_rules rules = {
	        .path = s->cfg.license_path, .vendor_key = s->vendor_key, .node = s->node};
	if (lm_licfile_load(&rules, &s->license, err, sizeof err) != 0)
		lm_fatal("%s", err);
}

/* Raft's 0.15 TCP transport takes IPv4 literals only (stack-notes §1.12). */
static void resolve_ipv4(const char *host, char *out, size_t size)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		lm_fatal(
		        "replication host %s: %s (the replication transport needs an IPv4 address)",
		        host, gai_strerror(rc));
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)size);
	freeaddrinfo(res);
}

static void plan_addresses(struct lm_server *s)
{
	const struct lm_license_file *f = &s->license;
	if (s->node > (unsigned)f->nservers)
		lm_fatal("--node %u: %s has %d SERVER line%s", s->node, s->cfg.license_path,
		         f->nservers, f->nservers == 1 ? "" : "s");
	s->port = s->cfg.port ? s->cfg.port : f->servers[s->node - 1].port;
	if (!s->port)
		s->port = 27000;
	for (int i = 0; i < f->nservers; i++) {
		unsigned port = (unsigned)i + 1 == s->node ? s->port : f->servers[i].port;
		snprintf(s->addresses[i], sizeof s->addresses[i], "%u@%s", port,
		         f->servers[i].host);
		/* Every server computes every address the same way, so the
		 * three must be started with the same --peer-port. */
		unsigned peer = s->cfg.peer_ports[i] ? s->cfg.peer_ports[i] : port + 100;
		if (peer > 65535)
			lm_fatal("SERVER line %d: port %u + 100 is not a port; give --peer-port",
			         i + 1, port);
		char ip[INET_ADDRSTRLEN];
		/* A single server replicates to nobody: keep its raft port on
		 * loopback whatever its host name says. */
		if (f->nservers == 1)
			snprintf(ip, sizeof ip, "127.0.0.1");
		else
			resolve_ipv4(s->cfg.peer_hosts[i] ? s->cfg.peer_hosts[i]
			                                  : f->servers[i].host,
			             ip, sizeof ip);
		snprintf(s->raft_addresses[i], sizeof s->raft_addresses[i], "%s:%u", ip, peer);
		for (int j = 0; j < i; j++)
			if (strcmp(s->raft_addresses[i], s->raft_addresses[j]) == 0)
				lm_fatal("SERVER lines %d and %d would both replicate on %s: "
				         "servers "
				         "on one machine need one --peer-port each (--peer-port "
				         "N1,N2,N3)",
				         j + 1, i + 1, s->raft_addresses[i]);
	}
}

unsigned lm_server_line_of(const struct lm_server *s, unsigned raft_id)
{
	if (raft_id == 0)
		return 0;
	/* A replacement server of line N joins under N + 3k (datadir.c). */
	return s->license.nservers == 3 ? (raft_id - 1) % 3 + 1 : raft_id == 1 ? 1 : 0;
}

/* ---- the cluster and the pool ---- */

/* ---- the cluster id ---- */

_Static_assert(LM_POOL_CLUSTER_ID_SIZE == LM_CLUSTER_ID_SIZE &&
                       LM_POOL_CLUSTER_ID_SIZE == LM_DATADIR_CLUSTER_ID_SIZE,
               "one size of cluster id");

static void format_cluster_id(const uint8_t id[LM_POOL_CLUSTER_ID_SIZE], char *out)
{
	for (int i = 0; i < LM_POOL_CLUSTER_ID_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* Once the pool holds the cluster id (its SetClusterId or a snapshot was
 * applied), it is kept in DATA/cluster-id, so that after a restart the
 * replication port knows it before raft replays anything.  A file that
 * names another id than the log means the directory mixes two clusters'
 * data: nothing this server could serve from it is trustworthy. */
static void learn_cluster_id(struct lm_server *s)
{
	uint8_t id[LM_POOL_CLUSTER_ID_SIZE];
	char text[2 * LM_POOL_CLUSTER_ID_SIZE + 1], err[LM_DATADIR_PATH_MAX + 128];
	bool known;

	if (s->pool_has_cluster_id)
		return;
	if (lm_pool_cluster_id(s->pool, id, &known) != 0)
		lm_fatal("cannot read the cluster id from the pool");
	if (!known)
		return;
	s->pool_has_cluster_id = true;
	format_cluster_id(id, text);
	if (s->has_cluster_id) {
		if (memcmp(id, s->cluster_id, sizeof id) != 0) {
			char file[sizeof text];
			format_cluster_id(s->cluster_id, file);
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

/* For the replication port (cluster.h). */
static bool known_cluster_id(void *arg, uint8_t id[LM_CLUSTER_ID_SIZE])
{
	const struct lm_server *s = arg;
	if (s->has_cluster_id)
		memcpy(id, s->cluster_id, LM_CLUSTER_ID_SIZE);
	return s->has_cluster_id;
}

static void cluster_id_done(void *arg, int status, struct lm_pool_result *res)
{
	struct lm_server *s = arg;
	(void)res;
	s->cluster_id_proposed = false;
	if (status != 0)
		lm_log("error", "could not commit the cluster id (status %d); will retry", status);
}

/* The first leader of a cluster names it; a leader of a cluster whose
 * pool has an id (the usual case) does nothing.  Two leaders racing both
 * propose; the first applied stays.  Until it is applied the leader opens
 * no session (requests.c), and the expiry sweep proposes again after a
 * failure. */
static void propose_cluster_id(struct lm_server *s)
{
	uint8_t id[LM_POOL_CLUSTER_ID_SIZE] = {0}, buf[64];
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
			lm_log("error", "no random numbers for a cluster id");
			return;
		}
		for (size_t i = 0; i < sizeof id; i++)
			zero = zero && id[i] == 0;
	}
	Lmcmd__SetClusterId set = LMCMD__SET_CLUSTER_ID__INIT;
	set.has_id = 1;
	set.id.data = id;
	set.id.len = sizeof id;
	Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
	cmd.has_time_us = 1;
	cmd.time_us = lm_server_now_us();
	cmd.body_case = LMCMD__COMMAND__BODY_SET_CLUSTER_ID;
	cmd.set_cluster_id = &set;
	size_t size = lmcmd__command__get_packed_size(&cmd);
	assert(size <= sizeof buf);
	lmcmd__command__pack(&cmd, buf);
	int rc = lm_server_propose(s, buf, size, cluster_id_done, s);
	if (rc != 0)
		lm_log("error", "cannot propose the cluster id: %s; will retry", lmc_strerror(rc));
	s->cluster_id_proposed = rc == 0;
}

static int fsm_apply(void *data, uint64_t index, const void *cmd, size_t len, void **result)
{
	struct lm_server *s = data;
	struct lm_pool_result *res = malloc(sizeof *res);
	if (!res)
		lm_fatal("out of memory applying entry %llu", (unsigned long long)index);
	int rc = lm_pool_apply(s->pool, index, cmd, len, res);
	s->license_check_due = true;
	if (rc == 0)
		learn_cluster_id(s);
	if (rc == LMC_EPROTO)
		lm_fatal("raft entry %llu is not a valid command: the log is corrupt",
		         (unsigned long long)index);
	if (rc != 0)
		lm_fatal("cannot apply raft entry %llu to the store: %s", (unsigned long long)index,
		         lmc_strerror(rc));
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
	if (rc == 0) {
		s->pool_has_cluster_id = false;
		learn_cluster_id(s);
	}
	return rc;
}

static struct lm_cluster_fsm fsm = {
        .apply = fsm_apply,
        .snapshot = fsm_snapshot,
        .restore = fsm_restore,
};

struct proposal {
	lm_server_done_cb cb;
	void *arg;
};

static void proposal_done(void *arg, int status, void *result)
{
	struct proposal *p = arg;
	p->cb(p->arg, status, status == 0 ? result : NULL);
	free(result);
	free(p);
}

int lm_server_propose(struct lm_server *s, const void *cmd, size_t len, lm_server_done_cb cb,
                      void *arg)
{
	/* Refused here, before raft or the store could run short of disk and
	 * fail in ways a client cannot be told about (lmd/disk.h). */
	int rc = lm_disk_check();
	if (rc != 0)
		return rc;
	struct proposal *p = lm_fault_alloc() ? NULL : malloc(sizeof *p);
	if (!p)
		return LMC_ENOMEM;
	*p = (struct proposal){.cb = cb, .arg = arg};
	rc = lm_cluster_propose(s->cluster, cmd, len, proposal_done, p);
	if (rc != 0)
		free(p);
	return rc;
}

const char *lm_server_leader_address(struct lm_server *s)
{
	struct lm_cluster_status st;
	lm_cluster_status(s->cluster, &st);
	unsigned line = lm_server_line_of(s, st.leader_id);
	return line ? s->addresses[line - 1] : NULL;
}

static void set_license_done(void *arg, int status, struct lm_pool_result *res)
{
	struct lm_server *s = arg;
	if (status == 0)
		lm_log("license", "serving %zu license lines from %s", s->license.nlines,
		       s->cfg.license_path);
	else
		lm_log("error",
		       "could not commit the license set (status %d); will retry at the "
		       "next election",
		       status);
}

int lm_server_propose_license(struct lm_server *s)
{
	size_t n = s->license.nlines;
	Lmcmd__Line *lines = calloc(n ? n : 1, sizeof *lines);
	Lmcmd__Line **ptrs = calloc(n ? n : 1, sizeof *ptrs);
	char *texts = malloc((n ? n : 1) * LM_LINE_MAX);
	int rc = LMC_ENOMEM;
	if (!lines || !ptrs || !texts)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct lm_license *l = &s->license.lines[i];
		char *text = texts + i * LM_LINE_MAX;
		int len = lm_license_canonical(&s->license, l, text, LM_LINE_MAX);
		if (len < 0) {
			rc = len;
			goto out;
		}
		lmcmd__line__init(&lines[i]);
		lines[i].has_text = lines[i].has_signature = 1;
		lines[i].text.data = (uint8_t *)text;
		lines[i].text.len = (size_t)len;
		lines[i].signature.data = (uint8_t *)l->sig;
		lines[i].signature.len = LM_SIG_LEN;
		ptrs[i] = &lines[i];
	}
	Lmcmd__SetLicense set = LMCMD__SET_LICENSE__INIT;
	set.n_lines = n;
	set.lines = ptrs;
	Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
	cmd.has_time_us = 1;
	cmd.time_us = lm_server_now_us();
	cmd.body_case = LMCMD__COMMAND__BODY_SET_LICENSE;
	cmd.set_license = &set;
	size_t size = lmcmd__command__get_packed_size(&cmd);
	uint8_t *buf = malloc(size);
	if (!buf)
		goto out;
	lmcmd__command__pack(&cmd, buf);
	rc = lm_server_propose(s, buf, size, set_license_done, s);
	free(buf);
out:
	free(lines);
	free(ptrs);
	free(texts);
	return rc;
}

/* ---- one license set ----
 *
 * The license set is replicated state: every server serves the set the
 * log holds, whatever file it loaded.  A server's file only proposes a set:
 * at the cluster's first start and at lmreread.  A server whose file
 * differs (it was down during an lmreread, someone edited its copy) says so
 * in its log and in lmstat instead of silently changing the seat counts
 * whenever it becomes the leader. */

static void digest_update_line(EVP_MD_CTX *md, const char *text, size_t len, const uint8_t *sig)
{
	uint32_t n = (uint32_t)len;
	EVP_DigestUpdate(md, &n, sizeof n);
	EVP_DigestUpdate(md, text, len);
	EVP_DigestUpdate(md, sig, LM_SIG_LEN);
}

/* SHA-256 over the canonical lines and signatures of the loaded file (from
 * the pool when pool is set), in order; -1 when one cannot be read. */
static int license_set_digest(struct lm_server *s, bool pool, uint8_t out[32])
{
	static char text[LM_LINE_MAX];
	uint8_t sig[LM_SIG_LEN];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
	for (uint32_t i = 0; rc == 0; i++) {
		if (pool) {
			int r = lm_pool_line(s->pool, i, text, sizeof text, sig);
			if (r == LMC_ENOFEATURE)
				break;
			if (r != 0)
				rc = -1;
			else
				digest_update_line(md, text, strlen(text), sig);
		} else {
			if (i >= s->license.nlines)
				break;
			const struct lm_license *l = &s->license.lines[i];
			int len = lm_license_canonical(&s->license, l, text, sizeof text);
			if (len < 0)
				rc = -1;
			else
				digest_update_line(md, text, (size_t)len, l->sig);
		}
	}
	unsigned int outlen = 32;
	if (rc == 0 && EVP_DigestFinal_ex(md, out, &outlen) != 1)
		rc = -1;
	EVP_MD_CTX_free(md);
	return rc;
}

bool lm_server_license_differs(struct lm_server *s)
{
	if (s->license_check_due) {
		uint8_t mine[32], cluster[32];
		s->license_differs = license_set_digest(s, false, mine) != 0 ||
		                     license_set_digest(s, true, cluster) != 0 ||
		                     memcmp(mine, cluster, 32) != 0;
		s->license_check_due = false;
	}
	return s->license_differs;
}

/* A new leader serves the set the log holds; only the first leader of a
 * new cluster (an empty set) proposes its file. */
static void adopt_license(struct lm_server *s)
{
	char text[16];
	uint8_t sig[LM_SIG_LEN];
	if (lm_pool_line(s->pool, 0, text, sizeof text, sig) == LMC_ENOFEATURE) {
		int rc = lm_server_propose_license(s);
		if (rc != 0)
			lm_log("error", "cannot propose the license set: %s", lmc_strerror(rc));
		return;
	}
	s->license_check_due = true;
	if (lm_server_license_differs(s))
		lm_log("license",
		       "%s differs from the license set the cluster serves: serving the "
		       "cluster's; run `lmutil lmreread` to serve this file",
		       s->cfg.license_path);
}

static int add_live(void *arg, const struct lm_pool_session *ps)
{
	struct lm_server *s = arg;
	struct lm_live_session *ls = lm_live_add(&s->live, ps->id);
	if (!ls)
		lm_fatal("out of memory rebuilding the session table");
	ls->last_heard_ms = uv_now(s->loop);
	return 0;
}

/* DESIGN.md §2.2: a new leader knows nothing of the sessions' last
 * heartbeats, so each gets a fresh grace period before anything expires. */
static void on_cluster_change(void *arg, bool ready)
{
	struct lm_server *s = arg;
	if (ready == s->ready)
		return;
	s->ready = ready;
	lm_live_clear(&s->live);
	if (ready) {
		lm_pool_each_session(s->pool, add_live, s);
		lm_log("leader",
		       "serving clients on port %u (%zu sessions, each given %u ms of "
		       "grace)",
		       s->port, s->live.count, s->cfg.timeout_ms);
		propose_cluster_id(s);
		adopt_license(s);
		lm_server_notify_status(s);
	} else {
		lm_log("follower", "no longer leader: closing client connections so that "
		                   "clients follow the new leader");
		lm_client_close_all(s, LMC_ENOTLEADER,
		                    "this server is no longer the leader: reconnect");
	}
}

/* ---- expiry ---- */

struct expiry {
	struct lm_server *s;
	uint64_t session_id;
	bool abandoned; /* its connection ended without SessionClose */
};

/* Expiries being committed at once, at most: a mass expiry (a lab's
 * machines all switched off) is spread over the next sweeps instead of
 * stalling every other request behind it. */
#define EXPIRIES_IN_FLIGHT_MAX 256

static void expire_done(void *arg, int status, struct lm_pool_result *res)
{
	struct expiry *e = arg;
	struct lm_server *s = e->s;
	struct lm_live_session *ls = lm_live_find(&s->live, e->session_id);
	s->expiring--;
	if (status == 0) {
		if (res->code == 0 && e->abandoned)
			lm_log("expire",
			       "session=%016llx returned %u seats %u ms after its connection "
			       "closed "
			       "without checkin",
			       (unsigned long long)e->session_id, res->count, s->cfg.reclaim_ms);
		else if (res->code == 0)
			lm_log("expire", "session=%016llx returned %u seats after %u ms of silence",
			       (unsigned long long)e->session_id, res->count, s->cfg.timeout_ms);
		if (ls) {
			if (ls->conn)
				lm_client_detach(ls->conn);
			lm_live_remove(&s->live, e->session_id);
		}
	} else if (ls) {
		ls->closing = false;
	}
	free(e);
}

static void propose_expiry(struct lm_server *s, struct lm_live_session *ls, bool abandoned)
{
	Lmcmd__CloseSession close = LMCMD__CLOSE_SESSION__INIT;
	close.has_session_id = close.has_reason = 1;
	close.session_id = ls->id;
	close.reason = abandoned ? LMCMD__CLOSE_REASON__CLOSE_ABANDONED
	                         : LMCMD__CLOSE_REASON__CLOSE_EXPIRED;
	Lmcmd__Command cmd = LMCMD__COMMAND__INIT;
	cmd.has_time_us = 1;
	cmd.time_us = lm_server_now_us();
	cmd.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION;
	cmd.close_session = &close;
	uint8_t buf[64];
	size_t len = lmcmd__command__pack(&cmd, buf);
	struct expiry *e = lm_fault_alloc() ? NULL : malloc(sizeof *e);
	if (!e)
		return;
	*e = (struct expiry){.s = s, .session_id = ls->id, .abandoned = abandoned};
	if (lm_server_propose(s, buf, len, expire_done, e) == 0) {
		ls->closing = true;
		s->expiring++;
	} else {
		free(e);
	}
}

static int add_in_use(void *arg, const struct lm_pool_feature *f)
{
	*(uint64_t *)arg += f->in_use;
	return 0;
}

/* What `systemctl status lmd` shows (lmd/notify.h): the role, and the
 * pool's seats in use, which every server of a triad knows. */
void lm_server_notify_status(struct lm_server *s)
{
	if (!lm_notify_enabled() || s->stopping)
		return;
	struct lm_cluster_status st;
	uint64_t in_use = 0;
	lm_cluster_status(s->cluster, &st);
	lm_pool_each_feature(s->pool, (int32_t)(lm_server_now_us() / 86400000000LL), add_in_use,
	                     NULL, &in_use);
	const char *role = s->ready                          ? "leader"
	                   : st.role == LM_CLUSTER_FOLLOWER  ? "follower"
	                   : st.role == LM_CLUSTER_CANDIDATE ? "electing a leader"
	                                                     : "starting";
	if (s->license.nservers == 1 && s->ready)
		role = "serving";
	if (s->ready)
		lm_notify_status("%s on port %u: %zu sessions, %llu seats in use", role, s->port,
		                 s->live.count, (unsigned long long)in_use);
	else
		lm_notify_status("%s (node %u of %d) on port %u: %llu seats in use", role, s->node,
		                 s->license.nservers, s->port, (unsigned long long)in_use);
}

static void on_expiry_timer(uv_timer_t *t)
{
	struct lm_server *s = t->data;
	lm_client_sweep(s);
	/* Every 5 s: cheap, and fresh enough for an administrator. */
	if (++s->ticks % 20 == 0)
		lm_server_notify_status(s);
	if (!s->ready)
		return;
	if (!s->has_cluster_id)
		propose_cluster_id(s);
	uint64_t now = uv_now(s->loop);
	for (size_t i = 0; i < s->live.capacity && s->expiring < EXPIRIES_IN_FLIGHT_MAX; i++) {
		struct lm_live_session *ls = &s->live.slots[i];
		if (!ls->id || ls->closing)
			continue;
		/* The pool may take back a session only once its client's lease
		 * (counted from the send time of a request heard here, so no
		 * later than last_heard_ms) has run out: after the session
		 * timeout of silence, or after --reclaim-after when the
		 * connection ended without SessionClose (liblmc shortens its
		 * lease to match when it closes a connection itself). */
		bool abandoned = !ls->conn && ls->eof_ms && now - ls->eof_ms > s->cfg.reclaim_ms;
		if (abandoned || now - ls->last_heard_ms > s->cfg.timeout_ms)
			propose_expiry(s, ls, abandoned);
	}
}

/* ---- start and stop ---- */

static void on_signal(uv_signal_t *h, int signum)
{
	struct lm_server *s = h->data;
	lm_log("stop", "signal %d: shutting down", signum);
	lm_server_stop(s);
}

static void on_connection(uv_stream_t *listener, int status)
{
	if (status == 0)
		lm_client_accept(listener->data);
	else
		lm_log("error", "accept: %s", uv_strerror(status));
}

/* Client connections must never use the descriptors that raft, LMDB and
 * the license file need, and a client refused for want of one must hear
 * why (LMC_ELIMIT) instead of a silent reset: so the soft open-file limit is
 * raised to the hard one and connections are capped below it. */
static unsigned connections_max(const struct lm_config *cfg)
{
	struct rlimit rl;
	unsigned max = cfg->max_connections ? cfg->max_connections : LM_SERVER_CONNECTIONS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return max;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
		struct rlimit raised = {.rlim_cur = want, .rlim_max = rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl.rlim_cur = want;
	}
	rlim_t usable =
	        rl.rlim_cur > LM_SERVER_FD_RESERVE + 16 ? rl.rlim_cur - LM_SERVER_FD_RESERVE : 16;
	if (usable < max) {
		if (cfg->max_connections)
			lm_log("start",
			       "--max-connections %u lowered to %u: the open-file limit is %llu "
			       "(raise it with `ulimit -n` or LimitNOFILE=)",
			       cfg->max_connections, (unsigned)usable,
			       (unsigned long long)rl.rlim_cur);
		max = (unsigned)usable;
	}
	return max;
}

/* The configuration identity on the replication port (transport.h),
 * derived from the license: the first 16 bytes of the SHA-256 of the vendor
 * name and the SERVER lines' hosts and ports, in order.  Two triads with
 * different licenses then refuse each other instead of replicating into
 * each other after a mistyped peer port.
 * The lock codes stay out: rehosting a dead server gives its line a new one
 * (triad_replace.sh), and the newcomer must still be of the cluster. */
static void config_identity(const struct lm_license_file *f, uint8_t id[LM_CLUSTER_ID_SIZE])
{
	char text[3 * (LM_HOST_MAX + 16) + LM_NAME_MAX + 16];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t n = (size_t)snprintf(text, sizeof text, "VENDOR %s\n", f->vendor);

	for (int i = 0; i < f->nservers && n < sizeof text; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "SERVER %s %u\n",
		                      f->servers[i].host, f->servers[i].port);
	if (n >= sizeof text || EVP_Digest(text, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < LM_CLUSTER_ID_SIZE)
		lm_fatal("cannot compute the configuration identity");
	memcpy(id, md, LM_CLUSTER_ID_SIZE);
}

/* The cluster module cannot log (it is linked without log.c): it hands us
 * each refusal of its replication port. */
static void log_cluster(void *arg, const char *msg)
{
	(void)arg;
	lm_log("error", "%s", msg);
}

/* Each peer met on the replication port, before raft traffic flows with it
 * (bootstrap.h). */
static int note_peer(void *arg, uint64_t raft_id)
{
	struct lm_server *s = arg;
	char err[LM_DATADIR_PATH_MAX + 128];
	int rc = lm_datadir_seen_add(&s->datadir, raft_id, err, sizeof err);
	if (rc != 0)
		lm_log("error", "%s", err);
	return rc;
}

static void start_cluster(struct lm_server *s)
{
	if (lm_cluster_start(s->cluster) != 0)
		lm_fatal("cluster: %s", lm_cluster_errmsg(s->cluster));
}

void lm_server_start(struct lm_server *s, uv_loop_t *loop, const struct lm_config *cfg)
{
	memset(s, 0, sizeof *s);
	s->loop = loop;
	s->cfg = *cfg;
	s->node = cfg->node;
	lm_log_set_node(s->node);
	load_license(s);
	plan_addresses(s);

	char err[1024];
	if (lm_instance_lock(&s->license, s->vendor_key, s->node, err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (lm_datadir_open(&s->datadir, s->cfg.data_dir, err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (lm_pool_open(&s->pool, s->datadir.pool, err, sizeof err) != 0)
		lm_fatal("%s: %s", s->datadir.pool, err);
	if (lm_datadir_node_id(&s->datadir, s, &s->raft_id, err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (lm_datadir_cluster_id(&s->datadir, s->cluster_id, &s->has_cluster_id, err,
	                          sizeof err) != 0)
		lm_fatal("%s", err);

	struct lm_cluster_config cc = {
	        .id = s->raft_id,
	        .nnodes = (unsigned)s->license.nservers,
	        .dir = s->datadir.raft,
	        .address = s->raft_addresses[s->node - 1],
	        /* Only the servers of the first start bootstrap; a replacement
	         * waits to be added by the leader. */
	        .join = s->raft_id != s->node,
	        .election_ms = cfg->election_ms,
	        .heartbeat_ms = cfg->election_ms / 10 ? cfg->election_ms / 10 : 1,
	        .log = log_cluster,
	        .log_arg = s,
	        .peer = note_peer,
	};
	for (int i = 0; i < s->license.nservers; i++)
		cc.addresses[i] = s->raft_addresses[i];
	config_identity(&s->license, cc.config_id);
	cc.cluster_id = known_cluster_id;
	fsm.data = s;
	if (lm_cluster_init(&s->cluster, loop, &cc, &fsm, err, sizeof err) != 0)
		lm_fatal("cluster: %s", err);
	lm_cluster_on_change(s->cluster, on_cluster_change, s);

	if (lm_live_init(&s->live) != 0 ||
	    lm_peers_init(&s->peers, cfg->max_host_connections, cfg->session_rate) != 0)
		lm_fatal("out of memory");
	s->conns_max = connections_max(cfg);
	size_t arena_size = LM_ARENA_SIZE(LM_FRAME_MAX);
	s->arena_block = malloc(arena_size);
	s->read_buf = malloc(LM_FRAME_BUFSIZE(LM_FRAME_MAX));
	if (!s->arena_block || !s->read_buf)
		lm_fatal("out of memory");
	lm_arena_init(&s->arena, s->arena_block, arena_size);

	struct sockaddr_storage addr;
	if (uv_ip4_addr(cfg->listen_addr, (int)s->port, (struct sockaddr_in *)&addr) != 0 &&
	    uv_ip6_addr(cfg->listen_addr, (int)s->port, (struct sockaddr_in6 *)&addr) != 0)
		lm_fatal("--listen %s: not an IPv4 or IPv6 address", cfg->listen_addr);
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	int rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
	if (rc != 0)
		lm_fatal("cannot listen on %s port %u: %s", cfg->listen_addr, s->port,
		         uv_strerror(rc));

	/* After the client port listens: a triad member with no raft state
	 * asks its peers there first (bootstrap.h). */
	lm_bootstrap_start(s, start_cluster);

	uv_timer_init(loop, &s->expiry_timer);
	s->expiry_timer.data = s;
	/* A quarter second: a crashed client's seats come back within that of
	 * --reclaim-after.  The sweep only walks the live-session table. */
	unsigned period = cfg->timeout_ms / 4 < 250 ? cfg->timeout_ms / 4 : 250;
	uv_timer_start(&s->expiry_timer, on_expiry_timer, period, period);
	uv_signal_init(loop, &s->sigterm);
	uv_signal_init(loop, &s->sigint);
	s->sigterm.data = s->sigint.data = s;
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	s->started_ms = uv_now(loop);

	lm_log("start",
	       "%s (raft %s) node %u of %d (raft id %u), clients on %s:%u, replication on %s, "
	       "data in %s, heartbeat %u ms, session timeout %u ms (clients' lease %u ms), "
	       "election timeout %u ms, grace %u ms, reclaim after %u ms, at most %u "
	       "connections (%u per address), %u session opens per second per address",
	       LM_SERVER_VERSION, lm_cluster_raft_version(), s->node, s->license.nservers,
	       s->raft_id, cfg->listen_addr, s->port, s->raft_addresses[s->node - 1], cfg->data_dir,
	       cfg->heartbeat_ms, cfg->timeout_ms, lm_config_lease_ms(cfg), cfg->election_ms,
	       cfg->grace_ms, cfg->reclaim_ms, s->conns_max, cfg->max_host_connections,
	       cfg->session_rate);
	if (s->license.nservers > 1)
		lm_log("start",
		       "replication port %s is not authenticated: keep it on a private network "
		       "between the three servers",
		       s->raft_addresses[s->node - 1]);
	struct lm_cluster_status st;
	lm_cluster_status(s->cluster, &st);
	if (s->raft_id != s->node && !st.voter)
		lm_log("join",
		       "raft id %u waits to replace the old server of SERVER line %u: run "
		       "`lmutil lmreplace -c SERVERS --node %u` where the leader runs",
		       s->raft_id, s->node, s->node);
}

static void on_cluster_closed(void *arg)
{
	struct lm_server *s = arg;
	s->cluster = NULL;
}

void lm_server_stop(struct lm_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->ready = false;
	lm_notify_stopping();
	lm_bootstrap_stop(s);
	uv_close((uv_handle_t *)&s->listener, NULL);
	uv_close((uv_handle_t *)&s->expiry_timer, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	lm_client_close_all(s, LMC_ESHUTDOWN, "the license server is shutting down");
	lm_cluster_close(s->cluster, on_cluster_closed, s);
}
