/* The dispatch table: which handler answers each kind of request.  The
 * session requests (requests.c) and the administrators' (admin.c) register
 * their handlers at start-up; the connection layer (connection.c) looks up
 * the body of each frame it decodes and calls what it finds, knowing
 * nothing of what the handlers do. */
#ifndef LM_DISPATCH_H
#define LM_DISPATCH_H

#include <assert.h>
#include <stddef.h>

#include "proto/lm.pb-c.h"

struct lm_connection;

/* Answers env, a checked request (proto/frame.h) that lives in the
 * server's arena until the handler returns: whatever outlives the call is
 * copied. */
typedef void (*lm_handler_fn)(struct lm_connection *c, const Lm__Envelope *env);

/* Body field numbers (proto/lm.proto) are below this. */
#define LM_DISPATCH_BODIES 64

struct lm_dispatch {
	lm_handler_fn handlers[LM_DISPATCH_BODIES];
};

/* Registers fn for requests with this body; one handler per body. */
static inline void lm_dispatch_add(struct lm_dispatch *d, Lm__Envelope__BodyCase body,
                                   lm_handler_fn fn)
{
	assert(body > 0 && body < LM_DISPATCH_BODIES && d->handlers[body] == NULL);
	d->handlers[body] = fn;
}

/* The handler of a body, NULL when none is registered. */
static inline lm_handler_fn lm_dispatch_find(const struct lm_dispatch *d,
                                             Lm__Envelope__BodyCase body)
{
	return (unsigned)body < LM_DISPATCH_BODIES ? d->handlers[body] : NULL;
}

#endif
