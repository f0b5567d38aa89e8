/* The daemon: starts the server and everything around it on one loop, and
 * stops it (daemon.c). */
#ifndef LM_DAEMON_H
#define LM_DAEMON_H

#include <uv.h>

#include "lmd/args.h"
#include "lmd/server.h"

/* Loads and checks the license, opens the store and the cluster, starts
 * listening.  Exits the process with a message naming the problem when the
 * license is invalid or this machine is not the one its SERVER line names.
 * The request handlers are registered in s->dispatch before the loop runs. */
void lm_daemon_start(struct lm_server *s, uv_loop_t *loop, const struct lm_config *cfg);
/* Tells systemd the server's role and seats in use (lmd/notify.h). */
void lm_daemon_notify_status(struct lm_server *s);

/* Stops accepting, closes every connection and the cluster; the loop then
 * ends by itself. */
void lm_daemon_stop(struct lm_server *s);

#endif
