/* /metrics in the Prometheus text exposition format 0.0.4 (metrics.h),
 * rendered on the event loop from the pool, the cluster and the counters.
 *
 * Every server of a triad exports the replicated state (seats, sessions,
 * expiry), so a scrape of any one of them is right; connections, denials
 * and latency are the leader's, which answers the clients.  Queued and
 * borrowed seats are not exported: lmd has no queue or borrowing in effect
 * yet, and a series stuck at 0 would read as "none waiting". */
#include "config.h"

#include "lmd/metrics.h"

#include <stdlib.h>

#include "core/date.h"
#include "lmd/server.h"
#include "lmd/walltime.h"

/* The families with one series per pool, in the order they are written. */
enum { ISSUED, IN_USE, RESERVED, RESERVED_IDLE, EXPIRY_DAYS, POOL_FAMILIES };
static const char *const pool_families[POOL_FAMILIES][2] = {
        [ISSUED] = {"lmd_seats_issued", "Seats the license set issues today, per pool."},
        [IN_USE] = {"lmd_seats_in_use", "Seats held, per pool."},
        [RESERVED] = {"lmd_seats_reserved",
                      "Seats set aside by RESERVE rules of the options in force, per pool."},
        [RESERVED_IDLE] = {"lmd_seats_reserved_idle",
                           "Reserved seats no holder they are reserved for uses: free, but "
                           "not to others (lmstat's reserved), per pool."},
        [EXPIRY_DAYS] = {"lmd_license_expiry_days",
                         "Days from today (UTC) to the latest expiry of the pool's license "
                         "lines; permanent licenses have no series."},
};

/* One walk of the pools fills every family's series, joined after. */
struct pool_walk {
	struct lm_text series[POOL_FAMILIES];
	struct lm_pool *pool;
	int32_t today;
	bool failed;
};

static void series(struct pool_walk *w, int family, const struct lm_pool_feature *f, long value)
{
	struct lm_text *out = &w->series[family];
	lm_text_printf(out, "%s{feature=", pool_families[family][0]);
	lm_text_label(out, f->name);
	lm_text_printf(out, ",version=");
	lm_text_label(out, f->version);
	lm_text_printf(out, "} %ld\n", value);
}

static int pool_series(void *arg, const struct lm_pool_feature *f)
{
	struct pool_walk *w = arg;
	series(w, ISSUED, f, (long)f->issued);
	series(w, IN_USE, f, (long)f->in_use);
	uint32_t reserved, idle;
	if (lm_metrics_reserved(w->pool, f, &reserved, &idle) != 0) {
		w->failed = true;
		return 1;
	}
	series(w, RESERVED, f, (long)reserved);
	series(w, RESERVED_IDLE, f, (long)idle);
	/* Only dated licenses expire; a pool kept only by held seats (its
	 * lines gone) has no date. */
	if (f->expiry != LM_DATE_PERMANENT && f->expiry != LM_DATE_NONE)
		series(w, EXPIRY_DAYS, f, (long)f->expiry - (long)w->today);
	return 0;
}

int lm_metrics_reserved(struct lm_pool *p, const struct lm_pool_feature *f, uint32_t *set_aside,
                        uint32_t *idle)
{
	struct lm_opt_reservation *res;
	size_t n;
	*set_aside = *idle = 0;
	int rc = lm_pool_policy_reservations(p, f->name, f->version, f->issued, &res, &n);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		*set_aside += res[i].seats;
		*idle += res[i].idle;
	}
	free(res);
	return 0;
}

