/* lmd's data directory (see datadir.h). */
#include "config.h"

#include "lmd/datadir.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/bytes.h"
#include "core/error.h"

/* ---- checks ---- */

/* A directory of lmd's must be this user's alone: whoever else could write
 * to it could replace the raft log or the store under the server. */
static int check_private(int fd, const char *path, char *msg, size_t size)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(msg, size, "cannot stat %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, size, "%s is not a directory", path);
		return LMC_EIO;
	}
	if (st.st_uid != geteuid()) {
		snprintf(msg, size,
		         "%s belongs to uid %ld, not to uid %ld that runs lmd: lmd keeps its raft "
		         "log and seats only in a directory of its own user (run lmd as that user, "
		         "or chown the directory)",
		         path, (long)st.st_uid, (long)geteuid());
		return LMC_EDENIED;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(msg, size,
		         "%s is writable by %s (mode %04o): anyone who can write there can rewrite "
		         "this server's raft log and seats; run `chmod go-w %s`",
		         path, st.st_mode & S_IWOTH ? "others" : "its group",
		         (unsigned)(st.st_mode & 07777), path);
		return LMC_EDENIED;
	}
	return 0;
}

static int refuse_link(const char *path, char *msg, size_t size)
{
	snprintf(msg, size,
	         "%s is a symbolic link: lmd follows no link inside its data directory (a link "
	         "there could make it delete or overwrite files elsewhere); remove it",
	         path);
	return LMC_EDENIED;
}

/* LMDB and raft open their files by path: before they do, no entry of the
 * directory may be a link (LMDB deletes and recreates data.mdb and
 * lock.mdb at every start, and would do so through a link).  The directory
 * is private (check_private), so nobody else can add one afterwards. */
static int check_no_links(int fd, const char *path, char *msg, size_t size)
{
	int dfd = dup(fd);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		snprintf(msg, size, "cannot list %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	rewinddir(dir);
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(dir)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(msg, size, "cannot stat %s/%s: %s", path, e->d_name,
			         strerror(errno));
			rc = LMC_EIO;
		} else if (S_ISLNK(st.st_mode)) {
			char link[LM_DATADIR_PATH_MAX + 300];
			snprintf(link, sizeof link, "%s/%s", path, e->d_name);
			rc = refuse_link(link, msg, size);
		}
	}
	closedir(dir);
	return rc;
}

static bool dir_is_empty(int fd)
{
	int dfd = dup(fd);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		return true;
	}
	rewinddir(dir);
	struct dirent *e;
	bool empty = true;
	while (empty && (e = readdir(dir)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(dir);
	return empty;
}

/* ---- opening ---- */

/* DATA/name, created 0700 if missing, opened without following a link,
 * checked private and free of links; its path goes to out. */
static int open_subdir(struct lm_datadir *d, const char *name, int *out_fd, char *out, char *msg,
                       size_t size)
{
	if (snprintf(out, LM_DATADIR_PATH_MAX, "%s/%s", d->path, name) >= LM_DATADIR_PATH_MAX) {
		snprintf(msg, size, "--data %.200s...: the path is too long", d->path);
		return LMC_EINVAL;
	}
	if (mkdirat(d->fd, name, 0700) != 0 && errno != EEXIST) {
		snprintf(msg, size, "cannot create %s: %s", out, strerror(errno));
		return LMC_EIO;
	}
	int fd = openat(d->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		struct stat st;
		if (errno == ELOOP ||
		    (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)))
			return refuse_link(out, msg, size);
		snprintf(msg, size, "cannot open %s: %s", out, strerror(errno));
		return LMC_EIO;
	}
	int rc = check_private(fd, out, msg, size);
	if (rc == 0)
		rc = check_no_links(fd, out, msg, size);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	*out_fd = fd;
	return 0;
}

/* One lmd per directory: two would write one raft log.  The lock file
 * holds the holder's pid for the refusal message. */
static int lock_dir(struct lm_datadir *d, char *msg, size_t size)
{
	int fd =
	        openat(d->fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 && errno == ELOOP) {
		char path[LM_DATADIR_PATH_MAX + 8];
		snprintf(path, sizeof path, "%s/lock", d->path);
		return refuse_link(path, msg, size);
	}
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(msg, size, "cannot open %s/lock: %s", d->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return LMC_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(msg, size, "%s/lock is not a regular file; remove it", d->path);
		return LMC_EDENIED;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char text[32] = "";
		ssize_t n = pread(fd, text, sizeof text - 1, 0);
		long pid = n > 0 ? strtol(text, NULL, 10) : 0;
		close(fd);
		if (e != EWOULDBLOCK) {
			snprintf(msg, size, "cannot lock %s/lock: %s", d->path, strerror(e));
			return LMC_EIO;
		}
		char who[48] = "another lmd";
		if (pid > 0)
			snprintf(who, sizeof who, "another lmd (pid %ld)", pid);
		snprintf(msg, size,
		         "%s is in use by %s: every lmd needs a --data directory of its own "
		         "(stop that lmd, or give this one another --data)",
		         d->path, who);
		return LMC_ELIMIT;
	}
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	/* The pid is only a courtesy for the message above: failing to
	 * write it changes nothing. */
	bool noted = ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == n;
	(void)noted;
	d->lock_fd = fd;
	return 0;
}

static int read_seen(struct lm_datadir *d, char *msg, size_t size);

int lm_datadir_open(struct lm_datadir *d, const char *path, char *msg, size_t size)
{
	*d = (struct lm_datadir){.path = path, .fd = -1, .lock_fd = -1, .raft_fd = -1};
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(msg, size, "cannot create %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	/* DATA itself may be a link: the administrator chose it. */
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		snprintf(msg, size, "cannot open %s: %s", path, strerror(errno));
		return LMC_EIO;
	}
	int pool_fd = -1;
	int rc = check_private(d->fd, path, msg, size);
	if (rc == 0)
		rc = lock_dir(d, msg, size);
	if (rc == 0)
		rc = open_subdir(d, "pool", &pool_fd, d->pool, msg, size);
	if (rc == 0)
		rc = open_subdir(d, "raft", &d->raft_fd, d->raft, msg, size);
	if (rc == 0)
		rc = read_seen(d, msg, size);
	/* LMDB reopens pool/ by path; the descriptor only served the checks. */
	if (pool_fd >= 0)
		close(pool_fd);
	if (rc != 0)
		lm_datadir_close(d);
	return rc;
}

void lm_datadir_close(struct lm_datadir *d)
{
	if (d->raft_fd >= 0)
		close(d->raft_fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = d->lock_fd = d->raft_fd = -1;
}

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
			return refuse_link(path, msg, size);
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
	if (id == owner->node && owner->join && dir_is_empty(d->raft_fd))
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
		if (!dir_is_empty(d->raft_fd)) {
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

bool lm_datadir_raft_empty(const struct lm_datadir *d)
{
	return dir_is_empty(d->raft_fd);
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
static int read_seen(struct lm_datadir *d, char *msg, size_t size)
{
	char path[LM_DATADIR_PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/raft-seen", d->path);
	int fd = openat(d->fd, "raft-seen", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return refuse_link(path, msg, size);
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
		return refuse_link(path, msg, size);
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
