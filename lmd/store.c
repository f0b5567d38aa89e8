/* lmd's LMDB store (see store.h): opening, closing and transactions.  The
 * records are read and written in store_records.c; the disk space is
 * allocated ahead of LMDB in store_space.c. */
#include "lmd/store_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "core/error.h"
#include "lmd/faults.h"

static const char *const db_names[LM_DB_COUNT] = {
        [LM_DB_META] = "meta",
        [LM_DB_LINES] = "lines",
        [LM_DB_FEATURES] = "features",
        [LM_DB_USAGE] = "usage",
        [LM_DB_SESSIONS] = "sessions",
        [LM_DB_HANDLES] = "handles",
        [LM_DB_BY_SESSION] = "by_session",
        [LM_DB_BY_POOL] = "by_pool",
        [LM_DB_NAMED] = "named",
        [LM_DB_SHARES] = "shares",
        [LM_DB_COMPONENTS] = "components",
};

const char *lm_store_db_name(enum lm_store_db db)
{
	return (unsigned)db < LM_DB_COUNT ? db_names[db] : "?";
}

const char *lm_store_error(const struct lm_store *s)
{
	return s->error;
}

int lm_store_fail(struct lm_store *s, int mdb_rc, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(s->error, sizeof s->error, "%s: %s", what, mdb_strerror(mdb_rc));
	return LMC_EIO;
}

int lm_store_misuse(struct lm_store *s, const char *what)
{
	snprintf(s->error, sizeof s->error, "store misused: %s", what);
	return LMC_EINVAL;
}

/* ---- Opening ----------------------------------------------------------- */

/* Removes one of LMDB's files; it not being there is the normal case. */
static int remove_file(const char *dir, const char *name, char *err, size_t errsize)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errsize, "cannot remove %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	return 0;
}

static int lock_dir(struct lm_store *s, const char *dir, char *err, size_t errsize)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/store.lock", dir);
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errsize, "%s is in use by another lmd", dir);
		else
			snprintf(err, errsize, "cannot lock %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	return 0;
}

int lm_store_open(struct lm_store **out, const char *dir, char *err, size_t errsize)
{
	struct lm_store *s;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errsize, "out of memory");
		return LMC_ENOMEM;
	}
	s->lockfd = -1;
	s->fd = -1;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errsize, "cannot create %s: %s", dir, strerror(errno));
		rc = LMC_EIO;
		goto fail_free;
	}
	rc = lock_dir(s, dir, err, errsize);
	if (rc)
		goto fail_lock;
	/* Deleting the files rather than emptying the tables: after a crash
	 * under MDB_NOSYNC they may be torn, and LMDB could refuse or misread
	 * them.  Raft gives everything back. */
	rc = remove_file(dir, LM_STORE_FILE, err, errsize);
	if (!rc)
		rc = remove_file(dir, "lock.mdb", err, errsize);
	if (!rc)
		rc = lm_store_reserve_lock_file(dir, err, errsize);
	if (rc)
		goto fail_lock;

	rc = mdb_env_create(&s->env);
	if (rc) {
		snprintf(err, errsize, "mdb_env_create: %s", mdb_strerror(rc));
		rc = LMC_EIO;
		goto fail_lock;
	}
	/* MDB_NOSYNC: durability comes from raft, which replays into an empty
	 * store at every start (stack-notes.md §4.1-4.2).  MDB_NOTLS: reader
	 * slots follow transactions, not threads, so that reads can nest and
	 * could move to the thread pool.  MDB_WRITEMAP: a commit writes its
	 * pages straight into the map instead of one pwrite() per page run and
	 * meta page; those syscalls were 30% of lmd's CPU under checkout load
	 * (bench/run).  What it gives up, protection against wild writes into
	 * the map and a file that survives a crash, the store does not need:
	 * it is deleted and rebuilt from raft at every start, and it uses no
	 * nested transactions (which WRITEMAP forbids).  data.mdb then shows
	 * the whole map size, as a sparse file, whose blocks the store
	 * allocates ahead of LMDB ("Disk space" above): dropping WRITEMAP
	 * would turn a full disk into an error from pwrite() too, but at the
	 * price measured above on every commit, and the lock file is a
	 * shared mapping either way. */
	if ((rc = mdb_env_set_maxdbs(s->env, LM_DB_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, LM_STORE_MAP_SIZE)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOSYNC | MDB_NOTLS | MDB_WRITEMAP, 0600)) != 0) {
		snprintf(err, errsize, "cannot open the store in %s: %s", dir, mdb_strerror(rc));
		rc = LMC_EIO;
		goto fail_env;
	}
	MDB_stat st;
	if ((rc = mdb_env_get_fd(s->env, &s->fd)) != 0 || (rc = mdb_env_stat(s->env, &st)) != 0) {
		snprintf(err, errsize, "cannot inspect the store in %s: %s", dir, mdb_strerror(rc));
		rc = LMC_EIO;
		goto fail_env;
	}
	s->psize = st.ms_psize;
	rc = lm_store_reserve(s, LM_STORE_RESERVE_MIN);
	if (rc) {
		snprintf(err, errsize, "%s in %s", s->error, dir);
		goto fail_env;
	}
	/* Every table is opened once, here, and its handle kept for the life
	 * of the environment (LMDB's rule for mdb_dbi_open). */
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	for (int i = 0; !rc && i < LM_DB_COUNT; i++)
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]);
	if (!rc) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc) {
		snprintf(err, errsize, "cannot create the tables in %s: %s", dir, mdb_strerror(rc));
		if (txn)
			mdb_txn_abort(txn);
		rc = LMC_EIO;
		goto fail_env;
	}
	*out = s;
	return 0;