static void family(struct lm_text *out, const char *name, const char *type, const char *help)
{
	lm_text_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void pools(struct lm_server *s, struct lm_text *out)
{
	struct pool_walk w = {.pool = s->pool,
	                      .today = (int32_t)(lm_walltime_us() / 86400000000LL)};
	lm_pool_each_feature(s->pool, w.today, pool_series, NULL, &w);
	if (w.failed)
		out->oom = true;
	for (int i = 0; i < POOL_FAMILIES; i++) {
		family(out, pool_families[i][0], "gauge", pool_families[i][1]);
		if (w.series[i].oom)
			out->oom = true;
		else if (w.series[i].data)
			lm_text_printf(out, "%s", w.series[i].data);
		lm_text_free(&w.series[i]);
	}
}

static int count_session(void *arg, const struct lm_pool_session *ps)
{
	(*(uint64_t *)arg)++;
	return 0;
}

static void checkouts(const struct lm_metrics *m, struct lm_text *out)
{
	static const double bounds[LM_METRICS_LATENCY_BUCKETS] = LM_METRICS_LATENCY_BOUNDS;
	family(out, "lmd_checkouts_total", "counter", "Checkouts granted by this server.");
	lm_text_printf(out, "lmd_checkouts_total %llu\n", (unsigned long long)m->checkouts);
	family(out, "lmd_checkout_denials_total", "counter",
	       "Checkouts the pool refused on this server, by the LMC_E code the client was "
	       "told.");
	for (int code = -1; code >= LMC_ERROR_MIN; code--) {
		/* The two everyday reasons are always present, so that rate()
		 * works from the first denial on. */
		if (!m->denials[-code] && code != LMC_ENOSEATS && code != LMC_EDENIED)
			continue;
		lm_text_printf(out, "lmd_checkout_denials_total{reason=\"%s\"} %llu\n",
		               lmc_errname(code), (unsigned long long)m->denials[-code]);
	}
	family(out, "lmd_checkout_latency_seconds", "histogram",
	       "Checkout requests answered by this server, from the request read to the reply "
	       "sent (the command committed).");
	for (int i = 0; i < LM_METRICS_LATENCY_BUCKETS; i++)
		lm_text_printf(out, "lmd_checkout_latency_seconds_bucket{le=\"%g\"} %llu\n",
		               bounds[i], (unsigned long long)m->latency_buckets[i]);
	lm_text_printf(out,
	               "lmd_checkout_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
	               "lmd_checkout_latency_seconds_sum %.6f\n"
	               "lmd_checkout_latency_seconds_count %llu\n",
	               (unsigned long long)m->latency_buckets[LM_METRICS_LATENCY_BUCKETS],
	               m->latency_sum_s, (unsigned long long)m->latency_count);
}

static void raft(struct lm_server *s, struct lm_text *out)
{
	static const int roles[] = {LM_CLUSTER_LEADER, LM_CLUSTER_FOLLOWER, LM_CLUSTER_CANDIDATE,
	                            LM_CLUSTER_UNAVAILABLE};
	struct lm_cluster_status st;
	lm_server_cluster_status(s, &st);
	family(out, "lmd_raft_role", "gauge", "1 for this server's raft role, 0 for the others.");
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		lm_text_printf(out, "lmd_raft_role{role=\"%s\"} %d\n",
		               lm_cluster_role_name(roles[i]), st.role == roles[i]);
	family(out, "lmd_serving", "gauge",
	       "1 when this server answers checkouts (the leader, its barrier applied).");
	lm_text_printf(out, "lmd_serving %d\n", s->ready);
	family(out, "lmd_raft_term", "gauge", "Current raft term.");
	lm_text_printf(out, "lmd_raft_term %llu\n", (unsigned long long)st.term);
	family(out, "lmd_raft_commit_index", "gauge", "Highest log entry known committed.");
	lm_text_printf(out, "lmd_raft_commit_index %llu\n", (unsigned long long)st.commit_index);
	family(out, "lmd_raft_applied_index", "gauge", "Highest log entry applied to the pool.");
	lm_text_printf(out, "lmd_raft_applied_index %llu\n", (unsigned long long)st.applied_index);
	family(out, "lmd_raft_lag", "gauge",
	       "Entries committed but not yet applied here (commit index less applied index).");
	lm_text_printf(out, "lmd_raft_lag %llu\n",
	               (unsigned long long)(st.commit_index > st.applied_index
	                                            ? st.commit_index - st.applied_index
	                                            : 0));
}

void lm_metrics_text(struct lm_server *s, struct lm_text *out)
{
	family(out, "lmd_info", "gauge", "This server: its version, SERVER line and vendor.");
	lm_text_printf(out, "lmd_info{version=\"%s\",node=\"%u\",servers=\"%d\",vendor=",
	               PACKAGE_VERSION, s->node, s->license.nservers);
	lm_text_label(out, s->license.vendor);
	lm_text_printf(out, "} 1\n");
	family(out, "process_start_time_seconds", "gauge",
	       "Start time of the process since the Unix epoch in seconds.");
	lm_text_printf(out, "process_start_time_seconds %lld\n",
	               (long long)(s->metrics.started_unix_ms / 1000));
	pools(s, out);
	uint64_t sessions = 0;
	lm_pool_each_session(s->pool, count_session, &sessions);
	family(out, "lmd_sessions", "gauge", "Client sessions the pool holds.");
	lm_text_printf(out, "lmd_sessions %llu\n", (unsigned long long)sessions);
	family(out, "lmd_connections", "gauge", "Client connections open to this server.");
	lm_text_printf(out, "lmd_connections %u\n", s->nconns);
	if (s->report_log) {
		family(out, "lmd_report_log_errors_total", "counter",
		       "Failures to open, write or rotate the usage report log (lmd "
		       "--report-log).");
		lm_text_printf(out, "lmd_report_log_errors_total %llu\n",
		               (unsigned long long)lm_report_log_errors(s->report_log));
	}
	checkouts(&s->metrics, out);
	raft(s, out);
}
