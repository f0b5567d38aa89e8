/* The administrators' requests (admin.c, admin_status.c). */
#ifndef LM_ADMIN_H
#define LM_ADMIN_H

#include "lmd/dispatch.h"

/* Registers the handlers of lmstat's StatusRequest, lmremove, lmdown,
 * lmreread and lmreplace. */
void lm_admin_register(struct lm_dispatch *d);

/* Answers lmstat's StatusRequest (admin_status.c). */
void lm_admin_status(struct lm_connection *c, const Lm__Envelope *env);

#endif
