/* The seat pool: a deterministic state machine over an LMDB store.
 *
 * Every change arrives as a committed raft entry holding one lmcmd.Command
 * (proto/command.proto) and is applied here, on every server, in log order.
 * lm_pool_apply is a pure function of the pool and the command: the only
 * clock it reads is Command.time_us, chosen by the leader; it never fails
 * for business reasons ("all seats in use" is a result, not an error); it
 * never reads the local license file or the environment.
 *
 * What the pool holds (all replicated):
 *   - the license set: the signed lines of the served license file;
 *   - sessions: id, secret digest, the client's identity, when opened, and
 *     the last request id with its result (idempotent retries);
 *   - handles: which session holds how many seats of which feature, under
 *     which license line, since when;
 *   - the cluster's identity, chosen once by the first leader.
 * Volatile things (connections, last heartbeat times, wait queues) are the
 * leader's business, not the pool's.
 *
 * Seat accounting.  Counted FEATURE and INCREMENT lines with the same
 * feature name and the same version form one pool whose size is the sum of
 * their counts, counting only lines that have started (START <= today) and
 * not expired (expiry >= today), "today" being the day of Command.time_us.
 * A request for version V and K seats is served by the pool of smallest
 * version >= V that has K free seats; failing that, by the first whose
 * lines lend K more beyond their count (OVERDRAFT=n, summed over the lines
 * in their dates, capped by the options file's MAX_OVERDRAFT): those seats
 * are overdraft seats, flagged on the handle and in the result.  Under a
 * DUP_GROUP, a checkout by the same user, host and display, with the same
 * vendor data (as the backing line's DUP_GROUP names them) as a handle of
 * the pool, for as many seats, shares that handle's seats and takes none
 * (lmd/pool_share.c).  A handle is charged to that pool;
 * a denial says why: LMC_ENOFEATURE (no line of that name), LMC_EVERSION
 * (only older versions), LMC_ENOTSTARTED / LMC_EEXPIRED (no line of a
 * suitable version is in its dates), LMC_ENOSEATS (in use).
 *
 * Idempotent requests (DESIGN.md §2.3).  A client sends one mutating
 * request at a time per session, numbering them; each session stores the
 * id and result of its last request.  A Checkout or Checkin whose request
 * id equals the stored one returns the stored result without changing
 * anything; a lower one is stale and returns LMC_EPROTO unchanged. */
#ifndef LM_POOL_H
#define LM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/license.h"
#include "core/options.h"

/* Limits of the pool, each refused with LMC_ELIMIT by apply. */
#define LM_POOL_SESSIONS_MAX            200000
#define LM_POOL_HANDLES_PER_SESSION_MAX 1024

/* The size of a sharing group's name (a SHA-256). */
#define LM_POOL_SHARE_LEN 32

struct lm_pool;

/* The outcome of applying one command, for the server that proposed it. */
struct lm_pool_result {
	int code;           /* 0 or a negative LMC_E* */
	uint64_t handle;    /* Checkout: the new handle (or the retried one) */
	uint32_t count;     /* Checkout: seats granted; Checkin/CloseSession/Remove: seats
	                       returned; SetLicense: lines loaded */
	uint32_t line;      /* Checkout: index into the license set of the backing line */
	uint32_t overdraft; /* Checkout: of count, seats granted beyond the count */
	char message[256];  /* a sentence for denials: "all 5 seats of stats 29.0 in use" */
	/* Checkout/Checkin: the session's last request, answered again from
	 * its memory (pool.h, idempotent requests); nothing changed. */
	bool replayed;
	/* Checkout granted (also a retry answered again): the backing line's
	 * canonical text and signature, read in the transaction that charged
	 * the seat, so that the reply shows the line the seat was charged
	 * under whatever the log applies next.  "" when the line is gone: a
	 * retry after an lmreread removed it.  Not kept with the session. */
	char license_text[LM_LINE_MAX];
	uint8_t license_sig[LM_SIG_LEN];
	/* Checkout of a PACKAGE's component (pool_package.c): the PACKAGE
	 * line, whose enabling line is the one above; "" otherwise. */
	bool has_package;
	uint32_t package_line;
	char package_text[LM_LINE_MAX];
	uint8_t package_sig[LM_SIG_LEN];
};

/* Opens (creating if needed) the store in dir and empties it: the raft log
 * and snapshots are the truth, and raft re-applies them at every start
 * (restore, then apply), so the store never needs fsync and a torn store
 * after a crash is simply rebuilt.  Returns 0 or LMC_EIO with err set. */
