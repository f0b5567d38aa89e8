/* The offline clock high-water mark (see clock_mark.h). */
#include "config.h"

#include "client/clock_mark.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* The mark's path into buf, creating its directory (0700) when it is the
 * default one; false when there is nowhere to keep it. */
static bool mark_path(char *buf, size_t size)
{
	const char *explicit_path = getenv("LMC_CLOCK_FILE");
	if (explicit_path && *explicit_path)
		return (size_t)snprintf(buf, size, "%s", explicit_path) < size;
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char dir[4096];
	int n;
	if (state && *state == '/')
		n = snprintf(dir, sizeof dir, "%s/lmc", state);
	else if (home && *home == '/')
		n = snprintf(dir, sizeof dir, "%s/.local/state/lmc", home);
	else
		return false;
	if (n < 0 || (size_t)n >= sizeof dir)
		return false;
	/* Each level, as mkdir -p would; an existing one is fine. */
	for (char *p = strchr(dir + 1, '/');; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return false;
		if (!p)
			break;
		*p = '/';
	}
	return (size_t)snprintf(buf, size, "%s/clock-mark", dir) < size;
}

static int64_t read_mark(const char *path)
{
	FILE *f = fopen(path, "re");
	long long mark = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lld", &mark) != 1 || mark < 0)
		mark = 0;
	fclose(f);
	return mark;
}

/* Through a temporary file and a rename, so that a crash never leaves a
 * mark of 0. */
static void write_mark(const char *path, int64_t now)
{
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= sizeof tmp)
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	char text[32];
	int n = snprintf(text, sizeof text, "%" PRId64 "\n", now);
	bool ok = write(fd, text, (size_t)n) == n;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
}

int lm_clock_mark_check(int64_t now, char *why, size_t size)
{
	char path[4096];
	if (!mark_path(path, sizeof path))
		return 0;
	int64_t mark = read_mark(path);
	if (mark - now > LM_CLOCK_MARK_TOLERANCE_S) {
		snprintf(
		        why, size,
		        "clock set back: this machine's clock is %lld s behind the latest time "
		        "liblmc saw here (%s); time-limited node-locked licenses are refused until "
		        "the clock is corrected (the vendor can tell you how to reset the mark if "
		        "it was wrong)",
		        (long long)(mark - now), path);
		return LMC_ECLOCK;
	}
	/* Written at most once a minute: applications check out often. */
	if (now - mark >= 60)
		write_mark(path, now);
	return 0;
}
