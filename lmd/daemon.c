/* The daemon: what ties the server (server.h), the connection layer
 * (connection.h) and expiry together.  Start-up (the license, the
 * addresses (addresses.c), the data directory, the cluster, the listener),
 * the signals, systemd's status line, the sweep timer, what a change of
 * leadership does, and stop. */
#include "config.h"

#include "lmd/daemon.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/rand.h>

#include "core/bytes.h"
#include "core/key.h"
#include "core/error.h"
#include "core/log.h"
#include "core/tls.h"
#include "lmd/addresses.h"
#include "lmd/admin_auth.h"
#include "lmd/admin_socket.h"
#include "lmd/bootstrap.h"
#include "lmd/connection.h"
#include "lmd/datadir.h"
#include "lmd/expiry.h"
#include "lmd/http.h"
#include "lmd/idle.h"
#include "lmd/instance.h"
#include "lmd/licfile.h"
#include "lmd/notify.h"
#include "lmd/privileges.h"
#include "lmd/transport.h"
#include "lmd/walltime.h"
#include "proto/frame.h"

/* ---- the license ---- */

/* The same checks as at every reread (licfile.h): exits naming the file,
 * the line and what to do when the license cannot be served here. */
static void load_license(struct lm_server *s)
{
	char err[1024];
	if (lm_key_load_public(s->cfg.pubkey_path, &s->vendor_key, err, sizeof err) != 0)
		lm_fatal("%s: %s", s->cfg.pubkey_path, err);
	struct lm_licfile_rules rules = {.path = s->cfg.license_path,
	                                 .vendor_key = s->vendor_key,
	                                 .node = s->node,
	                                 .options_path = s->cfg.options_path};
	if (lm_licfile_load(&rules, &s->license, err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (lm_licfile_options(&rules, &s->license, &s->options, err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (s->options) {
		char sha256[2 * 4 + 1];
		lm_log("options", "policy %s: %zu rules (sha256 %s...)", s->options->name,
		       s->options->nrules, lm_hex_encode(s->options->sha256, 4, sha256));
	}
}

/* ---- the usage report log ---- */

/* --report-log wins over the options file's REPORTLOG path, read once at
 * start (a REPORTLOG changed by lmreread takes effect at the next start);
 * its HIDE_USER holds for either path: it is the site's privacy rule.  The
 * log is always appended to: FlexLM starts a new report log without the
 * '+', but a hash chain that lmd cut itself would hide what it should
 * show. */
/* Before the loop waits again: the records of the commands applied in
 * this turn go out in one write (report_log.h). */
static void flush_report_log(uv_prepare_t *h)
{
	struct lm_server *s = h->data;
	if (s->report_log)
		lm_report_log_flush(s->report_log);
}

static void open_report_log(struct lm_server *s)
{
	const struct lm_options *o = s->options;
	const char *path = s->cfg.report_log_path;
	if (!path && o && o->reportlog)
		path = o->reportlog;
	if (!path)
		return;
	struct lm_report_log_config rc = {.path = path,
	                                  .max_bytes = s->cfg.report_log_max_bytes,
	                                  .daily = s->cfg.report_log_daily};
	bool hide = o && o->reportlog_hide_user;
	if (lm_report_log_open(&s->report_log, &rc) != 0 ||
	    lm_report_events_new(&s->report_events, s->report_log, hide) != 0)
		lm_fatal("out of memory");
	uv_prepare_init(s->loop, &s->report_flush);
	s->report_flush.data = s;
	uv_prepare_start(&s->report_flush, flush_report_log);
}

/* ---- leadership ---- */

static int add_live(void *arg, const struct lm_pool_session *ps)
{
	struct lm_server *s = arg;
	struct lm_live_session *ls = lm_live_sessions_add(&s->live, ps->id);
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
	lm_live_sessions_clear(&s->live);
	if (ready) {
		lm_pool_each_session(s->pool, add_live, s);
		lm_log("leader",
		       "serving clients on port %u (%zu sessions, each given %u ms of "
		       "grace)",
		       s->port, s->live.count, s->cfg.timeout_ms);
		lm_server_propose_cluster_id(s);
		lm_server_propose_leader_change(s);
		lm_server_adopt_license(s);
		lm_daemon_notify_status(s);
	} else {
		lm_log("follower", "no longer leader: closing client connections so that "
		                   "clients follow the new leader");
		lm_connection_close_all(s, LMC_ENOTLEADER,
		                        "this server is no longer the leader: reconnect");
	}
}

/* ---- what systemd shows ---- */

static int add_in_use(void *arg, const struct lm_pool_feature *f)
{
	*(uint64_t *)arg += f->in_use;
	return 0;
}

/* What `systemctl status lmd` shows (lmd/notify.h): the role, and the
 * pool's seats in use, which every server of a triad knows. */
void lm_daemon_notify_status(struct lm_server *s)
{
	if (!lm_notify_enabled() || s->stopping)
		return;
	struct lm_cluster_status st;
	uint64_t in_use = 0;
	lm_cluster_status(s->cluster, &st);
	lm_pool_each_feature(s->pool, (int32_t)(lm_walltime_us() / 86400000000LL), add_in_use, NULL,
	                     &in_use);
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

/* ---- the sweep ---- */

/* Every sweep period (a quarter second at most): connections that hold a slot for nothing are
 * closed, and on the leader silent sessions expire. */
/* TLS on the client port (core/tls_conn.h): a certificate made from the
 * identity key, which clients whose SERVER line pins the key check. */
static void start_tls(struct lm_server *s, const struct lm_license_server *own)
{
	if (s->cfg.client_tls == LM_CLIENT_TLS_OFF) {
		lm_log("start", "client port: plaintext only (--client-tls off)");
		return;
	}
	char err[300];
	if (lm_tls_server_ctx_new(s->server_key, &s->tls_ctx, err, sizeof err) != 0)
		lm_fatal("%s", err);
	bool pinned = own && own->has_key;
	lm_log("start", "client port: TLS 1.3 %s; %s",
	       s->cfg.client_tls == LM_CLIENT_TLS_REQUIRE ? "required (--client-tls require)"
	                                                  : "and plaintext",
	       pinned ? "the license pins this server's key, so clients check who answers"
	              : "the license pins no key for this server: TLS clients get encryption "
	                "but cannot tell this server from another");
}

/* Mutual TLS on the raft port when every SERVER line pins a key
 * (lmd/transport.h); false, with nothing made, when they pin none or this
 * is a single server. */
static bool peer_tls(struct lm_server *s, struct lm_transport_tls *tls)
{
	char err[300];

	memset(tls, 0, sizeof *tls);
	if (s->license.nservers < 2)
		return false;
	for (int i = 0; i < s->license.nservers; i++)
		if (!s->license.servers[i].has_key)
			return false;
	_Static_assert(LM_LICENSE_SERVERS_MAX <= LM_TRANSPORT_PINNED_MAX, "a pin per SERVER line");
	for (int i = 0; i < s->license.nservers; i++) {
		memcpy(tls->keys[i], s->license.servers[i].key, LM_SERVER_KEY_LEN);
		snprintf(tls->addresses[i], sizeof tls->addresses[i], "%s", s->raft_addresses[i]);
	}
	tls->npinned = (unsigned)s->license.nservers;
	if (lm_tls_peer_ctx_new(s->server_key, true, &tls->server, err, sizeof err) != 0 ||
	    lm_tls_peer_ctx_new(s->server_key, false, &tls->client, err, sizeof err) != 0)
		lm_fatal("replication port: %s", err);
	return true;
}

static void on_sweep_timer(uv_timer_t *t)
{
	struct lm_server *s = t->data;
	lm_connection_sweep(s);
	/* Every 5 s: cheap, and fresh enough for an administrator. */
	if (++s->ticks % 20 == 0) {
		lm_daemon_notify_status(s);
		lm_expiry_warn_licenses(s);
	}
	if (s->ready && !s->has_cluster_id)
		lm_server_propose_cluster_id(s);
	lm_expiry_sweep(s);
	/* About once a second: TIMEOUTs are minutes long, and this sweep
	 * reads the seats of every long-idle session. */
	if (s->ticks % 4 == 0)
		lm_idle_sweep(s);
}

/* ---- start and stop ---- */

static void on_signal(uv_signal_t *h, int signum)
{
	struct lm_server *s = h->data;
	lm_log("stop", "signal %d: shutting down", signum);
	lm_daemon_stop(s);
}

static void on_connection(uv_stream_t *listener, int status)
{
	if (status == 0)
		lm_connection_accept(listener->data);
	else
		lm_log_error("accept: %s", uv_strerror(status));
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
static void config_identity(const struct lm_license_file *f, uint8_t id[LM_CONFIG_ID_SIZE])
{
	char text[3 * (LM_HOST_MAX + 16) + LM_NAME_MAX + 16];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t n = (size_t)snprintf(text, sizeof text, "VENDOR %s\n", f->vendor);

	for (int i = 0; i < f->nservers && n < sizeof text; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "SERVER %s %u\n",
		                      f->servers[i].host, f->servers[i].port);
	if (n >= sizeof text || EVP_Digest(text, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < LM_CONFIG_ID_SIZE)
		lm_fatal("cannot compute the configuration identity");
	memcpy(id, md, LM_CONFIG_ID_SIZE);
}

/* The cluster id for the replication port (cluster.h). */
static bool known_cluster_id(void *arg, uint8_t id[LM_CLUSTER_ID_SIZE])
{
	const struct lm_server *s = arg;
	if (s->has_cluster_id)
		memcpy(id, s->cluster_id, LM_CLUSTER_ID_SIZE);
	return s->has_cluster_id;
}

/* The cluster module cannot log (it is linked without log.c): it hands us
 * each refusal of its replication port. */
static void log_cluster(void *arg, const char *msg)
{
	(void)arg;
	lm_log_error("%s", msg);
}

/* Each peer met on the replication port, before raft traffic flows with it
 * (bootstrap.h). */
static int note_peer(void *arg, uint64_t raft_id)
{
	struct lm_server *s = arg;
	char err[LM_DATADIR_PATH_MAX + 128];
	int rc = lm_datadir_seen_add(&s->datadir, raft_id, err, sizeof err);
	if (rc != 0)
		lm_log_error("%s", err);
	return rc;
}

static void start_cluster(struct lm_server *s)
{
	if (lm_cluster_start(s->cluster) != 0)
		lm_fatal("cluster: %s", lm_cluster_errmsg(s->cluster));
}

/* Admin authority (admin_auth.h): the group, the keys, the socket, and the
 * instance id that lets lmutil tell this server's socket from another's. */
static void start_admin(struct lm_server *s)
{
	char err[1024];
	if (lm_admin_group_resolve(s, err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (s->cfg.admin_keys_path &&
	    lm_admin_keys_load(&s->admin_keys, s->cfg.admin_keys_path, err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (RAND_bytes(s->instance, sizeof s->instance) != 1)
		lm_fatal("cannot make a random instance id");
	if (lm_admin_socket_start(s, err, sizeof err) != 0)
		lm_fatal("%s", err);
	lm_log("start", "admin socket %s (root and group %s%s), %u admin key%s%s%s",
	       s->admin_socket_path[0] ? s->admin_socket_path : "off", s->admin_group,
	       s->has_admin_gid ? "" : ", which does not exist", s->admin_keys.n,
	       s->admin_keys.n == 1 ? "" : "s", s->cfg.admin_keys_path ? " from " : "",
	       s->cfg.admin_keys_path ? s->cfg.admin_keys_path : "");
}

void lm_daemon_start(struct lm_server *s, uv_loop_t *loop, const struct lm_config *cfg)
{
	memset(s, 0, sizeof *s);
	s->loop = loop;
	s->cfg = *cfg;
	s->node = cfg->node;
	lm_log_set_node(s->node);
	load_license(s);
	lm_addresses_plan(s);

	char err[1024];
	if (lm_instance_lock(&s->license, s->vendor_key, s->node, err, sizeof err) != 0)
		lm_fatal("%s", err);
	/* The license and key are read: from here on, --user. */
	const char *raft_colon = strrchr(s->raft_addresses[s->node - 1], ':');
	unsigned ports[] = {s->port, cfg->http_port,
	                    raft_colon ? (unsigned)strtoul(raft_colon + 1, NULL, 10) : 0};
	if (lm_privileges_drop(cfg, ports, sizeof ports / sizeof ports[0], err, sizeof err) != 0)
		lm_fatal("%s", err);
	if (lm_datadir_open(&s->datadir, s->cfg.data_dir, err, sizeof err) != 0)
		lm_fatal("%s", err);
	bool key_created;
	const struct lm_license_server *own =
	        (int)s->node <= s->license.nservers ? &s->license.servers[s->node - 1] : NULL;
	if (lm_datadir_server_key(&s->datadir, own, &s->server_key, &key_created, err,
	                          sizeof err) != 0)
		lm_fatal("%s", err);
	if (key_created)
		lm_log("start", "made this server's identity key, %s/server-key", s->cfg.data_dir);
	start_tls(s, own);
	if (lm_pool_open(&s->pool, s->datadir.pool, err, sizeof err) != 0)
		lm_fatal("%s: %s", s->datadir.pool, err);
	open_report_log(s);
	struct lm_datadir_owner owner = {.node = s->node,
	                                 .nservers = s->license.nservers,
	                                 .join = cfg->join,
	                                 .license_path = cfg->license_path};
	if (lm_datadir_node_id(&s->datadir, &owner, &s->raft_id, err, sizeof err) != 0)
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
	struct lm_transport_tls tls;
	bool raft_tls = peer_tls(s, &tls);
	cc.tls = raft_tls ? &tls : NULL;
	lm_server_fsm_init(s);
	if (lm_cluster_init(&s->cluster, loop, &cc, &s->fsm, err, sizeof err) != 0)
		lm_fatal("cluster: %s", err);
	/* The transport holds its own references. */
	SSL_CTX_free(tls.server);
	SSL_CTX_free(tls.client);
	lm_cluster_on_change(s->cluster, on_cluster_change, s);

	if (lm_live_sessions_init(&s->live) != 0 ||
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
	start_admin(s);

	if (cfg->http_port && lm_http_start(&s->http, s, err, sizeof err) != 0)
		lm_fatal("%s", err);
	s->metrics.started_unix_ms = lm_walltime_us() / 1000;

	/* After the client port listens: a triad member with no raft state
	 * asks its peers there first (bootstrap.h). */
	lm_bootstrap_start(s, start_cluster);

	uv_timer_init(loop, &s->sweep_timer);
	s->sweep_timer.data = s;
	/* A quarter second: a crashed client's seats come back within that of
	 * --reclaim-after.  The sweep only walks the live-session table. */
	unsigned period = cfg->timeout_ms / 4 < 250 ? cfg->timeout_ms / 4 : 250;
	uv_timer_start(&s->sweep_timer, on_sweep_timer, period, period);
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
	if (s->http)
		lm_log("start",
		       "metrics and dashboard on http://%s%s%s:%u/ (/metrics, /status.json)",
		       strchr(cfg->http_host, ':') ? "[" : "", cfg->http_host,
		       strchr(cfg->http_host, ':') ? "]" : "", cfg->http_port);
	if (raft_tls)
		lm_log("start",
		       "replication port %s: mutual TLS 1.3, open only to the servers whose keys "
		       "the license pins",
		       s->raft_addresses[s->node - 1]);
	else if (s->license.nservers > 1)
		lm_log("start",
		       "replication port %s is not authenticated (the license pins no server "
		       "keys): keep it on a private network between the three servers",
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
	lm_report_events_free(s->report_events);
	lm_report_log_close(s->report_log);
	s->report_events = NULL;
	s->report_log = NULL;
}

void lm_daemon_stop(struct lm_server *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->ready = false;
	lm_notify_stopping();
	lm_bootstrap_stop(s);
	/* Before the cluster closes: a snapshot reads its status. */
	lm_http_stop(s->http);
	s->http = NULL;
	uv_close((uv_handle_t *)&s->listener, NULL);
	lm_admin_socket_stop(s);
	uv_close((uv_handle_t *)&s->sweep_timer, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	if (s->report_log)
		uv_close((uv_handle_t *)&s->report_flush, NULL);
	lm_connection_close_all(s, LMC_ESHUTDOWN, "the license server is shutting down");
	lm_cluster_close(s->cluster, on_cluster_closed, s);
}
