/* The first start of a triad (see bootstrap.h). */
#include "config.h"

#include "lmd/bootstrap.h"

#include <stdint.h>
#include <stdlib.h>

#include <uv.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/cluster.h"
#include "lmd/datadir.h"
#include "lmd/server.h"
#include "proto/address.h"
#include "proto/frame_conn.h"

struct lm_bootstrap {
	struct lm_server *s;
	void (*start)(struct lm_server *s);
	uv_timer_t timer;
	uv_work_t work;
	bool working;       /* work queued, its after_work not yet run */
	bool timer_closing; /* stopping: the timer is being closed */
	bool stopped;
	bool told_waiting;
	/* What the last round of questions found, per SERVER line. */
	bool answered[LM_LICENSE_SERVERS_MAX];
	bool pristine[LM_LICENSE_SERVERS_MAX];
	bool lists_us[LM_LICENSE_SERVERS_MAX];
};

/* Asks the server of SERVER line i + 1 whether it has met our raft id. */
static void ask_peer(struct lm_bootstrap *b, int i)
{
	const struct lm_server *s = b->s;
	struct lm_address a;
	struct lm_frame_conn c;
	Lm__Envelope req, *reply = NULL;
	Lm__StatusRequest q = LM__STATUS_REQUEST__INIT;

	/* Over TLS to a peer whose key the license pins, as a client would. */
	const struct lm_license_server *peer = &s->license.servers[i];
	if (lm_address_parse(s->addresses[i], &a, NULL, 0) != 0 ||
	    lm_frame_conn_greet(&c, &a, LM_FRAME_REPLY_MAX, LM_BOOTSTRAP_ASK_MS,
	                        LM_FRAME_TLS_WHEN_PINNED, peer->has_key ? peer->key : NULL,
	                        NULL) != 0)
		return;
	lm_envelope_init(&req, 1);
	req.body_case = LM__ENVELOPE__BODY_STATUS_REQUEST;
	req.status_request = &q;
	if (lm_frame_conn_call(&c, &req, &reply, LM_BOOTSTRAP_ASK_MS) == 0 &&
	    reply->body_case == LM__ENVELOPE__BODY_STATUS_REPLY) {
		/* Its own entry is the one that carries a raft id. */
		const Lm__StatusReply *r = reply->status_reply;
		for (size_t k = 0; k < r->n_servers; k++) {
			const Lm__ServerStatus *ss = r->servers[k];
			if (!ss->has_raft_id)
				continue;
			b->answered[i] = true;
			b->pristine[i] = ss->has_pristine && ss->pristine;
			for (size_t j = 0; j < ss->n_seen_raft_ids; j++)
				if (ss->seen_raft_ids[j] == s->raft_id)
					b->lists_us[i] = true;
		}
	}
	lm_frame_conn_close(&c);
}

/* In the thread pool: touches only b's answers and what of s is fixed. */
static void ask_peers(uv_work_t *w)
{
	struct lm_bootstrap *b = w->data;

	for (int i = 0; i < 3; i++) {
		b->answered[i] = b->pristine[i] = b->lists_us[i] = false;
		if ((unsigned)i + 1 != b->s->node)
			ask_peer(b, i);
	}
}

static void timer_closed(uv_handle_t *h)
{
	struct lm_bootstrap *b = h->data;
	b->timer_closing = false;
	if (!b->working)
		free(b);
}

/* Done asking: raft may start, or we are done with b. */
static void finish(struct lm_bootstrap *b)
{
	b->s->bootstrap = NULL;
	b->stopped = b->timer_closing = true;
	uv_close((uv_handle_t *)&b->timer, timer_closed);
}

static void on_retry(uv_timer_t *t);

static void asked(uv_work_t *w, int status)
{
	struct lm_bootstrap *b = w->data;
	struct lm_server *s = b->s;

	b->working = false;
	if (b->stopped) {
		if (!b->timer_closing)
			free(b);
		return;
	}
	/* Proof of a first start: a pristine peer that never met us (the
	 * whole triad starts), or both peers, neither of which met us (this
	 * server starts after the other two ran without it).  A single peer
	 * with raft state that never met us is no proof: the committed log
	 * may be on the other one alone, which replicated with us (issue 8:
	 * followers need not ever talk to each other). */
	int answered = 0;
	bool proof = false;
	for (int i = 0; i < 3 && status == 0; i++) {
		if (b->lists_us[i])
			lm_fatal("%s has no raft state, but the server of SERVER line %d has "
			         "exchanged "
			         "replication traffic with this server (raft id %u) before: this "
			         "server lost its data. Start it with --join on an empty --data "
			         "and run "
			         "`lmutil lmreplace --node %u` where the leader runs (README: "
			         "Replacing "
			         "a dead server)",
			         s->cfg.data_dir, i + 1, s->raft_id, s->node);
		answered += b->answered[i];
		proof = proof || b->pristine[i];
	}
	if (proof || answered == 2) {
		void (*start)(struct lm_server *) = b->start;
		lm_log("start", "first start of raft id %u: %s never met it before", s->raft_id,
		       proof ? "a peer with no raft state yet" : "either peer");
		finish(b);
		s->raft_fresh = true;
		start(s);
		return;
	}
	if (!b->told_waiting) {
		b->told_waiting = true;
		lm_log("start",
		       "waiting for another server of the triad before the first start (%s "
		       "has no raft state; asking the other servers every %d ms whether "
		       "this server ran before)",
		       s->cfg.data_dir, LM_BOOTSTRAP_RETRY_MS);
	}
	uv_timer_start(&b->timer, on_retry, LM_BOOTSTRAP_RETRY_MS, 0);
}

static void ask_again(struct lm_bootstrap *b)
{
	b->work.data = b;
	if (uv_queue_work(b->s->loop, &b->work, ask_peers, asked) != 0)
		lm_fatal("cannot queue work on the loop");
	b->working = true;
}

static void on_retry(uv_timer_t *t)
{
	ask_again(t->data);
}

void lm_bootstrap_start(struct lm_server *s, void (*start)(struct lm_server *s))
{
	if (s->license.nservers != 3 || s->cfg.join || s->raft_id != s->node ||
	    !lm_datadir_raft_empty(&s->datadir)) {
		start(s);
		return;
	}
	struct lm_bootstrap *b = calloc(1, sizeof *b);
	if (b == NULL)
		lm_fatal("out of memory");
	b->s = s;
	b->start = start;
	uv_timer_init(s->loop, &b->timer);
	b->timer.data = b;
	s->bootstrap = b;
	ask_again(b);
}

bool lm_bootstrap_pristine(const struct lm_server *s)
{
	if (s->bootstrap != NULL)
		return true;
	if (!s->raft_fresh)
		return false;
	/* Bootstrapped by this process and nothing committed yet (a leader
	 * commits an entry after the configuration at index 1 as soon as it is
	 * elected): no quorum ever formed with this server, so a peer still
	 * waiting for its first start may take this one as a first start too
	 * (the triad started one server after the other). */
	struct lm_cluster_status st;
	lm_cluster_status(s->cluster, &st);
	return st.commit_index <= 1 && st.applied_index <= 1;
}

void lm_bootstrap_stop(struct lm_server *s)
{
	if (s->bootstrap != NULL)
		finish(s->bootstrap);
}
