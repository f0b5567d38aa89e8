/* The pool's LMDB store: one environment in a directory, a fixed set of
 * named tables, one transaction at a time.
 *
 * The store is a cache of the raft log, never the truth (lmd/pool.h): it is
 * emptied at every open, written without fsync (MDB_NOSYNC), and rebuilt by
 * raft's restore and replay.  So nothing here tries to survive a crash.
 *
 * Keys and values are plain byte strings; their formats belong to
 * lmd/pool.c.  Tables are ordered by memcmp of their keys, so big-endian
 * integers in keys sort numerically.
 *
 * Errors: every function returns 0 or LMC_EIO (a failed LMDB call, the
 * message kept by lm_store_error) and LMC_EINVAL for a misuse (a key too
 * long, a write outside a write transaction); begin, put and del also
 * return LMC_ESTORE when the disk cannot give the store the blocks a write
 * may need (see "Disk space" below).  An LMDB failure means the store can
 * no longer be trusted: the pool reports it to its caller as a fatal
 * error, never as a result.  Tests make any one write fail on purpose
 * (LM_FAULT_STORE_WRITE in lmd/faults.h).
 *
 * Disk space: LMDB writes into a shared mapping of a sparse file
 * (MDB_WRITEMAP, store.c), and a write to a page that has no disk block
 * behind it on a full filesystem kills the process with SIGBUS instead of
 * failing.  So the store allocates the file's blocks ahead of LMDB, at
 * least LM_STORE_RESERVE_MIN at a time, and lets a write transaction go on
 * only while an upper bound of what it may have touched lies in allocated
 * blocks.  lmd's free-space guard (lmd/disk.h) keeps proposals away from a
 * disk too full for that, so LMC_ESTORE is a last resort.
 *
 * Not thread-safe: one thread (the daemon's loop) uses a store. */
#ifndef LM_STORE_H
#define LM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The tables, opened once at lm_store_open. */
enum lm_store_db {
	LM_DB_META,       /* fixed names -> counters */
	LM_DB_LINES,      /* the license set */
	LM_DB_FEATURES,   /* feature name -> its pools, derived from the lines */
	LM_DB_USAGE,      /* pool -> seats in use */
	LM_DB_SESSIONS,   /* session id -> session */
	LM_DB_HANDLES,    /* handle -> checkout */
	LM_DB_BY_SESSION, /* session id + handle -> (empty) */
	LM_DB_BY_POOL,    /* pool + handle -> (empty) */
	LM_DB_NAMED,      /* feature + name -> a named user or host */
	LM_DB_SHARES,     /* pool + sharing group -> holders and seats */
	LM_DB_COMPONENTS, /* component name -> the packages that list it */
	LM_DB_COUNT
};

/* The address space reserved for the map: far above what 200000 sessions
 * need, so that the map never has to grow while transactions are live
 * (research/stack-notes.md §4.5). */
#define LM_STORE_MAP_SIZE ((size_t)1 << 30)

/* The store's file in its directory, and the smallest step by which the
 * store allocates it ahead of LMDB's writes (a step is an eighth of the
 * size when that is more). */
#define LM_STORE_FILE        "data.mdb"
#define LM_STORE_RESERVE_MIN ((size_t)1 << 20)

/* A byte string.  A value read from the store points into the map and
 * stays valid only until the transaction ends or the next write. */
struct lm_val {
	const void *data;
	size_t len;
};

struct lm_store;

/* Opens the store in dir (created if missing) with every table empty: any
 * earlier content is deleted, since it may be torn and raft rebuilds it.
 * An exclusive lock on dir/store.lock makes a second lmd on the same
 * directory fail here instead of deleting a live store.  Returns 0, or
 * LMC_EIO, or LMC_ESTORE when the disk has no room for the first blocks,
 * with err set. */
int lm_store_open(struct lm_store **out, const char *dir, char *err, size_t errsize);
void lm_store_close(struct lm_store *s);

/* The last failure, as a sentence naming the operation and LMDB's reason. */
const char *lm_store_error(const struct lm_store *s);

/* Write transactions: begin, then commit or abort.  Only one at a time,
 * and not while a read is open. */
int lm_store_begin(struct lm_store *s);
int lm_store_commit(struct lm_store *s);
void lm_store_abort(struct lm_store *s);

/* Reads outside a write transaction.  They nest (a query may call another
 * query from its callback), and inside a write transaction they read
 * through it.  Every read_begin that returned 0 needs its read_end. */
int lm_store_read_begin(struct lm_store *s);
void lm_store_read_end(struct lm_store *s);

/* Point access within the current transaction.  get sets val->data to NULL
 * when the key is absent (a present empty value has non-NULL data).  del of
 * an absent key is not an error; *found (may be NULL) says which it was. */
int lm_store_get(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen,
                 struct lm_val *val);
int lm_store_put(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen,
                 const void *val, size_t vlen);
int lm_store_del(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen,
                 bool *found);

/* Calls fn for each record whose key starts with prefix (every record when
 * plen is 0), in key order.  fn must not write to the store.  Stops when fn
 * returns non-zero and returns that value; else 0 or LMC_EIO. */
typedef int (*lm_store_scan_fn)(void *arg, struct lm_val key, struct lm_val val);
int lm_store_scan(struct lm_store *s, enum lm_store_db db, const void *prefix, size_t plen,
                  lm_store_scan_fn fn, void *arg);

/* The number of records of a table, read from the B-tree header: O(1). */
int lm_store_count(struct lm_store *s, enum lm_store_db db, size_t *n);

/* Empties one table, or all of them, within the write transaction. */
int lm_store_drop(struct lm_store *s, enum lm_store_db db);
int lm_store_clear(struct lm_store *s);

/* Table names, for messages. */
const char *lm_store_db_name(enum lm_store_db db);

#endif
