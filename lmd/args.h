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
	unsigned peer_port;       /* --peer-port; 0: client port + 100 */
	unsigned node;            /* --node, 1-based SERVER line; default 1 */
	unsigned heartbeat_ms;    /* --heartbeat, what clients are told (10000) */
	unsigned timeout_ms;      /* --session-timeout (30000) */
	unsigned election_ms;     /* --election-timeout (1000) */
	bool remote_admin;        /* --remote-admin: lmdown/lmremove/lmreread from any host */
};

/* Parses argv into cfg.  Returns 0, 1 after printing --help, or -1 after
 * printing a usage error to stderr. */
int lm_args_parse(struct lm_config *cfg, int argc, char **argv);

#endif
