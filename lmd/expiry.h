/* Expiry: the leader gives back the seats of sessions whose clients fell
 * silent (DESIGN.md §2.2), by committing a CloseSession for each; and every
 * server warns before the license lines it serves expire. */
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

/* License lines that expire soon: the days left before expiry (a day
 * number) as of today, when that is within --expiry-warn-days (0: it
 * expires today); -1 when it is further, past, permanent or warnings are
 * off. */
int lm_expiry_days_left(const struct lm_server *s, int32_t expiry, int32_t today);

/* Logs a warning for each line of the license set served that expires
 * within --expiry-warn-days, once a day; called from the sweep timer. */
void lm_expiry_warn_licenses(struct lm_server *s);

#endif
