/* lmd's command line. */
#ifndef LM_ARGS_H
#define LM_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* An IPv4 or IPv6 address in text, NUL included. */
#define LM_HTTP_HOST_MAX 46

struct lm_config {
	const char *license_path; /* -c */
	const char *pubkey_path;  /* --pubkey */
	const char *data_dir;     /* --data */
	/* --options: the administrator's options file; NULL: the one the
	 * license's VENDOR line names, if any. */
	const char *options_path;
	const char *listen_addr; /* --listen, default 0.0.0.0 */
	unsigned port;           /* --port; 0: the SERVER line's port, else 27000 */
	/* --peer-port: the replication port of each SERVER line's server;
	 * 0: its client port + 100.  "N" gives every server port N (servers
	 * on separate machines), "N1,N2,N3" one port per line (all three on
	 * one machine). */
	unsigned peer_ports[LM_LICENSE_SERVERS_MAX];
	/* --peer-hosts: the host (name or IPv4) each SERVER line's server
	 * replicates on; NULL: the SERVER line's host.  For servers whose
	 * SERVER names face the clients while replication goes over a private
	 * network. */
	const char *peer_hosts[LM_LICENSE_SERVERS_MAX];
	unsigned node;         /* --node, 1-based SERVER line; default 1 */
	bool join;             /* --join: replaces a dead server of the triad */
	unsigned heartbeat_ms; /* --heartbeat, what clients are told (10000) */
	unsigned timeout_ms;   /* --session-timeout (30000) */
	/* --election-timeout; default min(1000, session timeout / 4), and
	 * always under a third of the session timeout (the lease rule). */
	unsigned election_ms;
	unsigned grace_ms; /* --grace, told to clients (300000) */
	/* --clock-tolerance: how far (seconds) the leader's wall clock may be
	 * behind the last committed time before it refuses time-limited
	 * licenses with LMC_ECLOCK (3600). */
	unsigned clock_tolerance_s;
	/* --user NAME: started as root, serve as NAME (privileges.h);
	 * --allow-root: stay root. */
	const char *run_as_user;
	bool allow_root;
	/* Admin authority (admin_auth.h): --admin-socket (NULL: DATA/admin.sock,
	 * "none": no socket), --admin-group (NULL: lmadmin if it exists),
	 * --admin-keys (NULL: none), and --lmstat-details admin (holders only
	 * to admins and to their own user). */
	const char *admin_socket_path;
	const char *admin_group;
	const char *admin_keys_path;
	bool lmstat_details_admin;
	/* --client-tls: whether the client port takes TLS (core/tls_conn.h) and
	 * still plaintext (LM_CLIENT_TLS_ALLOW). */
	enum lm_client_tls {
		LM_CLIENT_TLS_ALLOW, /* both, told apart by the first byte */
		LM_CLIENT_TLS_OFF,
		LM_CLIENT_TLS_REQUIRE, /* plaintext clients get LMC_ENEEDTLS */
	} client_tls;
	/* --reclaim-after: seats of a session whose connection ended with EOF
	 * and no SessionClose return after this long (5000); 0: only after
	 * the session timeout. */
	unsigned reclaim_ms;
	/* --timeout-min: the options file's TIMEOUT and TIMEOUTALL are raised
	 * to at least this many seconds (LM_OPTIONS_TIMEOUT_MIN, as FlexLM). */
	unsigned timeout_min_s;
	unsigned max_connections;      /* --max-connections; 0: from the open-file limit */
	unsigned max_host_connections; /* --max-host-connections, per client address (1000) */
	unsigned session_rate;         /* --session-rate, opens per second per address (100) */
	/* --http [ADDR:]PORT, the monitoring HTTP server (lmd/http.h): off
	 * while http_port is 0; ADDR defaults to 127.0.0.1. */
	char http_host[LM_HTTP_HOST_MAX];
	unsigned http_port;
	/* --report-log: the usage report log (report_log.h); NULL: the
	 * options file's REPORTLOG, if any.  --report-log-max-bytes: rotate
	 * past this size (0: never); --report-log-rotate daily: also when the
	 * records' day changes. */
	const char *report_log_path;
	uint64_t report_log_max_bytes;
	/* --expiry-warn-days: from how many days before a license line
	 * expires lmd warns (log, lmstat); 0: never (30). */
	unsigned expiry_warn_days;
	/* --named-user-hold, seconds: RemoveNamed.hold_us (pool_named.c). */
	unsigned named_hold_s;
	bool report_log_daily;
};

/* How long a client may believe in its seats after the send time of an
 * acknowledged request (SessionReply.lease_ms): the session timeout less
 * two election timeouts (a deposed leader steps down within one, and a new
 * one is elected no sooner than one after it lost touch) and a tenth of the
 * timeout for timers and clock-rate drift. */
unsigned lm_config_lease_ms(const struct lm_config *cfg);
/* How long a client may believe in its seats after its connection ended
 * unannounced (SessionReply.linger_ms): --reclaim-after less a margin for
 * the client noticing later than the server, never more than the lease. */
unsigned lm_config_linger_ms(const struct lm_config *cfg);

/* Parses argv into cfg.  Returns 0, 1 after printing --help or --version,
 * or -1 after printing a usage error to stderr. */
int lm_args_parse(struct lm_config *cfg, int argc, char **argv);

#endif
