/* Dropping root (privileges.h). */
#include "config.h"

#include "lmd/privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool allowed_as_root(const struct lm_config *cfg)
{
	const char *env = getenv("LMD_ALLOW_ROOT");
	return cfg->allow_root || (env && strcmp(env, "1") == 0);
}

int lm_privileges_check(const struct lm_config *cfg, char *err, size_t size)
{
	if (geteuid() != 0) {
		if (cfg->run_as_user) {
			snprintf(err, size,
			         "--user %s: lmd is not root (uid %u) and cannot become another "
			         "user; start it as root, or run it as that user without --user",
			         cfg->run_as_user, (unsigned)geteuid());
			return -1;
		}
		return 0;
	}
	if (!cfg->run_as_user && !allowed_as_root(cfg)) {
		snprintf(err, size,
		         "refusing to run as root: give --user NAME (lmd reads its license as "
		         "root, then serves as NAME), or --allow-root (or LMD_ALLOW_ROOT=1) to "
		         "run as root throughout");
		return -1;
	}
	return 0;
}

/* The data directory made for, or checked to belong to, pw. */
static int prepare_data_dir(const char *dir, const struct passwd *pw, char *err, size_t size)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0700) != 0 ||
		    chown(dir, pw->pw_uid, pw->pw_gid) != 0) {
			snprintf(err, size, "--data %s: cannot create it for user %s: %s", dir,
			         pw->pw_name, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (st.st_uid != pw->pw_uid) {
		snprintf(err, size,
		         "--data %s belongs to uid %u, not to --user %s (uid %u): run `chown -R "
		         "%s %s` once, or use another directory",
		         dir, (unsigned)st.st_uid, pw->pw_name, (unsigned)pw->pw_uid, pw->pw_name,
		         dir);
		return -1;
	}
	return 0;
}

int lm_privileges_drop(const struct lm_config *cfg, const unsigned *ports, size_t nports, char *err,
                       size_t size)
{
	if (!cfg->run_as_user || geteuid() != 0)
		return 0;
	struct passwd pwbuf, *pw = NULL;
	char buf[4096];
	int rc = getpwnam_r(cfg->run_as_user, &pwbuf, buf, sizeof buf, &pw);
	if (rc != 0 || !pw) {
		snprintf(err, size, "--user %s: no such user%s%s", cfg->run_as_user,
		         rc ? ": " : " (create one, e.g. `adduser --system lmd`)",
		         rc ? strerror(rc) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, size, "--user %s is root; name an unprivileged user", pw->pw_name);
		return -1;
	}
	for (size_t i = 0; i < nports; i++)
		if (ports[i] && ports[i] < 1024) {
			snprintf(err, size,
			         "port %u is below 1024, which only root may bind, and lmd binds "
			         "its ports after becoming --user %s: choose a port from 1024 up",
			         ports[i], pw->pw_name);
			return -1;
		}
	if (prepare_data_dir(cfg->data_dir, pw, err, size) != 0)
		return -1;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, size, "--user %s: cannot become that user: %s", pw->pw_name,
		         strerror(errno));
		return -1;
	}
	/* For good: a process that could become root again has not dropped
	 * anything. */
	if (setuid(0) == 0 || geteuid() == 0) {
		snprintf(err, size, "--user %s: root could be regained after the drop",
		         pw->pw_name);
		return -1;
	}
	return 0;
}
