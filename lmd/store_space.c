/* lmd's LMDB store: disk space, allocated ahead of LMDB.
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
#include "lmd/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

#define COMMIT_SLACK  ((size_t)64 << 10)
#define COW_PATH_MAX  4
#define RECORD_FACTOR 3
#define NODE_OVERHEAD 16

/* Makes sure the first need bytes of the file have blocks, allocating a
 * step more than asked so that the next transactions find room. */
int lm_store_reserve(struct lm_store *s, size_t need)
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

int lm_store_reserve_txn(struct lm_store *s, size_t used)
{
	s->cow_left = used;
	s->need = used + used / 32 + COMMIT_SLACK;
	return lm_store_reserve(s, s->need);
}

/* Adds one put's or del's worst case to the open transaction's bound. */
int lm_store_reserve_write(struct lm_store *s, size_t klen, size_t vlen)
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
	return lm_store_reserve(s, s->need);
}

/* The lock file is a shared mapping too, sized with ftruncate() by LMDB
 * unless it is big enough already: 8 KiB holds the header and LMDB's
 * default 126 reader slots.  Allocating it before LMDB opens it keeps even
 * the first reader off a hole. */
#define LOCK_FILE_SIZE 8192

int lm_store_reserve_lock_file(const char *dir, char *err, size_t errsize)
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
