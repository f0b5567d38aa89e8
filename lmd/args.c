/* lmd's command line (args.h): parsing the options and the rules between
 * the timeouts they set. */
#include "config.h"

#include "lmd/args.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/options.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmd -c LICENSE --pubkey VENDOR.pub --data DIR [options]\n"
	        "       lmd --help | --version\n"
	        "  -c FILE                 the license file to serve (signed by the vendor)\n"
	        "  --pubkey FILE           the vendor's Ed25519 public key (PEM)\n"
	        "  --data DIR              where lmd keeps its state (created if missing)\n"
	        "  --options FILE          the options file (FlexLM grammar, lmd-options(5));\n"
	        "                          default: the VENDOR line's, relative to the\n"
	        "                          license file; reloaded with it by lmreread\n"
	        "  --port N                client port (default: the SERVER line's, else 27000)\n"
	        "  --listen ADDR           address to listen on (default 0.0.0.0)\n"
	        "  --node N                serve the N-th SERVER line of a triad (default 1)\n"
	        "  --peer-port N[,N2,N3]   replication port of every server, or of each SERVER\n"
	        "                          line in order (default: each client port + 100);\n"
	        "                          give all three servers the same value, and keep it\n"
	        "                          on a private network: it is not authenticated\n"
	        "  --peer-hosts H1,H2,H3   host or IPv4 address each server replicates on\n"
	        "                          (default: its SERVER line's host); the same on\n"
	        "                          all three\n"
	        "  --join                  start as the replacement of a dead server of the\n"
	        "                          triad (empty --data), to be added with\n"
	        "                          `lmutil lmreplace --node N` (see README)\n"
	        "  --heartbeat MS          heartbeat period told to clients (default 10000)\n"
	        "  --session-timeout MS    silence after which a session expires (default 30000)\n"
	        "  --election-timeout MS   raft election timeout (default 1000, or a quarter\n"
	        "                          of --session-timeout if that is less); must be\n"
	        "                          under a third of --session-timeout\n"
	        "  --clock-tolerance S     how far behind the last committed time the leader's\n"
	        "                          clock may be before it refuses time-limited\n"
	        "                          licenses as \"clock set back\" (default 3600)\n"
	        "  --grace MS              how long applications stay quiet about their seats\n"
	        "                          while no server can confirm them (no quorum, all\n"
	        "                          servers down); never beyond their lease, the\n"
	        "                          session timeout less two election timeouts and a\n"
	        "                          tenth (default 300000: the lease decides)\n"
	        "  --reclaim-after MS      return the seats of a client whose connection closed\n"
	        "                          without checking in (its process died) after MS,\n"
	        "                          unless it reconnects (default 5000; 0: only after\n"
	        "                          --session-timeout)\n"
	        "  --timeout-min S         the least TIMEOUT/TIMEOUTALL of the options file\n"
	        "                          lmd enforces, in seconds (default 900, as FlexLM);\n"
	        "                          lower values in the file are raised to it\n"
	        "  --expiry-warn-days N    warn in the log and lmstat from N days before a\n"
	        "                          license line expires (default 30; 0: never)\n"
	        "  --named-user-hold DURATION  how long a named user or host (USER_BASED,\n"
	        "                          NAMED_USERS, HOST_BASED) stays on its feature's list\n"
	        "                          before an administrator may remove it: a number\n"
	        "                          with s, m, h or d (default 24h)\n"
	        "  --max-connections N     client connections at once (default: what the\n"
	        "                          open-file limit allows, at most 60000)\n"
	        "  --max-host-connections N  client connections from one address (default\n"
	        "                          1000; 0: no limit)\n"
	        "  --session-rate N        sessions one address may open per second (default\n"
	        "                          100; 0: no limit)\n"
	        "  --http [ADDR:]PORT      serve /metrics (Prometheus) and a read-only dashboard\n"
	        "                          over HTTP on ADDR (default 127.0.0.1; [ADDR] for\n"
	        "                          IPv6); off by default\n"
	        "  --admin-socket PATH     the admin socket: root and the admin group use\n"
	        "                          lmdown/lmremove/lmreread/lmreplace through it\n"
	        "                          (default DATA/admin.sock; \"none\": no socket)\n"
	        "  --admin-group NAME      the group whose members are admins (default\n"
	        "                          lmadmin, when that group exists)\n"
	        "  --admin-keys FILE       admin public keys, \"NAME ed25519 KEY\" a line (lmutil\n"
	        "                          admin-keygen): requests signed by them are\n"
	        "                          accepted from anywhere\n"
	        "  --lmstat-details WHO    who sees lmstat's holders (users, hosts, pids,\n"
	        "                          handles): \"admin\" (default: admins, and each\n"
	        "                          user their own) or \"public\" (all, as FlexLM)\n"
	        "  --client-tls MODE       TLS on the client port: \"allow\" (default: TLS\n"
	        "                          and plaintext clients), \"require\" or \"off\"\n"
	        "  --report-log FILE       write the usage report log (lmd(8), lmutil report);\n"
	        "                          wins over the options file's REPORTLOG\n"
	        "  --report-log-max-bytes N[K|M|G]  rotate the report log past this size\n"
	        "                          (default: never)\n"
	        "  --report-log-rotate daily  also rotate it when its records' UTC day\n"
	        "                          changes (default: never)\n"
	        "  --user NAME             started as root: read the license, then serve as\n"
	        "                          NAME (its data directory, ports from 1024 up)\n"
	        "  --allow-root            run as root throughout (also LMD_ALLOW_ROOT=1);\n"
	        "                          without it or --user, lmd refuses to run as root\n");
}

