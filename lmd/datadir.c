/* lmd's data directory (see datadir.h): its checks, opening, locking and
 * closing.  The ids kept in it are in datadir_ids.c. */
#include "config.h"

#include "lmd/datadir_internal.h"

#include <dirent.h>
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

int lm_datadir_refuse_link(const char *path, char *msg, size_t size)
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
			rc = lm_datadir_refuse_link(link, msg, size);
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
			return lm_datadir_refuse_link(out, msg, size);
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
		return lm_datadir_refuse_link(path, msg, size);
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
		rc = lm_datadir_read_seen(d, msg, size);
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

bool lm_datadir_raft_empty(const struct lm_datadir *d)
{
	return dir_is_empty(d->raft_fd);
}
