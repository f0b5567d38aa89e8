#include "lmd/args.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmd -c LICENSE --pubkey VENDOR.pub --data DIR [options]\n"
	        "  -c FILE                 the license file to serve (signed by the vendor)\n"
	        "  --pubkey FILE           the vendor's Ed25519 public key (PEM)\n"
	        "  --data DIR              where lmd keeps its state (created if missing)\n"
	        "  --port N                client port (default: the SERVER line's, else 27000)\n"
	        "  --listen ADDR           address to listen on (default 0.0.0.0)\n"
	        "  --node N                serve the N-th SERVER line of a triad (default 1)\n"
	        "  --peer-port N           replication port (default: client port + 100); keep\n"
	        "                          it on a private network: it is not authenticated\n"
	        "  --heartbeat MS          heartbeat period told to clients (default 10000)\n"
	        "  --session-timeout MS    silence after which a session expires (default 30000)\n"
	        "  --election-timeout MS   raft election timeout (default 1000)\n"
	        "  --remote-admin          accept lmdown/lmremove/lmreread from other hosts\n"
	        "                          (default: only from this machine)\n");
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

int lm_args_parse(struct lm_config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
	        {"pubkey", required_argument, NULL, 'k'},
	        {"data", required_argument, NULL, 'd'},
	        {"port", required_argument, NULL, 'p'},
	        {"listen", required_argument, NULL, 'l'},
	        {"node", required_argument, NULL, 'n'},
	        {"peer-port", required_argument, NULL, 'P'},
	        {"heartbeat", required_argument, NULL, 'H'},
	        {"session-timeout", required_argument, NULL, 'T'},
	        {"election-timeout", required_argument, NULL, 'E'},
	        {"remote-admin", no_argument, NULL, 'R'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	*cfg = (struct lm_config){
	        .listen_addr = "0.0.0.0",
	        .node = 1,
	        .heartbeat_ms = 10000,
	        .timeout_ms = 30000,
	        .election_ms = 1000,
	};
	int opt, rc = 0;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1 && rc == 0) {
		switch (opt) {
		case 'c': cfg->license_path = optarg; break;
		case 'k': cfg->pubkey_path = optarg; break;
		case 'd': cfg->data_dir = optarg; break;
		case 'l': cfg->listen_addr = optarg; break;
		case 'p': rc = number("--port", optarg, 1, 65535, &cfg->port); break;
		case 'P': rc = number("--peer-port", optarg, 1, 65535, &cfg->peer_port); break;
		case 'n': rc = number("--node", optarg, 1, 3, &cfg->node); break;
		case 'H':
			rc = number("--heartbeat", optarg, 50, 3600000, &cfg->heartbeat_ms);
			break;
		case 'T':
			rc = number("--session-timeout", optarg, 100, 86400000, &cfg->timeout_ms);
			break;
		case 'E':
			rc = number("--election-timeout", optarg, 50, 60000, &cfg->election_ms);
			break;
		case 'R': cfg->remote_admin = true; break;
		case 'h': usage(stdout); return 1;
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
	return 0;
}
