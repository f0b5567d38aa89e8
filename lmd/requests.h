/* The requests of an application's session (requests.c). */
#ifndef LM_REQUESTS_H
#define LM_REQUESTS_H

#include "lmd/dispatch.h"

/* Registers the handlers of Hello, SessionOpen, Checkout, Checkin,
 * Heartbeat and SessionClose. */
void lm_requests_register(struct lm_dispatch *d);

#endif
