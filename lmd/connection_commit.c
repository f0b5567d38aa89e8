/* Committing a request's commands (connection.h): a request proposes one
 * or more commands; the connection reads nothing else until all of them
 * committed, and the handler's callback answers from the pool's result. */
#include "config.h"

#include "lmd/connection.h"

#include <stdlib.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/faults.h"

struct lm_request *lm_request_new(struct lm_connection *c, const Lm__Envelope *env,
                                  lm_request_done_fn done)
{
	struct lm_request *p = lm_fault_alloc() ? NULL : calloc(1, sizeof *p);
	if (!p) {
		lm_connection_send_error(c, env->request_id, LMC_ENOMEM, "server out of memory",
		                         false);
		return NULL;
	}
	p->c = c;
	p->request_id = env->request_id;
	p->session_id = c->session_id;
	p->done = done;
	p->received_ns = uv_hrtime();
	return p;
}

static void on_committed(void *arg, int status, struct lm_pool_result *res)
{
	struct lm_request *p = arg;
	struct lm_connection *c = p->c;
	bool open = c->state != LM_CONNECTION_CLOSING;
	/* A failure means the outcome is unknown (LEADERSHIPLOST): the command
	 * may still commit under the next leader.  The client retries there
	 * with the same request id, and the pool's dedup answers. */
	if (status == 0) {
		p->done(p, res, open && !c->request_failed);
	} else {
		lm_log_error(
		        "peer=%s user=%s request=%llu: outcome unknown (%s); the client retries "
		        "with the same request id",
		        c->peer, c->user, (unsigned long long)p->request_id,
		        status == LMC_EINDOUBT ? "leadership lost before it committed"
		                               : "the cluster failed to commit it");
		c->request_failed = true;
	}
	if (--c->outstanding == 0) {
		if (c->request_failed && open)
			lm_connection_send_not_serving(c, p->request_id);
		c->request_failed = false;
		lm_connection_finish_request(c);
	}
	free(p);
	lm_connection_unref(c);
}

int lm_request_submit(struct lm_request *p, const struct lm_command *cmd)
{
	struct lm_connection *c = p->c;
	int rc = lm_server_propose(c->s, cmd, on_committed, p);
	if (rc == 0) {
		c->refs++;
		c->outstanding++;
		c->busy = true;
		return 0;
	}
	/* Refused before anything was proposed; commands already proposed
	 * for this request will answer it. */
	/* The disk guard logs a full disk once, not once per refusal. */
	if (rc != LMC_ENOTLEADER && rc != LMC_ESTORE)
		lm_log_error("peer=%s user=%s request=%llu refused before replication: %s", c->peer,
		             c->user, (unsigned long long)p->request_id, lmc_strerror(rc));
	if (c->outstanding == 0) {
		if (rc == LMC_ENOTLEADER)
			lm_connection_send_not_serving(c, p->request_id);
		else
			lm_connection_send_error(c, p->request_id, rc, lmc_strerror(rc), false);
	}
	free(p);
	return rc;
}
