/* What the files of lmd's LMDB store share.  Private to lmd/store*.c; the
 * API is lmd/store.h.
 *
 *   store.c          opening, closing, transactions, errors
 *   store_records.c  get, put, delete, scan, count, drop, clear
 *   store_space.c    disk blocks allocated ahead of LMDB (why: there) */
#ifndef LM_STORE_INTERNAL_H
#define LM_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <lmdb.h>

#include "lmd/store.h"

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
	/* Blocks allocated ahead of LMDB (lm_store_reserve()): the file, LMDB's page
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

/* Records why an LMDB call failed and returns the store's one error code,
 * LMC_EIO. */
__attribute__((format(printf, 3, 4))) int lm_store_fail(struct lm_store *s, int mdb_rc,
                                                        const char *fmt, ...);
/* Records a caller's mistake and returns LMC_EINVAL. */
int lm_store_misuse(struct lm_store *s, const char *what);

/* Makes sure the first need bytes of the file have blocks (LMC_ESTORE with
 * the store's error set when the disk has none). */
int lm_store_reserve(struct lm_store *s, size_t need);
/* Starts the bound of a write transaction that begins with used bytes of
 * pages in use, and reserves it. */
int lm_store_reserve_txn(struct lm_store *s, size_t used);
/* Adds one put's or del's worst case to the open transaction's bound, and
 * reserves it. */
int lm_store_reserve_write(struct lm_store *s, size_t klen, size_t vlen);
/* Allocates LMDB's lock file in dir before LMDB maps it. */
int lm_store_reserve_lock_file(const char *dir, char *err, size_t errsize);

#endif