int lm_pool_open(struct lm_pool **out, const char *dir, char *err, size_t errsize);
void lm_pool_close(struct lm_pool *p);

/* Applies the packed lmcmd.Command at raft index.  Returns 0 with *res
 * filled (res->code says what happened), or LMC_EPROTO when the bytes are
 * not a valid command: a corrupt log, which the caller treats as fatal.
 * Every other non-zero return is a local failure and just as fatal: LMC_EIO
 * (the store failed, or holds a corrupt record), LMC_ENOMEM, LMC_EINVAL
 * (index not after the last applied one).  A failed apply changes nothing.
 * Not to be called from inside a query's callback. */
int lm_pool_apply(struct lm_pool *p, uint64_t index, const void *cmd, size_t len,
                  struct lm_pool_result *res);

/* The index of the last applied command (0 for an empty pool). */
uint64_t lm_pool_applied_index(const struct lm_pool *p);

/* The whole pool as one buffer (malloc'd), and back.  restore replaces
 * everything, and sets the applied index to index; a buffer that is not a
 * snapshot this version can read is refused whole with LMC_EPROTO. */
int lm_pool_snapshot(struct lm_pool *p, void **buf, size_t *len);
int lm_pool_restore(struct lm_pool *p, uint64_t index, const void *buf, size_t len);

/* A SHA-256 over the pool's logical content (not the LMDB file), equal on
 * servers that applied the same commands: the triad tests compare it.  The
 * applied index is not content: it is left out. */
int lm_pool_digest(struct lm_pool *p, uint8_t digest[32]);

/* ---- Read-only queries (for the server: replies, lmstat, expiry) ---- */

/* The cluster's identity (lmcmd.SetClusterId): 16 random bytes, never all
 * zero.  *known is false until the first SetClusterId is applied. */
int lm_pool_cluster_id(struct lm_pool *p, uint8_t id[LM_CLUSTER_ID_SIZE], bool *known);

/* The administrator's policy in force (the options file of the last
 * SetLicense, core/options.h), or NULL.  Valid until the next apply. */
const struct lm_options *lm_pool_policy(const struct lm_pool *p);
/* The RESERVE rules of the pool (feature, version) that issues issued
 * seats, with the seats held now charged to them as checkout charges them
 * (lm_options_reservations), for lmstat.  *out (free it) is NULL and *n 0
 * without a policy or a RESERVE; its rules are valid until the next apply. */
int lm_pool_policy_reservations(struct lm_pool *p, const char *feature, const char *version,
                                uint32_t issued, struct lm_opt_reservation **out, size_t *n);

/* The signed line with index i of the license set: canonical text and
 * signature, copied out.  LMC_ENOFEATURE when there is no such line. */
int lm_pool_line(struct lm_pool *p, uint32_t i, char *text, size_t size, uint8_t sig[LM_SIG_LEN]);

struct lm_pool_session {
	uint64_t id;
	uint8_t secret_digest[32];
	/* The wire's limits (core/limits.h), each with its NUL. */
	char user[LM_WIRE_USER_MAX + 1], host[LM_WIRE_HOST_MAX + 1];
	char display[LM_WIRE_DISPLAY_MAX + 1], lock_code[LM_LOCKCODE_TEXT_MAX];
	char app_version[LM_WIRE_VERSION_MAX + 1];
	char ip[LM_WIRE_IP_MAX + 1];           /* as the leader saw the connection */
	char project[LM_WIRE_PROJECT_MAX + 1]; /* LM_PROJECT */
	uint32_t pid;
	int64_t opened_us;
	uint32_t nhandles;
};
/* LMC_ENOSESSION when unknown. */
int lm_pool_session(struct lm_pool *p, uint64_t id, struct lm_pool_session *out);
/* Calls fn for every session (e.g. to give each a fresh grace period after
 * an election); stops early when fn returns non-zero. */
int lm_pool_each_session(struct lm_pool *p, int (*fn)(void *arg, const struct lm_pool_session *s),
                         void *arg);

