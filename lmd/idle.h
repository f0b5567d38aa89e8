/* Idle reclaim: the leader takes back the seats of applications that said
 * they are idle (lmc_set_idle) for longer than the options file's TIMEOUT
 * of the feature, or TIMEOUTALL, by committing a RemoveHandle for each. */
#ifndef LM_IDLE_H
#define LM_IDLE_H

#include <stdint.h>

#include "lmd/server.h"

/* Idle reclaims being committed at once, at most, like expiries
 * (expiry.h): a lab going idle together is spread over the next sweeps. */
#define LM_IDLE_IN_FLIGHT_MAX 256

/* Records what a Heartbeat said: idle for idle_ms (0: active) as of now. */
void lm_idle_heard(struct lm_server *s, uint64_t session_id, uint64_t idle_ms);

/* Proposes the reclaim of every seat held past its feature's idle timeout;
 * called from the daemon's sweep timer, on the leader. */
void lm_idle_sweep(struct lm_server *s);

#endif
