/* /status.json (http.h): what the dashboard shows, rendered on the event
 * loop from the same queries as lmstat's StatusReply (admin_status.c): the
 * cluster's status and lm_pool_each_feature() with its holders.  The HTTP
 * port knows no admin, so who holds a seat (user, host, display) is shown
 * there only when lmd --lmstat-details public shows it to everyone;
 * otherwise the counts alone, as lmstat gives them to a stranger. */
#include "config.h"

#include "lmd/http.h"

#include <inttypes.h>
#include <stdbool.h>

#include "core/date.h"
#include "lmd/http_usage.h"
#include "lmd/server.h"
#include "lmd/walltime.h"

struct status_walk {
	struct lm_text *out;
	struct lm_pool *pool;
	int32_t today;
	bool show_holders;
	bool failed;
	size_t nfeatures, nholders; /* written so far; of the open feature */
	size_t more_holders;        /* of the open feature, left out */
};

static const char *role_of(struct lm_server *s, const struct lm_cluster_status *cs, int line)
{
	if ((unsigned)line == s->node)
		return lm_cluster_role_name(cs->role);
	return lm_server_line_of(s, cs->leader_id) == (unsigned)line ? "leader" : "unknown";
}

static void servers(struct lm_server *s, struct lm_text *out)
{
	struct lm_cluster_status cs;
	lm_server_cluster_status(s, &cs);
	lm_text_printf(out, "\"servers\":[");
	for (int i = 0; i < s->license.nservers; i++) {
		lm_text_printf(out, "%s{\"address\":", i ? "," : "");
		lm_text_json(out, s->addresses[i]);
		lm_text_printf(out, ",\"role\":\"%s\",\"self\":%s}", role_of(s, &cs, i + 1),
		               (unsigned)i + 1 == s->node ? "true" : "false");
	}
	lm_text_printf(out,
	               "],\"raft\":{\"term\":%" PRIu64 ",\"commit\":%" PRIu64
	               ",\"applied\":%" PRIu64 "},",
	               cs.term, cs.commit_index, cs.applied_index);
}

static void close_feature(struct status_walk *w)
{
	if (w->nfeatures)
		lm_text_printf(w->out, "],\"more_holders\":%zu}", w->more_holders);
}

static int feature(void *arg, const struct lm_pool_feature *f)
{
	struct status_walk *w = arg;
	close_feature(w);
	lm_text_printf(w->out, "%s{\"name\":", w->nfeatures++ ? "," : "");
	lm_text_json(w->out, f->name);
	lm_text_printf(w->out, ",\"version\":");
	lm_text_json(w->out, f->version);
	uint32_t reserved, idle;
	if (lm_metrics_reserved(w->pool, f, &reserved, &idle) != 0) {
		w->failed = true;
		return 1;
	}
	lm_text_printf(w->out, ",\"issued\":%u,\"in_use\":%u,\"reserved\":%u,\"reserved_idle\":%u,",
	               f->issued, f->in_use, reserved, idle);
	if (f->expiry == LM_DATE_NONE) {
		lm_text_printf(w->out, "\"expiry\":null,\"days_left\":null,");
	} else if (f->expiry == LM_DATE_PERMANENT) {
		lm_text_printf(w->out, "\"expiry\":\"permanent\",\"days_left\":null,");
	} else {
		char date[32];
		lm_date_format(f->expiry, date, sizeof date);
		lm_text_printf(w->out, "\"expiry\":\"%s\",\"days_left\":%ld,", date,
		               (long)f->expiry - (long)w->today);
	}
	lm_text_printf(w->out, "\"holders\":[");
	w->nholders = w->more_holders = 0;
	return 0;
}

static int holder(void *arg, const struct lm_pool_handle *h, const struct lm_pool_session *ps)
{
	struct status_walk *w = arg;
	if (!w->show_holders)
		return 0;
	if (w->nholders == LM_HTTP_HOLDERS_MAX) {
		w->more_holders++;
		return 0;
	}
	lm_text_printf(w->out, "%s{\"user\":", w->nholders++ ? "," : "");
	lm_text_json(w->out, ps->user);
	lm_text_printf(w->out, ",\"host\":");
	lm_text_json(w->out, ps->host);
	lm_text_printf(w->out, ",\"display\":");
	lm_text_json(w->out, ps->display);
	lm_text_printf(w->out, ",\"version\":");
	lm_text_json(w->out, h->version);
	lm_text_printf(w->out, ",\"count\":%u,\"since\":%lld,\"handle\":%" PRIu64 "}", h->count,
	               (long long)(h->since_us / 1000000), h->handle);
	return 0;
}

static void denials(const struct lm_metrics *m, struct lm_text *out)
{
	lm_text_printf(out, "\"checkouts\":%" PRIu64 ",\"denials\":[", m->checkouts);
	bool first = true;
	for (int code = -1; code >= LMC_ERROR_MIN; code--) {
		if (!m->denials[-code])
			continue;
		lm_text_printf(out, "%s{\"reason\":\"%s\",\"message\":", first ? "" : ",",
		               lmc_errname(code));
		lm_text_json(out, lmc_strerror(code));
		lm_text_printf(out, ",\"count\":%" PRIu64 "}", m->denials[-code]);
		first = false;
	}
	lm_text_printf(out, "]");
}

static int count_session(void *arg, const struct lm_pool_session *ps)
{
	(*(size_t *)arg)++;
	return 0;
}

void lm_http_status_json(struct lm_server *s, const struct lm_http_usage *usage,
                         struct lm_text *out)
{
	int64_t now_us = lm_walltime_us();
	lm_text_printf(out, "{\"generated\":%lld,\"version\":\"%s\",\"vendor\":",
	               (long long)(now_us / 1000000), LM_SERVER_VERSION);
	lm_text_json(out, s->license.vendor);
	lm_text_printf(out, ",\"node\":%u,\"serving\":%s,\"started\":%lld,", s->node,
	               s->ready ? "true" : "false", (long long)(s->metrics.started_unix_ms / 1000));
	servers(s, out);
	/* The pool's sessions, which every server of a triad knows (the
	 * leader's live-session table is empty elsewhere). */
	size_t sessions = 0;
	lm_pool_each_session(s->pool, count_session, &sessions);
	lm_text_printf(out, "\"sessions\":%zu,\"connections\":%u,", sessions, s->nconns);
	denials(&s->metrics, out);
	struct status_walk w = {.out = out,
	                        .pool = s->pool,
	                        .today = (int32_t)(now_us / 86400000000LL),
	                        .show_holders = !s->cfg.lmstat_details_admin};
	lm_text_printf(out, ",\"holder_details\":\"%s\",\"features\":[",
	               w.show_holders ? "public" : "admin");
	lm_pool_each_feature(s->pool, w.today, feature, holder, &w);
	if (w.failed)
		out->oom = true;
	close_feature(&w);
	lm_text_printf(out, "]");
	if (usage) {
		lm_text_printf(out, ",");
		lm_http_usage_json(usage, now_us, out);
	}
	lm_text_printf(out, "}\n");
}
