/* Where the servers of the license listen: each one's client address
 * ("port@host", as clients and lmstat name it) and raft address ("ip:port"),
 * planned from the SERVER lines, --port, --peer-port and --peer-host. */
#ifndef LM_ADDRESSES_H
#define LM_ADDRESSES_H

#include "lmd/server.h"

/* Fills s->port, s->addresses and s->raft_addresses from s->license and
 * s->cfg; exits naming the problem when they cannot be planned (--node
 * beyond the SERVER lines, a port with no room for its peer port, two
 * servers on one raft address). */
void lm_addresses_plan(struct lm_server *s);

#endif
