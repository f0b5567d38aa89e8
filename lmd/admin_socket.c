/* The admin socket (admin_auth.h): a Unix domain socket that root and the
 * admin group reach.  Its mode is 0660 with the admin group as its group, so
 * that nobody else can even connect; the kernel's word on each peer
 * (SO_PEERCRED) then decides, so that a socket whose mode someone loosened
 * still grants nothing to the wrong user. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/error_message.h"
#include "core/log.h"
#include "lmd/admin_auth.h"
#include "lmd/admin_socket.h"
#include "lmd/connection.h"

static void on_admin_connection(uv_stream_t *listener, int status)
{
	if (status == 0)
		lm_connection_accept_admin(listener->data, lm_admin_auth_peer);
	else
		lm_log_error("admin socket accept: %s", uv_strerror(status));
}

/* A socket file left by an lmd that died goes; anything else at the path
 * is not ours to remove. */
static int clear_stale(const char *path, char *err, size_t errsize)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT
		               ? 0
		               : lm_error_message(err, errsize, LMC_EIO, "admin socket %s: %s",
		                                  path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return lm_error_message(err, errsize, LMC_EIO,
		                        "admin socket %s: something else is there; remove it or "
		                        "name another path (--admin-socket)",
		                        path);
	unlink(path);
	return 0;
}

int lm_admin_socket_start(struct lm_server *s, char *err, size_t errsize)
{
	const char *path = s->cfg.admin_socket_path;
	char def[LM_ADMIN_SOCKET_DEFAULT_MAX];
	s->admin_socket_path[0] = 0;
	if (path && strcmp(path, "none") == 0)
		return 0;
	if (!path) {
		snprintf(def, sizeof def, "%s/admin.sock", s->cfg.data_dir);
		path = def;
	}
	if (strlen(path) > LM_ADMIN_SOCKET_PATH_MAX && !s->cfg.admin_socket_path) {
		/* The default must not stop a server that ran before: it runs
		 * without local admins, and says how to have them. */
		lm_log_error("admin socket %.200s: longer than the %d bytes a socket path may "
		             "have: no admin socket (name one with --admin-socket)",
		             path, LM_ADMIN_SOCKET_PATH_MAX);
		return 0;
	}
	if (strlen(path) > LM_ADMIN_SOCKET_PATH_MAX)
		return lm_error_message(err, errsize, LMC_ETOOLARGE,
		                        "admin socket %.200s: longer than the %d bytes a socket "
		                        "path may have; name a shorter one (--admin-socket)",
		                        path, LM_ADMIN_SOCKET_PATH_MAX);
	int rc = clear_stale(path, err, errsize);
	if (rc != 0)
		return rc;
	uv_pipe_init(s->loop, &s->admin_listener, 0);
	s->admin_listener.data = s;
	/* Created with no access for others from the start: the mode is set
	 * before anyone could connect. */
	mode_t old = umask(0117);
	int uvrc = uv_pipe_bind(&s->admin_listener, path);
	umask(old);
	if (uvrc == 0 && s->has_admin_gid && chown(path, (uid_t)-1, s->admin_gid) != 0)
		lm_log_error("admin socket %s: cannot give it to group %s: %s (only its owner "
		             "can use it)",
		             path, s->admin_group, strerror(errno));
	if (uvrc == 0)
		uvrc = uv_listen((uv_stream_t *)&s->admin_listener, 64, on_admin_connection);
	if (uvrc != 0) {
		uv_close((uv_handle_t *)&s->admin_listener, NULL);
		return lm_error_message(err, errsize, LMC_EIO, "admin socket %s: %s", path,
		                        uv_strerror(uvrc));
	}
	snprintf(s->admin_socket_path, sizeof s->admin_socket_path, "%s", path);
	return 0;
}

void lm_admin_socket_stop(struct lm_server *s)
{
	if (!s->admin_socket_path[0])
		return;
	uv_close((uv_handle_t *)&s->admin_listener, NULL);
	unlink(s->admin_socket_path);
	s->admin_socket_path[0] = 0;
}