fail_env:
	mdb_env_close(s->env);
fail_lock:
	if (s->lockfd >= 0)
		close(s->lockfd);
fail_free:
	free(s);
	return rc;
}

void lm_store_close(struct lm_store *s)
{
	if (!s)
		return;
	assert(s->txn == NULL);
	if (s->idle)
		mdb_txn_abort(s->idle);
	mdb_env_close(s->env);
	close(s->lockfd);
	free(s);
}

/* ---- Transactions ------------------------------------------------------ */

int lm_store_begin(struct lm_store *s)
{
	MDB_envinfo info;

	if (s->txn)
		return lm_store_misuse(s, "write transaction begun inside another transaction");
	int rc = mdb_env_info(s->env, &info);
	if (rc)
		return lm_store_fail(s, rc, "read the store's size");
	rc = lm_store_reserve_txn(s, (info.me_last_pgno + 1) * s->psize);
	if (rc)
		return rc;
	rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
	if (rc) {
		s->txn = NULL;
		return lm_store_fail(s, rc, "begin write transaction");
	}
	s->writing = true;
	return 0;
}

int lm_store_commit(struct lm_store *s)
{
	if (!s->txn || !s->writing || s->readers)
		return lm_store_misuse(s, "commit without a write transaction");
	int rc;
	if (lm_fault(LM_FAULT_STORE_WRITE)) {
		mdb_txn_abort(s->txn);
		rc = EIO;
	} else {
		rc = mdb_txn_commit(s->txn);
	}
	/* LMDB frees the transaction whether the commit succeeded or not. */
	s->txn = NULL;
	s->writing = false;
	if (rc)
		return lm_store_fail(s, rc, "commit");
	return 0;
}

void lm_store_abort(struct lm_store *s)
{
	if (!s->txn || !s->writing)
		return;
	assert(s->readers == 0);
	mdb_txn_abort(s->txn);
	s->txn = NULL;
	s->writing = false;
}

int lm_store_read_begin(struct lm_store *s)
{
	int rc;

	if (s->txn) {
		s->readers++;
		return 0;
	}
	if (s->idle) {
		rc = mdb_txn_renew(s->idle);
		if (rc)
			return lm_store_fail(s, rc, "renew read transaction");
		s->txn = s->idle;
		s->idle = NULL;
	} else {
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->txn);
		if (rc) {
			s->txn = NULL;
			return lm_store_fail(s, rc, "begin read transaction");
		}
	}
	s->readers = 1;
	return 0;
}

void lm_store_read_end(struct lm_store *s)
{
	assert(s->txn && s->readers > 0);
	if (--s->readers > 0 || s->writing)
		return;
	/* Resetting releases the snapshot (so old pages can be reused) but
	 * keeps the reader slot and the allocation for the next query. */
	mdb_txn_reset(s->txn);
	s->idle = s->txn;
	s->txn = NULL;
}