struct lm_pool_handle {
	uint64_t handle, session_id;
	char feature[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];      /* requested */
	char pool_version[LM_VERSION_MAX + 1]; /* the pool charged */
	uint32_t count;
	uint32_t overdraft; /* of count, seats granted beyond the count (OVERDRAFT) */
	int64_t since_us;
	/* DUP_GROUP: the sharing group of the handle (a digest of the group
	 * and the identity that share a seat), and, filled by
	 * lm_pool_each_feature only, how many handles share its seats now. */
	bool has_share;
	uint8_t share[LM_POOL_SHARE_LEN];
	uint32_t sharers;
	/* The vendor data its checkout carried (core/vendor_data.h), "" for
	 * none. */
	char vendor_data[LM_WIRE_VENDOR_DATA_MAX + 1];
	/* A component of a PACKAGE (feature is the component): the package,
	 * whose pool is charged; "" for a feature's own line. */
	char package[LM_NAME_MAX + 1];
	/* Set by lm_pool_each_component only: not a checkout of feature but
	 * the suite seat of a SUITE_RESERVED package that reserves it for
	 * this holder (the seat's first handle, with feature the component). */
	bool suite_reservation;
};
/* The handles of one session (up to max), returns how many there are. */
int lm_pool_session_handles(struct lm_pool *p, uint64_t session_id, struct lm_pool_handle *out,
                            int max);

/* One handle, by its number.  LMC_ENOHANDLE when nobody holds it. */
int lm_pool_handle(struct lm_pool *p, uint64_t handle, struct lm_pool_handle *out);

/* One pool (feature, version) for lmstat. */
struct lm_pool_feature {
	char name[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];
	uint32_t issued;    /* seats of the lines in their dates at `today` */
	uint32_t in_use;    /* overdraft seats included */
	uint32_t overdraft; /* seats the pool may lend beyond issued (OVERDRAFT,
	                       capped by MAX_OVERDRAFT) */
	int32_t expiry;     /* latest expiry among its lines; LM_DATE_NONE when its
	                       lines are gone and only held seats keep it listed */
	uint8_t named_kind; /* LM_NAMED_USERS/HOSTS when its lines limit who */
	uint32_t named_max; /* and to how many names (pool_named.c) */
	/* A component of a PACKAGE (lm_pool_each_component): the package
	 * whose pool serves it; "" for a feature. */
	char package[LM_NAME_MAX + 1];
	/* Of a SUITE_RESERVED package's component: the seats of suite seats
	 * reserving it for holders that have no checkout of it. */
	uint32_t suite_reserved;
};
/* Calls fn for every (feature, version) pool, and for each its holders via
 * holder_fn when non-NULL, as of day today. */
int lm_pool_each_feature(struct lm_pool *p, int32_t today,
                         int (*fn)(void *arg, const struct lm_pool_feature *f),
                         int (*holder_fn)(void *arg, const struct lm_pool_handle *h,
                                          const struct lm_pool_session *s),
                         void *arg);

/* Calls fn for every component of a PACKAGE served from its package's
 * pool (lmd/pool_package.c): issued and expiry of that pool, in_use the
 * seats of the component's own checkouts, package set; and holder_fn, when
 * non-NULL, for those checkouts, then (SUITE_RESERVED) for each suite seat
 * reserving the component, with suite_reservation set.  Not part of lm_pool_each_feature, whose
 * callers add up the pools' seats. */
int lm_pool_each_component(struct lm_pool *p, int32_t today,
                           int (*fn)(void *arg, const struct lm_pool_feature *f),
                           int (*holder_fn)(void *arg, const struct lm_pool_handle *h,
                                            const struct lm_pool_session *s),
                           void *arg);

/* One name on the list of a feature limited to named users or hosts
 * (USER_BASED, NAMED_USERS, HOST_BASED: pool_named.c). */
#define LM_POOL_NAMED_NAME_MAX 255 /* LM_WIRE_USER_MAX and LM_WIRE_HOST_MAX */
struct lm_pool_named {
	char feature[LM_NAME_MAX + 1];
	char name[LM_POOL_NAMED_NAME_MAX + 1];
	uint8_t kind;     /* LM_NAMED_USERS or LM_NAMED_HOSTS (core/license.h) */
	int64_t added_us; /* Command.time_us of the checkout that added it */
};
/* Calls fn for each name of feature's list (of every feature when NULL),
 * by feature then name; stops early when fn returns non-zero. */
int lm_pool_each_named(struct lm_pool *p, const char *feature,
                       int (*fn)(void *arg, const struct lm_pool_named *n), void *arg);
/* "users"/"user" or "hosts"/"host", for messages. */
const char *lm_pool_named_kind_name(uint8_t kind, bool plural);

#endif
