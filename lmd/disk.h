/* The free-space guard: lmd stops accepting changes while its data
 * directory is too full for raft and the store to write what a change
 * needs, and starts again by itself when space comes back.
 *
 * Why a floor and not the write errors: neither writer fails cleanly on a
 * full disk.  Raft 0.15 preallocates its log in open segments of 8 MiB,
 * prepared one ahead in the thread pool; when a preparation fails with
 * ENOSPC and an append waits for it, the append fails and the leader drops
 * the entry from its log, yet stays leader and may reuse that index while
 * followers already hold the dropped entry (0.16 made the leader step down
 * instead: stack-notes.md §1.13).  The store's writes go through a shared
 * mapping, where a full disk means SIGBUS unless its blocks were allocated
 * first (lmd/store.h).  So lmd refuses before either would run short:
 *
 *   floor = raft's next open segment (LM_DISK_SEGMENT)
 *         + the store's size on disk (a raft snapshot is a dump of it)
 *         + the store's next allocation step (an eighth of it, 1 MiB at least)
 *         + LM_DISK_MARGIN (raft's metadata, the filesystem's own needs)
 *
 * counted for each filesystem that holds DATA/raft or DATA/pool, against the
 * blocks unprivileged users may take (a root lmd stops before the reserve).
 *
 * While a filesystem is under its floor, lm_disk_check() answers
 * LMC_ESTORE, which lm_server_propose() returns before proposing anything:
 * checkouts, checkins and license changes are refused with "the server's
 * disk is full or failing", sessions are not expired (the seats they hold
 * stay held), and reads (lmstat) go on.  The state is logged once when it
 * flips each way, not once per refused request.  It flips back once the
 * floor plus LM_DISK_HYSTERESIS is free, so that a disk hovering at the
 * floor does not fill the log.
 *
 * One guard per process, kept here rather than in the server: like the log
 * (core/log.h), it has one data directory and one loop, and the proposal path
 * reaches it without a handle.  Runs on the loop thread only. */
#ifndef LM_DISK_H
#define LM_DISK_H

#include <stdint.h>

#include <uv.h>

/* Raft 0.15's default open segment, which it allocates whole
 * (raft_uv_set_segment_size; lmd keeps the default). */
#define LM_DISK_SEGMENT    ((uint64_t)8 << 20)
#define LM_DISK_MARGIN     ((uint64_t)2 << 20)
#define LM_DISK_HYSTERESIS ((uint64_t)1 << 20)
/* The timer's period, which notices recovery with no request coming in,
 * and how old a reading lm_disk_check() may reuse: statvfs() costs a few
 * microseconds, too much for every checkout under load, and the floor
 * holds far more than a tenth of a second of log. */
#define LM_DISK_PERIOD_MS  1000
#define LM_DISK_RECHECK_MS 100

/* Starts watching data_dir/raft and data_dir/pool (which must exist) on
 * loop: checks once now, logging if the disk is already short, then every
 * LM_DISK_PERIOD_MS.  The timer does not keep the loop alive. */
void lm_disk_start(uv_loop_t *loop, const char *data_dir);

/* 0 while every watched filesystem holds its floor, LMC_ESTORE otherwise
 * (also when free space cannot be read: the disk is failing).  Always 0
 * before lm_disk_start. */
int lm_disk_check(void);

/* Closes the timer; the loop must run once more to finish closing it. */
void lm_disk_stop(void);

#endif
