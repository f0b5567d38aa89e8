/* The disk's ceiling for commits: how many small durable writes per second
 * the data directory's filesystem takes.  A single lmd acknowledges a
 * checkout only once raft has written its entry durably, so one commit
 * costs at least one durable write (several commits share one when raft
 * batches them).
 *
 * Two figures: fsync_per_s, a small buffered write and fdatasync, what most
 * databases pay; and dsync_write_per_s, one 4 KiB block written with
 * O_DIRECT | O_DSYNC, which is how raft's libuv backend writes its log
 * when the filesystem allows it (the device may make that much cheaper
 * than a flush of the page cache and the journal). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/lmbench.h"

/* Like a raft segment: written in place inside a file that already has its
 * blocks, so the sync flushes data, not the file's growth. */
#define FILE_BYTES  (4u << 20)
#define RECORD_SIZE 64u

/* The same file rewritten a block at a time through O_DIRECT | O_DSYNC.
 * Returns the rate, or -1 when the filesystem refuses direct I/O. */
static double dsync_rate(const char *path, double seconds)
{
	int fd = open(path, O_WRONLY | O_DIRECT | O_DSYNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	void *block;
	if (posix_memalign(&block, 4096, 4096) != 0) {
		close(fd);
		return -1;
	}
	memset(block, 0x5a, 4096);
	uint64_t start = lb_now_ns(), end = start + (uint64_t)(seconds * 1e9), n = 0;
	uint64_t now = start;
	while (now < end) {
		off_t off = (off_t)((n * 4096) % FILE_BYTES);
		if (pwrite(fd, block, 4096, off) != 4096)
			break;
		n++;
		now = lb_now_ns();
	}
	free(block);
	close(fd);
	return n ? (double)n / ((double)(now - start) / 1e9) : -1;
}

int lb_fsync(const struct lb_options *o)
{
	if (!o->dir) {
		fprintf(stderr, "lmbench fsync: name the directory\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/lmbench-fsync.%d", o->dir, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "lmbench fsync: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* Zeros written and synced once, so that no block is unwritten (an
	 * unwritten extent would make every sync a metadata change). */
	static uint8_t zeros[1 << 16];
	for (unsigned off = 0; off < FILE_BYTES; off += sizeof zeros)
		if (pwrite(fd, zeros, sizeof zeros, off) != (ssize_t)sizeof zeros)
			goto io_error;
	if (fsync(fd) != 0)
		goto io_error;

	uint8_t record[RECORD_SIZE];
	memset(record, 0xa5, sizeof record);
	uint64_t start = lb_now_ns(), end = start + (uint64_t)(o->seconds * 1e9), n = 0;
	uint64_t now = start;
	while (now < end) {
		off_t off = (off_t)((n * RECORD_SIZE) % FILE_BYTES);
		if (pwrite(fd, record, sizeof record, off) != (ssize_t)sizeof record ||
		    fdatasync(fd) != 0)
			goto io_error;
		n++;
		now = lb_now_ns();
	}
	close(fd);
	double rate = (double)n / ((double)(now - start) / 1e9);
	lb_emit(o, "fsync_per_s", rate, (char *)NULL);
	fprintf(stderr, "fsync %s: %.0f write+fdatasync/s (%.3f ms each)\n", o->dir, rate,
	        1000.0 / rate);
	double direct = dsync_rate(path, o->seconds);
	if (direct > 0) {
		lb_emit(o, "dsync_write_per_s", direct, (char *)NULL);
		fprintf(stderr, "fsync %s: %.0f O_DIRECT|O_DSYNC 4 KiB writes/s (%.3f ms each)\n",
		        o->dir, direct, 1000.0 / direct);
	}
	unlink(path);
	return 0;
io_error:
	fprintf(stderr, "lmbench fsync: %s: %s\n", path, strerror(errno));
	close(fd);
	unlink(path);
	return 1;
}
