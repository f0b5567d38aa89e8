/* lmd's data directory (see datadir.h): the ids kept in it, each in a small
 * file: this server's raft id (node-id), the peers it met (raft-seen) and
 * the cluster it belongs to (cluster-id). */
#include "config.h"

#include "lmd/datadir_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/bytes.h"
#include "core/error.h"

/* ---- this server's raft id ----
 *
 * The servers of the first start are raft ids 1 to 3, after their SERVER
 * lines.  A server that lost its data (a new disk, a new machine) must not
 * come back under its old id: it forgot its vote and its log, and could vote
 * twice in one term (stack-notes.md §1.3).  It joins under a fresh id
 * instead, N + 3k for SERVER line N with a random k, so that the id still
 * names the line, and the leader swaps it for the old one (lmreplace).  The
 * id is kept in DATA/node-id so that restarts use it. */

/* Reads DATA/name, a small regular file, into text (NUL-terminated):
 * 0 with *n = -1 when there is no such file, 0 with *n the length read
 * (0 when it cannot be read), or a refusal in msg. */
static int read_small_file(struct lm_datadir *d, const char *name, char *text, size_t tsize,
                           ssize_t *n, char *msg, size_t size)
{
	*n = -1;
	int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		char path[LM_DATADIR_PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/%s", d->path, name);
		if (errno == ELOOP)
			return lm_datadir_refuse_link(path, msg, size);
		snprintf(msg, size, "cannot read %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	struct stat st;
	ssize_t got = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		got = read(fd, text, tsize - 1);
	close(fd);
	/* Present but unreadable reads as empty: the caller's parse refuses it. */
	*n = got > 0 ? got : 0;
	text[*n] = '\0';
	return 0;
}

/* 0 with *id = 0 when there is no node-id yet. */
static int read_node_id(struct lm_datadir *d, unsigned *id, char *msg, size_t size)
{
	char text[32];
	ssize_t n;
	*id = 0;
	int rc = read_small_file(d, "node-id", text, sizeof text, &n, msg, size);
	if (rc != 0 || n < 0)
		return rc;
	unsigned long v = 0;
	char *end = text;
	if (n > 0) {
		if (text[0] >= '0' && text[0] <= '9')
			v = strtoul(text, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
			end++;
	}
	if (n <= 0 || *end || v == 0 || v > UINT32_MAX) {
		snprintf(msg, size,
		         "%s/node-id: not a raft id; remove the data directory and start with "
		         "--join to replace this server",
		         d->path);
		return LMC_EINVAL;
	}
	*id = (unsigned)v;
	return 0;
}

/* Through NAME.tmp and a rename, so that a crash leaves the old content or
 * the new one.  The temporary name is removed first and created with
 * O_EXCL | O_NOFOLLOW: a link planted there is removed, never written
 * through. */
static int write_small_file(struct lm_datadir *d, const char *name, const char *text, size_t n,
                            char *msg, size_t size)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = -1;
	bool ok = (unlinkat(d->fd, tmp, 0) == 0 || errno == ENOENT) &&
	          (fd = openat(d->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                       0600)) >= 0 &&
	          write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	ok = ok && renameat(d->fd, tmp, d->fd, name) == 0 && fsync(d->fd) == 0;
	if (!ok) {
		snprintf(msg, size, "cannot write %s/%s: %s", d->path, name, strerror(errno));
		return LMC_EIO;
	}
	return 0;
}

static int write_node_id(struct lm_datadir *d, unsigned id, char *msg, size_t size)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%u\n", id);
	return write_small_file(d, "node-id", text, (size_t)n, msg, size);
}

unsigned lm_datadir_line_of(int nservers, unsigned raft_id)
{
	if (raft_id == 0)
		return 0;
	/* A replacement server of line N joins under N + 3k (below). */
	return nservers == 3 ? (raft_id - 1) % 3 + 1 : raft_id == 1 ? 1 : 0;
}

int lm_datadir_node_id(struct lm_datadir *d, const struct lm_datadir_owner *owner, unsigned *out,
                       char *msg, size_t size)
{
	unsigned id;
	int rc = read_node_id(d, &id, msg, size);
	if (rc != 0)
		return rc;
	/* --join after a start that found this server had lost its data
	 * (bootstrap.h) wrote the old id here: it names the lost server, so
	 * the replacement takes a fresh one. */
	if (id == owner->node && owner->join && lm_datadir_raft_empty(d))
		id = 0;
	if (id) {
		if (lm_datadir_line_of(owner->nservers, id) != owner->node) {
			snprintf(msg, size,
			         "%s: this data directory belongs to the server of SERVER line %u "
			         "(raft id %u), not to --node %u",
			         d->path, lm_datadir_line_of(owner->nservers, id), id, owner->node);
			return LMC_EINVAL;
		}
		*out = id;
		return 0;
	}
	id = owner->node;
	if (owner->join) {
		if (owner->nservers != 3) {
			snprintf(msg, size,
			         "--join replaces a server of a triad; %s has one SERVER line",
			         owner->license_path);
			return LMC_EINVAL;
		}
		if (!lm_datadir_raft_empty(d)) {
			snprintf(msg, size,
			         "--join needs a new data directory, and %s already holds a "
			         "raft log",
			         d->raft);
			return LMC_EINVAL;
		}
		/* Random, so that ids are not reused after several replacements
		 * of one line; small, so that people can read them in lmstat. */
		uint32_t k = 0;
		while (k == 0) {
			if (RAND_bytes((uint8_t *)&k, sizeof k) != 1) {
				snprintf(msg, size, "no random numbers for a raft id");
				return LMC_EIO;
			}
			k %= 100000;
		}
		id = owner->node + 3 * k;
	}
	rc = write_node_id(d, id, msg, size);
	if (rc == 0)
		*out = id;
	return rc;
}

/* ---- the peers met: raft-seen ---- */

static bool seen_has(const struct lm_datadir *d, uint64_t id)
{
	for (unsigned i = 0; i < d->nseen; i++)
		if (d->seen[i] == id)
			return true;
	return false;
}

static void seen_keep(struct lm_datadir *d, uint64_t id)
{
	if (!seen_has(d, id) && d->nseen < LM_DATADIR_SEEN_MAX)
		d->seen[d->nseen++] = id;
}

/* A line that is not an id (a torn append after a crash) is skipped: the
 * handshake that wrote it had not completed, so nothing was replicated. */
int lm_datadir_read_seen(struct lm_datadir *d, char *msg, size_t size)
{
	char path[LM_DATADIR_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/raft-seen", d->path);
	int fd = openat(d->fd, "raft-seen", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return lm_datadir_refuse_link(path, msg, size);
		snprintf(msg, size, "cannot read %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	struct stat st;
	FILE *f = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "r") : NULL;
	if (f == NULL) {
		close(fd);
		snprintf(msg, size, "%s is not a regular file: remove it", path);
		return LMC_EIO;
	}
	char line[64];
	while (fgets(line, sizeof line, f) != NULL) {
		char *end;
		unsigned long long v =
		        line[0] >= '0' && line[0] <= '9' ? strtoull(line, &end, 10) : 0;
		if (v != 0 && v <= UINT32_MAX && *end == '\n')
			seen_keep(d, v);
	}
	fclose(f);
	return 0;
}

int lm_datadir_seen_add(struct lm_datadir *d, uint64_t id, char *msg, size_t size)
{
	if (seen_has(d, id))
		return 0;
	char path[LM_DATADIR_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/raft-seen", d->path);
	char text[32];
	int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)id);
	int fd = openat(d->fd, "raft-seen",
	                O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ELOOP)
		return lm_datadir_refuse_link(path, msg, size);
	struct stat st;
	/* The directory entry too: a new file must survive a crash. */
	bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	          write(fd, text, (size_t)n) == n && fsync(fd) == 0 && fsync(d->fd) == 0;
	int err = errno;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (!ok) {
		snprintf(msg, size, "cannot write %s: %s", path, strerror(err));
		return LMC_EIO;
	}
	seen_keep(d, id);
	return 0;
}

/* ---- cluster-id ---- */

int lm_datadir_cluster_id(struct lm_datadir *d, uint8_t id[LM_CLUSTER_ID_SIZE], bool *known,
                          char *msg, size_t size)
{
	char text[2 * LM_CLUSTER_ID_SIZE + 8];
	ssize_t n;
	*known = false;
	int rc = read_small_file(d, "cluster-id", text, sizeof text, &n, msg, size);
	if (rc != 0 || n < 0)
		return rc;
	bool ok = n == 2 * LM_CLUSTER_ID_SIZE + 1 && text[n - 1] == '\n';
	for (int i = 0; ok && i < LM_CLUSTER_ID_SIZE; i++) {
		unsigned byte;
		ok = isxdigit((unsigned char)text[2 * i]) &&
		     isxdigit((unsigned char)text[2 * i + 1]) &&
		     sscanf(text + 2 * i, "%2x", &byte) == 1;
		id[i] = (uint8_t)byte;
	}
	if (!ok) {
		snprintf(msg, size,
		         "%s/cluster-id: not a cluster id (32 hex digits); it was damaged: "
		         "remove the data directory and start with --join to replace this "
		         "server",
		         d->path);
		return LMC_EINVAL;
	}
	*known = true;
	return 0;
}

int lm_datadir_set_cluster_id(struct lm_datadir *d, const uint8_t id[LM_CLUSTER_ID_SIZE], char *msg,
                              size_t size)
{
	char text[2 * LM_CLUSTER_ID_SIZE + 2];
	lm_hex_encode(id, LM_CLUSTER_ID_SIZE, text);
	text[2 * LM_CLUSTER_ID_SIZE] = '\n';
	return write_small_file(d, "cluster-id", text, 2 * LM_CLUSTER_ID_SIZE + 1, msg, size);
}
