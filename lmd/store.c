#include "lmd/store.h"

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

struct lm_store {
	MDB_env *env;
	MDB_dbi dbi[LM_DB_COUNT];
	/* The transaction reads and writes go through, or NULL. */
	MDB_txn *txn;
	bool writing;
	/* Reads nest: the depth of read_begin calls on txn. */
	int readers;
	/* A read transaction kept reset between reads, so that a query
	 * renews it instead of allocating a new one. */
	MDB_txn *idle;
	int lockfd;
	/* Blocks allocated ahead of LMDB (reserve()): the file, LMDB's page
	 * size, how many bytes from offset 0 have blocks, and for the open
	 * write transaction an upper bound of the bytes it may have touched
	 * and of the pages it may still copy. */
	int fd;
	size_t psize;
	size_t reserved;
	size_t need;
	size_t cow_left;
	char error[256];
};

static const char *const db_names[LM_DB_COUNT] = {
        [LM_DB_META] = "meta",
        [LM_DB_LINES] = "lines",
        [LM_DB_FEATURES] = "features",
        [LM_DB_USAGE] = "usage",
        [LM_DB_SESSIONS] = "sessions",
        [LM_DB_HANDLES] = "handles",
        [LM_DB_BY_SESSION] = "by_session",
        [LM_DB_BY_POOL] = "by_pool",
};

const char *lm_store_db_name(enum lm_store_db db)
{
	return (unsigned)db < LM_DB_COUNT ? db_names[db] : "?";
}

const char *lm_store_error(const struct lm_store *s)
{
	return s->error;
}

/* Records why an LMDB call failed and returns the store's one error code. */
static int fail(struct lm_store *s, int mdb_rc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct lm_store *s, int mdb_rc, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(s->error, sizeof s->error, "%s: %s", what, mdb_strerror(mdb_rc));
	return LMC_EIO;
}

static int misuse(struct lm_store *s, const char *what)
{
	snprintf(s->error, sizeof s->error, "store misused: %s", what);
	return LMC_EINVAL;
}

/* ---- Disk space -------------------------------------------------------- *
 *
 * With MDB_WRITEMAP, LMDB sizes data.mdb to the whole map with ftruncate()
 * and writes pages through a shared mapping.  The file is sparse, so the
 * first write to a page makes the filesystem find a block for it, and when
 * it has none the kernel answers with SIGBUS: lmd died on a full disk with
 * nothing logged (issue 14).  Blocks allocated with posix_fallocate() are
 * there to be written, so the store allocates the front of the file ahead
 * of LMDB, and a write transaction goes on only while a bound of what it
 * may touch lies in allocated blocks: LMDB takes new pages at the end of
 * what is used, or reuses freed ones below it.
 *
 * The bound, for a transaction that begins with U bytes of pages in use:
 * U plus U/32 and 64 KiB for the free-page list written at commit; then
 * for each put or del, the pages on its path that it copies (at most 4,
 * and never more than U in all, since a page is copied once per
 * transaction) plus three times the record's bytes (leaves are at least
 * half full after a split; the third covers branch pages) plus a whole
 * overflow run for a large value.  A normal command fits in the slack of
 * the previous reservation; a snapshot restore grows the file as it goes.
 *
 * On a copy-on-write filesystem (btrfs, ZFS) every write needs a new block
 * anyway, and only the free-space guard (lmd/disk.h) protects the store. */

#define COMMIT_SLACK  ((size_t)64 << 10)
#define COW_PATH_MAX  4
#define RECORD_FACTOR 3
#define NODE_OVERHEAD 16

/* Makes sure the first need bytes of the file have blocks, allocating a
 * step more than asked so that the next transactions find room. */
static int reserve(struct lm_store *s, size_t need)
{
	size_t step, target;
	int rc;

	if (need <= s->reserved)
		return 0;
	step = need / 8 > LM_STORE_RESERVE_MIN ? need / 8 : LM_STORE_RESERVE_MIN;
	target = need + step;
	/* Past the map LMDB stops with MDB_MAP_FULL, not with a signal. */
	if (target > LM_STORE_MAP_SIZE)
		target = LM_STORE_MAP_SIZE;
	if (need > target)
		need = target;
	do
		rc = posix_fallocate(s->fd, 0, (off_t)target);
	while (rc == EINTR);
	/* Without room for the step, what this write needs is enough. */
	if (rc == ENOSPC && target > need) {
		target = need;
		do
			rc = posix_fallocate(s->fd, 0, (off_t)target);
		while (rc == EINTR);
	}
	if (rc) {
		snprintf(s->error, sizeof s->error,
		         "cannot allocate %zu KiB of disk for the store (%zu KiB held): %s",
		         target >> 10, s->reserved >> 10, strerror(rc));
		return LMC_ESTORE;
	}
	s->reserved = target;
	return 0;
}

/* Adds one put's or del's worst case to the open transaction's bound. */
static int reserve_write(struct lm_store *s, size_t klen, size_t vlen)
{
	size_t cow = COW_PATH_MAX * s->psize;

	if (cow > s->cow_left)
		cow = s->cow_left;
	s->cow_left -= cow;
	s->need += cow;
	if (vlen || klen)
		s->need += RECORD_FACTOR * (klen + vlen + NODE_OVERHEAD);
	/* A value larger than a quarter page goes to its own pages. */
	if (vlen > s->psize / 4)
		s->need += vlen + s->psize;
	return reserve(s, s->need);
}

