/* Expiry: the leader gives back the seats of sessions whose clients fell
 * silent (DESIGN.md §2.2), by committing a CloseSession for each. */
#ifndef LM_EXPIRY_H
#define LM_EXPIRY_H

#include "lmd/server.h"

/* Expiries being committed at once, at most: a mass expiry (a lab's
 * machines all switched off) is spread over the next sweeps instead of
 * stalling every other request behind it. */
#define LM_EXPIRY_IN_FLIGHT_MAX 256

/* Proposes the expiry of every session whose lease has run out; called
 * from the daemon's sweep timer, on the leader. */
void lm_expiry_sweep(struct lm_server *s);

#endif
