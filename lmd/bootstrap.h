/* The first start of a triad: whether a server with no raft state may
 * bootstrap the cluster.
 *
 * raft bootstraps a pristine data directory with the static configuration
 * of the three SERVER lines.  That is right on the very first start, and
 * wrong for a server that lost its data directory: it would come back under
 * its old raft id with an empty log and no memory of its vote, and could
 * help elect a server that lacks committed seats (issue 8).  Such a server
 * cannot tell the two apart by itself; its peers can.  Each server records
 * in its data directory the raft id of every peer it completed a
 * replication handshake with (datadir.h, raft-seen), before any raft
 * traffic flows, and tells them in its StatusRequest answer.
 *
 * So a server of a triad whose raft directory is empty, not started with
 * --join, asks its two peers on their client ports (which every lmd opens
 * before raft) before it starts raft:
 *  - a peer that lists this server's raft id: it lost its data, and lmd
 *    exits saying how to rejoin (--join and lmutil lmreplace);
 *  - both peers answer without listing it: the cluster ran without this
 *    server (it starts late), so this is its first start, and raft starts;
 *  - a pristine peer (no raft state, or bootstrapped by its running process
 *    and never part of a quorum yet) answers without listing it: the triad
 *    is starting (one server after the other), and raft starts;
 *  - otherwise it asks again every LM_BOOTSTRAP_RETRY_MS, with no time
 *    limit, meanwhile answering clients (lmstat) as a server without a
 *    leader.  One peer with raft state that never met this server proves
 *    nothing: followers need not ever exchange a message, so the log that
 *    this server helped commit may be on the other peer alone.
 * A single server, a --join replacement, and a server with raft state start
 * raft at once.  Everything but the questions, which block in the thread
 * pool, runs on the loop. */
#ifndef LM_BOOTSTRAP_H
#define LM_BOOTSTRAP_H

#include <stdbool.h>

struct lm_server;

#define LM_BOOTSTRAP_RETRY_MS 500
/* Per question to a peer: connect, Hello, StatusRequest. */
#define LM_BOOTSTRAP_ASK_MS 1000

/* Calls start(s) once raft may start, now or later from the loop, unless
 * lm_bootstrap_stop() came first; exits the process when this server lost
 * its data.  s->datadir, s->raft_id and s->addresses must be set. */
void lm_bootstrap_start(struct lm_server *s, void (*start)(struct lm_server *s));
/* What the server says as pristine in its status: it waits for its peers'
 * answers (no raft state), or it bootstrapped in this process and no
 * quorum has formed with it yet. */
bool lm_bootstrap_pristine(const struct lm_server *s);
/* Stops asking; start will not be called.  Safe when nothing runs. */
void lm_bootstrap_stop(struct lm_server *s);

#endif
