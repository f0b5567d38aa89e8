/* The seat pool state machine (lmd/pool.h) over the store (lmd/store.h):
 * opening and closing it, and applying a command.  The rest is one file per
 * concept, all sharing lmd/pool_internal.h, which also describes the tables
 * and their record formats:
 *
 *   pool_record.c    keys; the records of the meta, sessions, handles and
 *                    usage tables, and how a handle charges its pool;
 *                    SetClusterId
 *   pool_license.c   SetLicense: the lines and features tables, and what a
 *                    pool issues on a day
 *   pool_seats.c     OpenSession, CloseSession, Checkout, Checkin and
 *                    RemoveHandle
 *   pool_query.c     the read-only queries (replies, lmstat, expiry)
 *   pool_snapshot.c  snapshot, restore and the digest */
#include "lmd/pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"
#include "proto/arena.h"
#include "proto/command.pb-c.h"

/* Commands up to this size are unpacked in the pool's arena; larger ones
 * (a SetLicense of a big license file) are rare and use malloc. */
#define ARENA_COMMAND_MAX (64 * 1024)

/* The pool has no error string of its own: a failure of the store or a
 * corrupt record makes apply return a code the server treats as fatal, and
 * this line in the log is the last word before it exits. */
int lm_pool_store_failed(struct lm_pool *p, int rc)
{
	lm_log_error("pool: %s", lm_store_error(p->store));
	return rc;
}

int lm_pool_corrupt(const char *what)
{
	lm_log_error("pool: corrupt %s record in the store", what);
	return LMC_EIO;
}

/* Fills res with a denial; apply's handlers return 0 after it. */
void lm_pool_deny(struct lm_pool_result *res, int code, const char *fmt, ...)
{
	va_list ap;
	res->code = code;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof res->message, fmt, ap);
	va_end(ap);
}

static int dispatch(struct lm_pool *p, const Lmcmd__Command *cmd, struct lm_pool_result *res)
{
	int64_t now = cmd->has_time_us ? cmd->time_us : 0;

	switch (cmd->body_case) {
	case LMCMD__COMMAND__BODY_SET_LICENSE:
		return lm_pool_do_set_license(p, cmd->set_license, res);
	case LMCMD__COMMAND__BODY_OPEN_SESSION:
		return lm_pool_do_open_session(p, now, cmd->open_session, res);
	case LMCMD__COMMAND__BODY_CHECKOUT: return lm_pool_do_checkout(p, now, cmd->checkout, res);
	case LMCMD__COMMAND__BODY_CHECKIN: return lm_pool_do_checkin(p, cmd->checkin, res);
	case LMCMD__COMMAND__BODY_CLOSE_SESSION:
		return lm_pool_do_close_session(p, cmd->close_session, res);
	case LMCMD__COMMAND__BODY_REMOVE_HANDLE:
		return lm_pool_do_remove_handle(p, cmd->remove_handle, res);
	case LMCMD__COMMAND__BODY_REMOVE_NAMED:
		return lm_pool_do_remove_named(p, now, cmd->remove_named, res);
	case LMCMD__COMMAND__BODY_SET_CLUSTER_ID:
		return lm_pool_do_set_cluster_id(p, cmd->set_cluster_id, res);
	/* For the report log only (report_events.c). */
	case LMCMD__COMMAND__BODY_ADMIN_ACTION:
	case LMCMD__COMMAND__BODY_LEADER_CHANGE: return 0;
	default: break;
	}
	return LMC_EPROTO;
}

/* Apply's errors: LMC_EPROTO for bytes that are not a command (a corrupt
 * log), LMC_EINVAL for an index that does not move forward (a caller's bug),
 * LMC_EIO for a store failure or a corrupt record, LMC_ENOMEM.  Every one of
 * them leaves the store as it was, and every one is fatal to the server:
 * the other servers applied this entry, and this one cannot. */
int lm_pool_apply(struct lm_pool *p, uint64_t index, const void *buf, size_t len,
                  struct lm_pool_result *res)
{
	bool in_arena = len <= ARENA_COMMAND_MAX;
	Lmcmd__Command *cmd;
	int rc;

	memset(res, 0, sizeof *res);
	if (index <= p->applied) {
		lm_pool_deny(res, LMC_EINVAL, "entry %llu applied after %llu",
		             (unsigned long long)index, (unsigned long long)p->applied);
		return LMC_EINVAL;
	}
	cmd = lmcmd__command__unpack(in_arena ? lm_arena_allocator(&p->arena) : NULL, len, buf);
	if (!cmd || cmd->body_case == LMCMD__COMMAND__BODY__NOT_SET) {
		lm_pool_deny(res, LMC_EPROTO, "entry %llu is not a command",
		             (unsigned long long)index);
		rc = LMC_EPROTO;
		goto out;
	}
	rc = lm_store_begin(p->store);
	if (rc) {
		rc = lm_pool_store_failed(p, rc);
		goto out;
	}
	rc = dispatch(p, cmd, res);
	/* The applied index moves in the same transaction as the effects, so
	 * the two can never disagree. */
	if (!rc)
		rc = lm_pool_meta_put(p, LM_POOL_KEY_APPLIED, index);
	if (rc) {
		lm_store_abort(p->store);
		lm_pool_policy_settle(p, false);
		lm_pool_holdings_settle(p, false);
		memset(res, 0, sizeof *res);
		lm_pool_deny(res, rc, "entry %llu could not be applied", (unsigned long long)index);
		goto out;
	}
	rc = lm_store_commit(p->store);
	lm_pool_policy_settle(p, rc == 0);
	lm_pool_holdings_settle(p, rc == 0);
	if (rc) {
		rc = lm_pool_store_failed(p, rc);
		goto out;
	}
	p->applied = index;
out:
	if (in_arena)
		lm_arena_reset(&p->arena);
	else if (cmd)
		lmcmd__command__free_unpacked(cmd, NULL);
	return rc;
}

uint64_t lm_pool_applied_index(const struct lm_pool *p)
{
	return p->applied;
}

int lm_pool_open(struct lm_pool **out, const char *dir, char *err, size_t errsize)
{
	struct lm_pool *p;
	int rc;

	*out = NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		goto nomem;
	p->arena_block = malloc(LM_ARENA_SIZE(ARENA_COMMAND_MAX));
	if (!p->arena_block)
		goto nomem_pool;
	lm_arena_init(&p->arena, p->arena_block, LM_ARENA_SIZE(ARENA_COMMAND_MAX));
	rc = lm_store_open(&p->store, dir, err, errsize);
	if (rc) {
		free(p->arena_block);
		free(p);
		return rc == LMC_ENOMEM ? rc : LMC_EIO;
	}
	*out = p;
	return 0;

nomem_pool:
	free(p);
nomem:
	snprintf(err, errsize, "out of memory");
	return LMC_ENOMEM;
}

void lm_pool_close(struct lm_pool *p)
{
	if (!p)
		return;
	lm_store_close(p->store);
	lm_pool_policy_free(p);
	lm_pool_holdings_clear(p);
	free(p->arena_block);
	free(p);
}
