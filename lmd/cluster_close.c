/* Closing a cluster (lm_cluster_close), around raft issue #341.
 *
 * raft_close() makes raft_uv close its handles and finish its disk work, then
 * call back.  In raft 0.15 (and up to canonical/raft 0.18) raft_uv may call
 * that close callback twice: the writer of the last open segment finishes
 * closing after the callback fired and fires it again (canonical/raft issue
 * #341, fixed in cowsql/raft PR #45).  The second call runs raft's ioCloseCb
 * again (a double free), and if raft_uv's memory was already released it
 * jumps through a dangling pointer; test_one_node_log crashed that way about
 * once in a hundred runs.  So we put our own callback between raft_uv and
 * raft, pass the first call on and swallow the rest, and release raft_uv's
 * memory only once the loop has had no request in flight for two ticks in a
 * row with no further call: what raft_uv still does after its callback is
 * thread-pool work (a loop request) and handle closes (done within the loop
 * iteration that started them). */
#include "config.h"

#include <assert.h>
#include <stdlib.h>

#include <raft.h>
#include <raft/uv.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/cluster_internal.h"
#include "lmd/transport.h"

#define REAP_TICK_MS    5
#define REAP_GIVE_UP_MS 10000

static void io_closed(struct raft_io *io)
{
	struct lm_cluster *c = lm_cluster_of_io(io);

	if (c->io_close_calls++ == 0)
		c->raft_io_close_cb(io);
}

void lm_cluster_io_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct lm_cluster *c = lm_cluster_of_io(io);

	c->raft_io_close_cb = cb;
	c->uv_io_close(io, io_closed);
}

/* Requests (thread-pool work, file system and stream requests) still in
 * flight on the loop; a public field of uv_loop_t that uv_loop_alive() reads
 * too. */
static unsigned loop_requests(uv_loop_t *loop)
{
	return loop->active_reqs.count;
}

static void handle_closed(uv_handle_t *h)
{
	struct lm_cluster *c = h->data;

	assert(c->open_handles > 0);
	if (--c->open_handles > 0)
		return;
	assert(c->pending == 0);
	lm_cluster_drop_result(c);
	lm_cluster_close_cb cb = c->close_cb;
	void *arg = c->close_arg;
	free(c->dir);
	/* A leaked raft_uv still points into c. */
	if (!c->leak)
		free(c);
	if (cb != NULL)
		cb(arg);
}

static void reap_cb(uv_timer_t *t)
{
	struct lm_cluster *c = t->data;

	if (c->io_close_calls != c->reap_calls || loop_requests(c->loop) != 0) {
		c->reap_calls = c->io_close_calls;
		c->reap_quiet = 0;
		if (uv_now(c->loop) < c->reap_deadline)
			return;
		/* Better a leak at shutdown than a jump through freed memory. */
		lm_log_warning("cluster: raft's I/O still busy %d ms after closing; "
		               "leaving its memory allocated",
		               REAP_GIVE_UP_MS);
		c->leak = true;
	} else if (++c->reap_quiet < 2) {
		return;
	}
	uv_timer_stop(&c->defer);
	if (!c->leak) {
		raft_uv_close(&c->io);
		lm_transport_close(&c->transport);
	}
	uv_close((uv_handle_t *)&c->watch, handle_closed);
	uv_close((uv_handle_t *)&c->defer, handle_closed);
}

static void raft_closed(struct raft *raft)
{
	struct lm_cluster *c = raft->data;

	/* raft has failed every pending request by now, and calls nothing of
	 * ours any more: a replacement it still held is over too. */
	if (c->replace != NULL)
		lm_cluster_replace_finish(c, LMC_ESHUTDOWN);
	c->reap_calls = c->io_close_calls;
	c->reap_quiet = 0;
	c->reap_deadline = uv_now(c->loop) + REAP_GIVE_UP_MS;
	uv_timer_start(&c->defer, reap_cb, REAP_TICK_MS, REAP_TICK_MS);
}

static void defer_cb(uv_timer_t *t)
{
	struct lm_cluster *c = t->data;

	raft_close(&c->raft, raft_closed);
}

void lm_cluster_close(struct lm_cluster *c, lm_cluster_close_cb cb, void *arg)
{
	assert(!c->closing);
	c->closing = true;
	c->close_cb = cb;
	c->close_arg = arg;
	uv_check_stop(&c->watch);
	/* raft_close() from inside one of raft's own callbacks (a proposer's
	 * done callback, say) would tear raft down under its own feet: run it
	 * from the next loop iteration instead. */
	uv_timer_start(&c->defer, defer_cb, 0, 0);
}
