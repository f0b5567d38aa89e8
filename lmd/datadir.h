/* lmd's data directory (--data):
 *
 *   DATA/          0700, owned by the user running lmd
 *     lock         flock'ed for the life of the process; holds its pid
 *     node-id      this server's raft id, 0600 (written through node-id.tmp)
 *     raft-seen    the raft ids of the peers this server ever completed a
 *                  replication handshake with, one a line, 0600
 *     cluster-id   the identity of the cluster this server belongs to, 32
 *                  hex digits, 0600, written once it applied it (lmd/pool.h)
 *     server-key   this server's Ed25519 identity key pair, PEM, 0600, made
 *                  at the first start (core/server_key_file.h); refused
 *                  when others may read it
 *     pool/        the LMDB store, rebuilt from raft at every start
 *     raft/        raft's log, snapshots and metadata
 *
 * Whoever can write here can rewrite the seats, the votes and the log, so
 * lmd refuses a directory, or subdirectory, that someone else owns or that
 * group or others may write, and never follows a symbolic link inside it:
 * every file is opened relative to the directory's descriptor without
 * following links, and the subdirectories, handed to LMDB and raft by path,
 * are checked to hold no links.  Only DATA itself may be a link, since the
 * administrator names it.  And one lmd per directory: a second one is
 * refused at the lock. */
#ifndef LM_DATADIR_H
#define LM_DATADIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/license.h"
#include "core/limits.h"

#define LM_DATADIR_PATH_MAX 4096
/* raft-seen ids kept in memory; past it the file still grows. */
#define LM_DATADIR_SEEN_MAX 64

struct lm_datadir {
	const char *path; /* --data, as given; the caller's */
	int fd;           /* DATA, checked */
	int lock_fd;      /* DATA/lock, locked */
	int raft_fd;      /* DATA/raft, checked */
	/* The checked subdirectories, for LMDB and raft. */
	char pool[LM_DATADIR_PATH_MAX];
	char raft[LM_DATADIR_PATH_MAX];
	/* raft-seen, as read at open and appended since. */
	uint64_t seen[LM_DATADIR_SEEN_MAX];
	unsigned nseen;
};

/* Creates DATA (0700) if needed, checks it, locks it, and creates and
 * checks pool/ and raft/.  Returns 0, or a negative LMC_E* code with a
 * message naming the path and what to do in msg: LMC_ELIMIT when another
 * lmd uses the directory, LMC_EDENIED when it or a subdirectory is not
 * private to this user or holds a symbolic link, LMC_EIO otherwise.  On
 * failure nothing is left open. */
int lm_datadir_open(struct lm_datadir *d, const char *path, char *msg, size_t size);
/* Closes the descriptors, which releases the lock. */
void lm_datadir_close(struct lm_datadir *d);

/* The raft id this server runs under: the one in node-id, or on the first
 * start the server's SERVER line, or for a replacement (--join) a fresh
 * N + 3k, written to node-id.  Returns 0 with *id set, or a negative
 * LMC_E* code with a message in msg. */
/* The server a data directory serves, as its command line and license say. */
struct lm_datadir_owner {
	unsigned node;            /* --node: its SERVER line, 1-based */
	int nservers;             /* SERVER lines in the license: 1 or 3 */
	bool join;                /* --join: a replacement */
	const char *license_path; /* for messages */
};
int lm_datadir_node_id(struct lm_datadir *d, const struct lm_datadir_owner *owner, unsigned *id,
                       char *msg, size_t size);
/* The SERVER line (1-based) whose server runs under raft_id, 0 if none: a
 * replacement of line N runs under N + 3k. */
unsigned lm_datadir_line_of(int nservers, unsigned raft_id);

/* Whether raft/ holds nothing: this server never started raft here. */
bool lm_datadir_raft_empty(const struct lm_datadir *d);

/* Records in raft-seen, written and fsync'd before it returns, that this
 * server met the peer of raft id id (once per id).  A peer that had once
 * replicated with a server can so tell that server, when it comes back
 * with an empty data directory, that it lost its data.  Returns 0 or
 * LMC_EIO / LMC_EDENIED with a message in msg. */
int lm_datadir_seen_add(struct lm_datadir *d, uint64_t id, char *msg, size_t size);

/* DATA/cluster-id.  Read at start, so that the replication port refuses a
 * server of another cluster before raft replays anything; written (and
 * fsync'd) when this server first applies the cluster's SetClusterId or a
 * snapshot holding it.  *known is false when there is no file.  Return 0,
 * or a negative LMC_E* code with a message in msg. */
int lm_datadir_cluster_id(struct lm_datadir *d, uint8_t id[LM_CLUSTER_ID_SIZE], bool *known,
                          char *msg, size_t size);
int lm_datadir_set_cluster_id(struct lm_datadir *d, const uint8_t id[LM_CLUSTER_ID_SIZE], char *msg,
                              size_t size);

/* DATA/server-key: reads this server's identity key, or makes it at the
 * first start (*created).  When own (this server's SERVER line) pins a key
 * (KEY=) that is not this one, refuses with LMC_ENOTLICENSED and a message
 * naming both keys.  Returns 0 with *out the key (the caller frees it), or
 * a negative LMC_E* code with a message in msg (see server_key_file.h). */
int lm_datadir_server_key(struct lm_datadir *d, const struct lm_license_server *own, EVP_PKEY **out,
                          bool *created, char *msg, size_t size);

#endif
