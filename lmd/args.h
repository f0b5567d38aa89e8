/* lmd's command line. */
#ifndef LM_ARGS_H
#define LM_ARGS_H

#include <stdbool.h>
#include <stddef.h>

struct lm_config {
	const char *license_path; /* -c */
	const char *pubkey_path;  /* --pubkey */
	const char *data_dir;     /* --data */
	const char *listen_addr;  /* --listen, default 0.0.0.0 */
	unsigned port;            /* --port; 0: the SERVER line's port, else 27000 */
	/* --peer-port: the replication port of each SERVER line's server;
	 * 0: its client port + 100.  "N" gives every server port N (servers
	 * on separate machines), "N1,N2,N3" one port per line (all three on
	 * one machine). */
	unsigned peer_ports[3];
	/* --peer-hosts: the host (name or IPv4) each SERVER line's server
	 * replicates on; NULL: the SERVER line's host.  For servers whose
	 * SERVER names face the clients while replication goes over a private
	 * network. */
	const char *peer_hosts[3];
	unsigned node;         /* --node, 1-based SERVER line; default 1 */
	bool join;             /* --join: replaces a dead server of the triad */
	unsigned heartbeat_ms; /* --heartbeat, what clients are told (10000) */
	unsigned timeout_ms;   /* --session-timeout (30000) */
	unsigned election_ms;  /* --election-timeout (1000) */
	unsigned grace_ms;     /* --grace, told to clients (300000) */
	bool remote_admin;     /* --remote-admin: lmdown/lmremove/lmreread from any host */
};

/* Parses argv into cfg.  Returns 0, 1 after printing --help, or -1 after
 * printing a usage error to stderr. */
int lm_args_parse(struct lm_config *cfg, int argc, char **argv);

#endif
