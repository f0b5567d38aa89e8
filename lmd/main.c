/* lmd: the license server. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include "core/log.h"
#include "lmd/admin.h"
#include "lmd/admin_auth.h"
#include "lmd/args.h"
#include "lmd/daemon.h"
#include "lmd/disk.h"
#include "lmd/notify.h"
#include "lmd/privileges.h"
#include "lmd/requests.h"

int main(int argc, char **argv)
{
	/* Run by systemd with stderr on the journal, every line carries its
	 * priority and no time of its own; in a terminal or a file, the
	 * timestamped line (core/log.h). */
	if (lm_log_stream_is_journal(STDERR_FILENO, getenv("JOURNAL_STREAM")))
		lm_log_set_format(LM_LOG_JOURNAL);

	struct lm_config cfg;
	int rc = lm_args_parse(&cfg, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	char err[512];
	if (lm_privileges_check(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "lmd: %s\n", err);
		return 2;
	}
	/* A client that vanishes mid-write must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);

	static struct lm_server server;
	uv_loop_t *loop = uv_default_loop();
	lm_daemon_start(&server, loop, &cfg);
	/* Before the loop runs: no frame is read until then. */
	lm_requests_register(&server.dispatch);
	lm_admin_register(&server.dispatch);
	lm_admin_auth_register(&server.dispatch);
	/* After the start, which made the directories it watches. */
	lm_disk_start(loop, cfg.data_dir);
	/* It listens and answers lmstat: a service that depends on it may
	 * start.  Whether it grants seats yet is the status's business. */
	lm_notify_ready("listening on port %u", server.port);
	lm_daemon_notify_status(&server);
	uv_run(loop, UV_RUN_DEFAULT);
	/* The guard's timer does not keep the loop alive: close it now, and
	 * let the loop finish closing it. */
	lm_disk_stop();
	uv_run(loop, UV_RUN_DEFAULT);
	lm_log("stop", "stopped");
	lm_live_sessions_close(&server.live);
	lm_pool_close(server.pool);
	lm_license_free(&server.license);
	lm_options_free(server.options);
	EVP_PKEY_free(server.vendor_key);
	SSL_CTX_free(server.tls_ctx);
	EVP_PKEY_free(server.server_key);
	lm_admin_keys_free(&server.admin_keys);
	free(server.arena_block);
	free(server.read_buf);
	if (uv_loop_close(loop) != 0)
		lm_log_error("handles still open at exit");
	return 0;
}
