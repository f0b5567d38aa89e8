/* The leader's table of live sessions: what it knows about each session
 * beyond the replicated pool (DESIGN.md §2.2): when it was last heard from
 * (its last heartbeat or request), which connection, if any, it is attached
 * to, and whether its expiry is being committed.  Volatile by design: a new
 * leader rebuilds the table from the pool and gives every session a fresh
 * grace period. */
#ifndef LM_LIVE_SESSIONS_H
#define LM_LIVE_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lm_connection;

struct lm_live_session {
	uint64_t id;                /* 0: free slot */
	uint64_t last_heard_ms;     /* uv_now() of the last heartbeat or request */
	struct lm_connection *conn; /* attached connection, or NULL */
	/* uv_now() when its connection ended with EOF and no SessionClose (the
	 * client process died, most likely), 0 otherwise: the seats return
	 * after --reclaim-after unless the session is resumed first. */
	uint64_t eof_ms;
	/* A CloseSession is being proposed: the session takes no request and
	 * cannot be resumed, or a client could believe in seats that are
	 * about to go back to the pool. */
	bool closing;
	/* uv_now() since when its application says it is idle (the idle time
	 * of its last Heartbeat counted back from its arrival), 0 while it is
	 * active: TIMEOUT and TIMEOUTALL take back its seats (idle.c). */
	uint64_t idle_since_ms;
	/* Idle reclaims (RemoveHandle) of its seats being committed: the sweep
	 * leaves the session alone until they are done. */
	unsigned reclaiming;
};

/* An open-addressing hash table keyed by session id. */
struct lm_live_sessions {
	struct lm_live_session *slots;
	size_t capacity; /* a power of two */
	size_t count;
};

int lm_live_sessions_init(struct lm_live_sessions *t);
void lm_live_sessions_close(struct lm_live_sessions *t);
void lm_live_sessions_clear(struct lm_live_sessions *t);
/* The entry for id, or NULL. */
struct lm_live_session *lm_live_sessions_find(struct lm_live_sessions *t, uint64_t id);
/* The entry for id, added if missing (NULL when out of memory). */
struct lm_live_session *lm_live_sessions_add(struct lm_live_sessions *t, uint64_t id);
void lm_live_sessions_remove(struct lm_live_sessions *t, uint64_t id);

#endif