/* "N" for every server, or "N1,N2,N3" for each SERVER line. */
static int peer_ports(const char *text, unsigned out[LM_LICENSE_SERVERS_MAX])
{
	char buf[64];
	unsigned n = 0;
	if (strlen(text) >= sizeof buf)
		goto bad;
	snprintf(buf, sizeof buf, "%s", text);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(tok, &end, 10);
		if (n == LM_LICENSE_SERVERS_MAX || *tok == '\0' || *end != '\0' || v < 1 ||
		    v > 65535)
			goto bad;
		out[n++] = (unsigned)v;
	}
	if (n == 1) {
		for (n = 1; n < LM_LICENSE_SERVERS_MAX; n++)
			out[n] = out[0];
		return 0;
	}
	if (n == LM_LICENSE_SERVERS_MAX)
		return 0;
bad:
	fprintf(stderr,
	        "lmd: --peer-port %s: expected a port (1 to 65535) for every server, or three "
	        "ports separated by commas, one per SERVER line\n",
	        text);
	return -1;
}

/* "H1,H2,H3", one host per SERVER line, kept for the life of the process. */
static int peer_hosts(const char *text, const char *out[LM_LICENSE_SERVERS_MAX])
{
	static char buf[LM_LICENSE_SERVERS_MAX * 256];
	unsigned n = 0;
	if (strlen(text) >= sizeof buf)
		goto bad;
	snprintf(buf, sizeof buf, "%s", text);
	char *p = buf;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (n == LM_LICENSE_SERVERS_MAX || *p == '\0')
			goto bad;
		out[n++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (n == LM_LICENSE_SERVERS_MAX)
		return 0;
bad:
	fprintf(stderr,
	        "lmd: --peer-hosts %s: expected three hosts separated by commas, one per "
	        "SERVER line\n",
	        text);
	return -1;
}

/* "PORT", "ADDR:PORT" or "[IPV6]:PORT"; the address defaults to loopback:
 * metrics name users and hosts, so exposing them is the admin's choice. */
static int http_address(const char *text, struct lm_config *cfg)
{
	char host[LM_HTTP_HOST_MAX + 2] = "127.0.0.1";
	const char *port = text;
	const char *colon = strrchr(text, ':');
	if (colon) {
		size_t n = (size_t)(colon - text);
		const char *start = text;
		if (text[0] == '[') {
			if (n < 2 || text[n - 1] != ']')
				goto bad;
			start++;
			n -= 2;
		}
		if (n == 0 || n >= LM_HTTP_HOST_MAX)
			goto bad;
		memcpy(host, start, n);
		host[n] = '\0';
		port = colon + 1;
	}
	unsigned char bin[sizeof(struct in6_addr)];
	bool v6 = text[0] == '[';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bin) != 1)
		goto bad;
	char *end;
	unsigned long v = strtoul(port, &end, 10);
	if (*port == '\0' || *end != '\0' || v < 1 || v > 65535)
		goto bad;
	snprintf(cfg->http_host, sizeof cfg->http_host, "%s", host);
	cfg->http_port = (unsigned)v;
	return 0;