/* The lock file is a shared mapping too, sized with ftruncate() by LMDB
 * unless it is big enough already: 8 KiB holds the header and LMDB's
 * default 126 reader slots.  Allocating it before LMDB opens it keeps even
 * the first reader off a hole. */
#define LOCK_FILE_SIZE 8192

static int reserve_lock_file(const char *dir, char *err, size_t errsize)
{
	char path[4096];
	int fd, rc;

	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errsize, "cannot create %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	do
		rc = posix_fallocate(fd, 0, LOCK_FILE_SIZE);
	while (rc == EINTR);
	close(fd);
	if (rc) {
		snprintf(err, errsize, "cannot allocate %s: %s", path, strerror(rc));
		return LMC_ESTORE;
	}
	return 0;
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
		rc = reserve_lock_file(dir, err, errsize);
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
	rc = reserve(s, LM_STORE_RESERVE_MIN);
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
		return misuse(s, "write transaction begun inside another transaction");
	int rc = mdb_env_info(s->env, &info);
	if (rc)
		return fail(s, rc, "read the store's size");
	size_t used = (info.me_last_pgno + 1) * s->psize;
	s->cow_left = used;
	s->need = used + used / 32 + COMMIT_SLACK;
	rc = reserve(s, s->need);
	if (rc)
		return rc;
	rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
	if (rc) {
		s->txn = NULL;
		return fail(s, rc, "begin write transaction");
	}
	s->writing = true;
	return 0;
}

int lm_store_commit(struct lm_store *s)
{
	if (!s->txn || !s->writing || s->readers)
		return misuse(s, "commit without a write transaction");
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
		return fail(s, rc, "commit");
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
			return fail(s, rc, "renew read transaction");
		s->txn = s->idle;
		s->idle = NULL;
	} else {
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->txn);
		if (rc) {
			s->txn = NULL;
			return fail(s, rc, "begin read transaction");
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

/* ---- Records ----------------------------------------------------------- */

static int check_txn(struct lm_store *s, bool write)
{
	if (!s->txn)
		return misuse(s, "access outside a transaction");
	if (write && !s->writing)
		return misuse(s, "write inside a read transaction");
	return 0;
}

int lm_store_get(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen,
                 struct lm_val *val)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
	int rc = check_txn(s, false);

	val->data = NULL;
	val->len = 0;
	if (rc)
		return rc;
	rc = mdb_get(s->txn, s->dbi[db], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fail(s, rc, "get from %s", db_names[db]);
	/* An empty value may come back with a NULL pointer; callers tell
	 * absent from empty by data alone. */
	val->data = v.mv_size ? v.mv_data : (const void *)"";
	val->len = v.mv_size;
	return 0;
}

int lm_store_put(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen,
                 const void *val, size_t vlen)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
	int rc = check_txn(s, true);

	if (!rc)
		rc = reserve_write(s, klen, vlen);
	if (rc)
		return rc;
	rc = lm_fault(LM_FAULT_STORE_WRITE) ? EIO : mdb_put(s->txn, s->dbi[db], &k, &v, 0);
	if (rc)
		return fail(s, rc, "put into %s", db_names[db]);
	return 0;
}

int lm_store_del(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen, bool *found)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	int rc = check_txn(s, true);

	if (found)
		*found = false;
	if (!rc)
		rc = reserve_write(s, 0, 0);
	if (rc)
		return rc;
	rc = lm_fault(LM_FAULT_STORE_WRITE) ? EIO : mdb_del(s->txn, s->dbi[db], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fail(s, rc, "delete from %s", db_names[db]);
	if (found)
		*found = true;
	return 0;
}

int lm_store_scan(struct lm_store *s, enum lm_store_db db, const void *prefix, size_t plen,
                  lm_store_scan_fn fn, void *arg)
{
	MDB_cursor *c;
	MDB_val k = {.mv_size = plen, .mv_data = (void *)prefix}, v;
	int rc = check_txn(s, false);

	if (rc)
		return rc;
	rc = mdb_cursor_open(s->txn, s->dbi[db], &c);
	if (rc)
		return fail(s, rc, "open a cursor on %s", db_names[db]);
	/* MDB_SET_RANGE finds the first key >= prefix, where the records that
	 * share the prefix begin. */
	rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		struct lm_val key = {k.mv_data, k.mv_size};
		struct lm_val val = {v.mv_size ? v.mv_data : (const void *)"", v.mv_size};
		int stop = fn(arg, key, val);
		if (stop) {
			mdb_cursor_close(c);
			return stop;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return fail(s, rc, "scan %s", db_names[db]);
	return 0;
}

int lm_store_count(struct lm_store *s, enum lm_store_db db, size_t *n)
{
	MDB_stat st;
	int rc = check_txn(s, false);

	*n = 0;
	if (rc)
		return rc;
	rc = mdb_stat(s->txn, s->dbi[db], &st);
	if (rc)
		return fail(s, rc, "stat %s", db_names[db]);
	*n = st.ms_entries;
	return 0;
}

int lm_store_drop(struct lm_store *s, enum lm_store_db db)
{
	int rc = check_txn(s, true);

	if (rc)
		return rc;
	/* 0: empty the table but keep its handle open. */
	rc = lm_fault(LM_FAULT_STORE_WRITE) ? EIO : mdb_drop(s->txn, s->dbi[db], 0);
	if (rc)
		return fail(s, rc, "empty %s", db_names[db]);
	return 0;
}

int lm_store_clear(struct lm_store *s)
{
	for (int i = 0; i < LM_DB_COUNT; i++) {
		int rc = lm_store_drop(s, (enum lm_store_db)i);
		if (rc)
			return rc;
	}
	return 0;
}
