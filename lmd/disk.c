/* The free-space guard (see disk.h). */
#include "config.h"

#include "lmd/disk.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/store.h"

#define MiB(n) ((double)(n) / (1 << 20))

/* A watched directory: raft's or the store's. */
struct watched {
	char path[4096];
	dev_t dev;
};

static struct {
	uv_loop_t *loop;
	uv_timer_t timer;
	bool started;
	bool full;
	uint64_t checked_ms;
	struct watched raft, pool;
	char store_file[4200];
} guard;

/* The store's blocks on disk: it allocates them ahead of LMDB, so this is
 * what it holds and a bound of what a snapshot of it takes. */
static uint64_t store_bytes(void)
{
	struct stat st;
	if (stat(guard.store_file, &st) != 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

/* Reads one filesystem's free space against what lmd needs of it; false
 * when it is short, with why written for the log. */
static bool holds_floor(const struct watched *w, uint64_t need, bool was_full, char *why,
                        size_t whysize)
{
	struct statvfs vfs;
	if (statvfs(w->path, &vfs) != 0) {
		snprintf(why, whysize, "cannot read the free space of %s: %s", w->path,
		         strerror(errno));
		return false;
	}
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	uint64_t floor = need + (was_full ? LM_DISK_HYSTERESIS : 0);
	snprintf(why, whysize,
	         "%s has %.1f MiB free, lmd keeps %.1f MiB for its raft log and store", w->path,
	         MiB(avail), MiB(need));
	return avail >= floor;
}

/* Takes a reading and logs when the state flips. */
static void refresh(void)
{
	uint64_t store = store_bytes();
	uint64_t step = store / 8 > LM_STORE_RESERVE_MIN ? store / 8 : LM_STORE_RESERVE_MIN;
	uint64_t raft_need = LM_DISK_SEGMENT + store;
	uint64_t pool_need = step;
	char why[4400];
	bool ok;

	guard.checked_ms = uv_now(guard.loop);
	/* Usually one filesystem holds both, and then it needs both. */
	if (guard.raft.dev == guard.pool.dev) {
		ok = holds_floor(&guard.raft, raft_need + pool_need + LM_DISK_MARGIN, guard.full,
		                 why, sizeof why);
	} else {
		ok = holds_floor(&guard.raft, raft_need + LM_DISK_MARGIN, guard.full, why,
		                 sizeof why) &&
		     holds_floor(&guard.pool, pool_need + LM_DISK_MARGIN, guard.full, why,
		                 sizeof why);
	}
	if (ok == !guard.full)
		return;
	guard.full = !ok;
	if (guard.full)
		lm_log_at(LM_LOG_WARNING, "disk",
		          "full: %s: refusing checkouts, checkins and other changes (%s) until "
		          "space is freed; seats held stay held",
		          why, lmc_errname(LMC_ESTORE));
	else
		lm_log("disk", "recovered: %s: accepting changes again", why);
}

static void on_timer(uv_timer_t *t)
{
	(void)t;
	refresh();
}

static void watch(struct watched *w, const char *data_dir, const char *sub)
{
	struct stat st;
	snprintf(w->path, sizeof w->path, "%s/%s", data_dir, sub);
	/* An unreadable directory reads as its own filesystem, and its
	 * statvfs() then reports the problem. */
	w->dev = stat(w->path, &st) == 0 ? st.st_dev : (dev_t)-1;
}

void lm_disk_start(uv_loop_t *loop, const char *data_dir)
{
	guard.loop = loop;
	watch(&guard.raft, data_dir, "raft");
	watch(&guard.pool, data_dir, "pool");
	snprintf(guard.store_file, sizeof guard.store_file, "%s/%s", guard.pool.path,
	         LM_STORE_FILE);
	uv_timer_init(loop, &guard.timer);
	/* A watcher must not keep a stopping server alive. */
	uv_unref((uv_handle_t *)&guard.timer);
	uv_timer_start(&guard.timer, on_timer, LM_DISK_PERIOD_MS, LM_DISK_PERIOD_MS);
	guard.started = true;
	refresh();
}

int lm_disk_check(void)
{
	if (!guard.started)
		return 0;
	if (uv_now(guard.loop) - guard.checked_ms >= LM_DISK_RECHECK_MS)
		refresh();
	return guard.full ? LMC_ESTORE : 0;
}

void lm_disk_stop(void)
{
	if (!guard.started)
		return;
	guard.started = false;
	uv_close((uv_handle_t *)&guard.timer, NULL);
}