bad:
	fprintf(stderr,
	        "lmd: --http %s: expected PORT, ADDR:PORT or [IPV6]:PORT, with an IP address "
	        "and a port from 1 to 65535\n",
	        text);
	return -1;
}

unsigned lm_config_lease_ms(const struct lm_config *cfg)
{
	uint64_t margin = 2 * (uint64_t)cfg->election_ms + cfg->timeout_ms / 10;
	return margin < cfg->timeout_ms ? (unsigned)(cfg->timeout_ms - margin) : 0;
}

unsigned lm_config_linger_ms(const struct lm_config *cfg)
{
	if (cfg->reclaim_ms == 0)
		return lm_config_lease_ms(cfg);
	/* The client notices the end of its connection a little after the
	 * server does (a proxy closes one side, then the other), and timers
	 * fire late on a loaded machine. */
	unsigned margin = cfg->reclaim_ms / 5 < 1000 ? cfg->reclaim_ms / 5 : 1000;
	unsigned linger = cfg->reclaim_ms - margin;
	unsigned lease = lm_config_lease_ms(cfg);
	return linger < lease ? linger : lease;
}

static int number(const char *opt, const char *text, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	if (*text == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "lmd: %s %s: expected a number from %u to %u\n", opt, text, min,
		        max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* Options with no short letter. */
#define OPT_NAMED_USER_HOLD 1000

/* A duration: a number of seconds, minutes, hours or days ("90m", "24h"),
 * at most max seconds. */
static int duration(const char *opt, const char *text, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);
	unsigned long unit = 0;
	if (end != text && end[0] && !end[1] && isdigit((unsigned char)text[0]))
		unit = end[0] == 's'   ? 1
		       : end[0] == 'm' ? 60
		       : end[0] == 'h' ? 3600
		       : end[0] == 'd' ? 86400
		                       : 0;
	if (unit == 0 || v > max / unit) {
		fprintf(stderr,
		        "lmd: %s %s: expected a number with s, m, h or d (\"24h\"), at most "
		        "%ud\n",
		        opt, text, max / 86400);
		return -1;
	}
	*out = (unsigned)(v * unit);
	return 0;
}

/* A size in bytes, with an optional K, M or G (powers of 1024). */
static int size_bytes(const char *name, const char *text, uint64_t min, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	unsigned shift = 0;
	switch (*end) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	default: break;
	}
	if (shift)
		end++;
	if (!isdigit((unsigned char)text[0]) || *end != '\0' || v > (UINT64_MAX >> 30) ||
	    (v << shift) < min) {
		fprintf(stderr,
		        "lmd: %s wants a size of at least %llu bytes (N, NK, NM or NG), not '%s'\n",
		        name, (unsigned long long)min, text);
		return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

int lm_args_parse(struct lm_config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
	        {"pubkey", required_argument, NULL, 'k'},
	        {"data", required_argument, NULL, 'd'},
	        {"options", required_argument, NULL, 'o'},
	        {"port", required_argument, NULL, 'p'},
	        {"listen", required_argument, NULL, 'l'},
	        {"node", required_argument, NULL, 'n'},
	        {"peer-port", required_argument, NULL, 'P'},
	        {"peer-hosts", required_argument, NULL, 'A'},
	        {"heartbeat", required_argument, NULL, 'H'},
	        {"session-timeout", required_argument, NULL, 'T'},
	        {"election-timeout", required_argument, NULL, 'E'},
	        {"grace", required_argument, NULL, 'G'},
	        {"clock-tolerance", required_argument, NULL, 'K'},
	        {"join", no_argument, NULL, 'J'},
	        {"remote-admin", no_argument, NULL, 'R'},
	        {"admin-socket", required_argument, NULL, 1001},
	        {"admin-group", required_argument, NULL, 1002},
	        {"admin-keys", required_argument, NULL, 1003},
	        {"lmstat-details", required_argument, NULL, 1004},
	        {"client-tls", required_argument, NULL, 1005},
	        {"reclaim-after", required_argument, NULL, 'r'},
	        {"timeout-min", required_argument, NULL, 't'},
	        {"max-connections", required_argument, NULL, 'M'},
	        {"max-host-connections", required_argument, NULL, 'm'},
	        {"session-rate", required_argument, NULL, 'S'},
	        {"http", required_argument, NULL, 'W'},
	        {"report-log", required_argument, NULL, 'L'},
	        {"report-log-max-bytes", required_argument, NULL, 'B'},
	        {"report-log-rotate", required_argument, NULL, 'D'},
	        {"user", required_argument, NULL, 'u'},
	        {"allow-root", no_argument, NULL, 'Z'},
	        {"expiry-warn-days", required_argument, NULL, 'X'},
	        {"named-user-hold", required_argument, NULL, OPT_NAMED_USER_HOLD},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	*cfg = (struct lm_config){
	        .listen_addr = "0.0.0.0",
	        .node = 1,
	        .heartbeat_ms = 10000,
	        .timeout_ms = 30000,
	        .grace_ms = 300000,
	        .clock_tolerance_s = 3600,
	        .reclaim_ms = 5000,
	        .timeout_min_s = LM_OPTIONS_TIMEOUT_MIN,
	        .max_host_connections = 1000,
	        .session_rate = 100,
	        .expiry_warn_days = 30,
	        .named_hold_s = 86400,
	        .lmstat_details_admin = true,
	};
	int opt, rc = 0;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1 && rc == 0) {
		switch (opt) {
		case 'c': cfg->license_path = optarg; break;
		case 'k': cfg->pubkey_path = optarg; break;
		case 'd': cfg->data_dir = optarg; break;
		case 'o': cfg->options_path = optarg; break;
		case 'l': cfg->listen_addr = optarg; break;
		case 'p': rc = number("--port", optarg, 1, 65535, &cfg->port); break;
		case 'P': rc = peer_ports(optarg, cfg->peer_ports); break;
		case 'A': rc = peer_hosts(optarg, cfg->peer_hosts); break;
		case 'n':
			rc = number("--node", optarg, 1, LM_LICENSE_SERVERS_MAX, &cfg->node);
			break;
		case 'H':
			rc = number("--heartbeat", optarg, 50, 3600000, &cfg->heartbeat_ms);
			break;
		case 'T':
			rc = number("--session-timeout", optarg, 100, 86400000, &cfg->timeout_ms);
			break;
		case 'E':
			rc = number("--election-timeout", optarg, 50, 60000, &cfg->election_ms);
			break;
		case 'G': rc = number("--grace", optarg, 1000, 604800000, &cfg->grace_ms); break;
		case 'K':
			rc = number("--clock-tolerance", optarg, 0, 31536000,
			            &cfg->clock_tolerance_s);
			break;
		case 'J': cfg->join = true; break;
		case 'R':
			/* The source address never grants admin authority now:
			 * say what replaced the flag rather than ignore it. */
			fprintf(stderr, "lmd: --remote-admin is gone: list admin keys with "
			                "--admin-keys (lmutil admin-keygen) for remote admins\n");
			rc = -1;
			break;
		case 1001: cfg->admin_socket_path = optarg; break;
		case 1002: cfg->admin_group = optarg; break;
		case 1003: cfg->admin_keys_path = optarg; break;
		case 1004:
			if (strcmp(optarg, "public") == 0) {
				cfg->lmstat_details_admin = false;
			} else if (strcmp(optarg, "admin") == 0) {
				cfg->lmstat_details_admin = true;
			} else {
				fprintf(stderr, "lmd: --lmstat-details takes public or admin\n");
				rc = -1;
			}
			break;
		case 1005:
			if (strcmp(optarg, "allow") == 0) {
				cfg->client_tls = LM_CLIENT_TLS_ALLOW;
			} else if (strcmp(optarg, "require") == 0) {
				cfg->client_tls = LM_CLIENT_TLS_REQUIRE;
			} else if (strcmp(optarg, "off") == 0) {
				cfg->client_tls = LM_CLIENT_TLS_OFF;
			} else {
				fprintf(stderr, "lmd: --client-tls takes allow, require or off\n");
				rc = -1;
			}
			break;
		case 'r':
			rc = number("--reclaim-after", optarg, 0, 86400000, &cfg->reclaim_ms);
			break;
		case 't':
			rc = number("--timeout-min", optarg, 1, 86400 * 365, &cfg->timeout_min_s);
			break;
		case 'M':
			rc = number("--max-connections", optarg, 16, 1000000,
			            &cfg->max_connections);
			break;
		case 'm':
			rc = number("--max-host-connections", optarg, 0, 1000000,
			            &cfg->max_host_connections);
			break;
		case 'S':
			rc = number("--session-rate", optarg, 0, 1000000, &cfg->session_rate);
			break;
		case 'W': rc = http_address(optarg, cfg); break;
		case 'L': cfg->report_log_path = optarg; break;
		case 'u': cfg->run_as_user = optarg; break;
		case 'Z': cfg->allow_root = true; break;
		case 'B':
			rc = size_bytes("--report-log-max-bytes", optarg, 4096,
			                &cfg->report_log_max_bytes);
			break;
		case 'X':
			rc = number("--expiry-warn-days", optarg, 0, 3650, &cfg->expiry_warn_days);
			break;
		case OPT_NAMED_USER_HOLD:
			rc = duration("--named-user-hold", optarg, 366u * 86400,
			              &cfg->named_hold_s);
			break;
		case 'D':
			if (strcmp(optarg, "daily") != 0) {
				fprintf(stderr,
				        "lmd: --report-log-rotate %s: only daily is known "
				        "(rotation by size is --report-log-max-bytes)\n",
				        optarg);
				rc = -1;
			}
			cfg->report_log_daily = true;
			break;
		case 'h': usage(stdout); return 1;
		case 'V': printf("lmd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (rc != 0)
		return -1;
	if (optind < argc) {
		fprintf(stderr, "lmd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!cfg->license_path || !cfg->pubkey_path || !cfg->data_dir) {
		fprintf(stderr,
		        "lmd: -c LICENSE, --pubkey VENDOR.pub and --data DIR are required\n");
		usage(stderr);
		return -1;
	}
	if (cfg->timeout_ms <= cfg->heartbeat_ms) {
		fprintf(stderr,
		        "lmd: --session-timeout (%u ms) must be longer than --heartbeat "
		        "(%u ms), or every session would expire between heartbeats\n",
		        cfg->timeout_ms, cfg->heartbeat_ms);
		return -1;
	}
	if (cfg->election_ms == 0) {
		cfg->election_ms = cfg->timeout_ms / 4 < 1000 ? cfg->timeout_ms / 4 : 1000;
		if (cfg->election_ms < 50)
			cfg->election_ms = 50;
	}
	if ((uint64_t)cfg->election_ms * 3 >= cfg->timeout_ms) {
		fprintf(stderr,
		        "lmd: --election-timeout (%u ms) must be under a third of "
		        "--session-timeout (%u ms): a deposed leader may answer for up to two "
		        "election timeouts, and clients must learn they lost a seat before the "
		        "pool can give it away\n",
		        cfg->election_ms, cfg->timeout_ms);
		return -1;
	}
	if (cfg->heartbeat_ms >= lm_config_lease_ms(cfg)) {
		fprintf(stderr,
		        "lmd: --heartbeat (%u ms) must be shorter than the clients' lease (%u ms: "
		        "--session-timeout less two election timeouts and a tenth), or clients "
		        "would report their seats lost between heartbeats\n",
		        cfg->heartbeat_ms, lm_config_lease_ms(cfg));
		return -1;
	}
	return 0;
}
