/* The HTTP server (http.h) and the snapshot it serves.
 *
 * libmicrohttpd runs with its own internal thread: a slow or hostile HTTP
 * client can then never stall the event loop that answers checkouts.  That
 * thread must not read the pool, the cluster or the counters, which only
 * the loop may touch (DESIGN.md §2.4: one event loop, no locks on the hot
 * path), so the loop renders the texts and publishes them here, under a
 * mutex, as an immutable snapshot that the HTTP thread copies out.
 *
 * The snapshot is rendered on demand (uv_async) rather than by a timer:
 * rendering walks every feature and holder, and a server nobody watches
 * (the default, even with --http) should pay nothing for it.  A request
 * that finds the snapshot older than LM_HTTP_FRESH_MS wakes the loop and
 * waits (at most LM_HTTP_WAIT_MS) for the next one, so however many
 * scrapers and dashboards poll, the loop renders at most once per period,
 * and each answer is at most that old. */
#include "config.h"

#include "lmd/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <uv.h>

#include "lmd/http_usage.h"
#include "lmd/server.h"
#include "lmd/walltime.h"

struct lm_http {
	struct lm_server *s;
	struct MHD_Daemon *mhd;
	uv_async_t wake;            /* the HTTP thread asks the loop for a snapshot */
	uv_timer_t sampler;         /* fills usage, on the loop */
	struct lm_http_usage usage; /* the loop's only */
	int open_handles;           /* wake and sampler, until closed */

	pthread_mutex_t lock;
	pthread_cond_t published; /* a new generation, or closing */
	/* Under lock: the snapshot (NULL until the first) and its state. */
	char *metrics, *json;
	size_t metrics_len, json_len;
	uint64_t taken_ms; /* uv_hrtime() in ms when rendered */
	uint64_t generation;
	bool wanted;  /* a wake is on its way to the loop */
	bool closing; /* no more waiting, no more wakes */
};

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* ---- on the event loop ---- */

static void on_wake(uv_async_t *a)
{
	struct lm_http *h = a->data;
	struct lm_text metrics = {0}, json = {0};
	int64_t now_us = lm_walltime_us();
	lm_http_usage_sample(&h->usage, h->s->pool, now_us);
	lm_metrics_text(h->s, &metrics);
	lm_http_status_json(h->s, &h->usage, &json);

	char *old_metrics = NULL, *old_json = NULL;
	pthread_mutex_lock(&h->lock);
	/* Out of memory: the last snapshot stays, and the waiting requests
	 * are served it when their wait ends. */
	if (!metrics.oom && !json.oom && metrics.data && json.data) {
		old_metrics = h->metrics;
		old_json = h->json;
		h->metrics = lm_text_take(&metrics, &h->metrics_len);
		h->json = lm_text_take(&json, &h->json_len);
		h->taken_ms = now_ms();
		h->generation++;
	}
	h->wanted = false;
	pthread_cond_broadcast(&h->published);
	pthread_mutex_unlock(&h->lock);
	free(old_metrics);
	free(old_json);
	lm_text_free(&metrics);
	lm_text_free(&json);
}

static void on_sample(uv_timer_t *t)
{
	struct lm_http *h = t->data;
	lm_http_usage_sample(&h->usage, h->s->pool, lm_walltime_us());
}

/* ---- on the HTTP thread ---- */

/* With h->lock held: makes the snapshot at most LM_HTTP_FRESH_MS old, unless
 * the loop takes longer than LM_HTTP_WAIT_MS to render one. */
static void wait_fresh(struct lm_http *h)
{
	if (h->closing || (h->generation && now_ms() - h->taken_ms < LM_HTTP_FRESH_MS))
		return;
	uint64_t generation = h->generation;
	if (!h->wanted) {
		h->wanted = true;
		uv_async_send(&h->wake);
	}
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += LM_HTTP_WAIT_MS / 1000;
	deadline.tv_nsec += (LM_HTTP_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (h->generation == generation && !h->closing)
		if (pthread_cond_timedwait(&h->published, &h->lock, &deadline) == ETIMEDOUT)
			break;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type,
                               struct MHD_Response *r)
{
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* The page runs its own inline script and talks to this server only:
	 * nothing from elsewhere (sites are often air-gapped anyway). */
	MHD_add_response_header(r, "Content-Security-Policy",
	                        "default-src 'none'; script-src 'unsafe-inline'; "
	                        "style-src 'unsafe-inline'; connect-src 'self'; img-src data:");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return respond(conn, status, "text/plain; charset=utf-8",
	               MHD_create_response_from_buffer(strlen(text), (void *)text,
	                                               MHD_RESPMEM_PERSISTENT));
}

static enum MHD_Result send_snapshot(struct lm_http *h, struct MHD_Connection *conn, bool metrics)
{
	pthread_mutex_lock(&h->lock);
	wait_fresh(h);
	const char *body = metrics ? h->metrics : h->json;
	size_t len = metrics ? h->metrics_len : h->json_len;
	struct MHD_Response *r =
	        body ? MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY)
	             : NULL;
	pthread_mutex_unlock(&h->lock);
	if (!body)
		return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 "the server is busy or stopping: try again\n");
	return respond(conn, MHD_HTTP_OK,
	               metrics ? "text/plain; version=0.0.4; charset=utf-8" : "application/json",
	               r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state)
{
	struct lm_http *h = cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		                 "lmd's HTTP server is read-only: GET only\n");
	if (strcmp(url, "/") == 0)
		return respond(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
		               MHD_create_response_from_buffer(strlen(lm_http_dashboard),
		                                               (void *)lm_http_dashboard,
		                                               MHD_RESPMEM_PERSISTENT));
	if (strcmp(url, "/metrics") == 0)
		return send_snapshot(h, conn, true);
	if (strcmp(url, "/status.json") == 0)
		return send_snapshot(h, conn, false);
	return send_text(conn, MHD_HTTP_NOT_FOUND,
	                 "not found: lmd serves /, /status.json and /metrics\n");
}

/* ---- start and stop ---- */

int lm_http_start(struct lm_http **out, struct lm_server *s, char *err, size_t errsize)
{
	const struct lm_config *cfg = &s->cfg;
	struct sockaddr_storage addr;
	bool v6 = false;
	if (uv_ip4_addr(cfg->http_host, (int)cfg->http_port, (struct sockaddr_in *)&addr) != 0) {
		if (uv_ip6_addr(cfg->http_host, (int)cfg->http_port,
		                (struct sockaddr_in6 *)&addr) != 0) {
			snprintf(err, errsize, "--http %s: not an IPv4 or IPv6 address",
			         cfg->http_host);
			return -1;
		}
		v6 = true;
	}
	struct lm_http *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	h->s = s;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->published, &attr);
	pthread_condattr_destroy(&attr);
	uv_async_init(s->loop, &h->wake, on_wake);
	h->wake.data = h;
	/* The async handle must not keep the loop alive at stop. */
	uv_unref((uv_handle_t *)&h->wake);
	lm_http_usage_init(&h->usage);
	uv_timer_init(s->loop, &h->sampler);
	h->sampler.data = h;
	uv_unref((uv_handle_t *)&h->sampler);
	h->open_handles = 2;

	errno = 0;
	h->mhd = MHD_start_daemon(
	        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0),
	        (uint16_t)cfg->http_port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
	        (unsigned)LM_HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned)LM_HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
	if (!h->mhd) {
		snprintf(err, errsize, "--http: cannot listen on %s port %u: %s", cfg->http_host,
		         cfg->http_port, errno ? strerror(errno) : "libmicrohttpd failed to start");
		h->closing = true;
		uv_close((uv_handle_t *)&h->wake, NULL);
		uv_close((uv_handle_t *)&h->sampler, NULL);
		/* h is leaked on purpose: the caller ends the process. */
		return -1;
	}
	uv_timer_start(&h->sampler, on_sample, 0, LM_HTTP_USAGE_SAMPLE_MS);
	*out = h;
	return 0;
}

static void on_closed(uv_handle_t *handle)
{
	struct lm_http *h = handle->data;
	if (--h->open_handles > 0)
		return;
	pthread_cond_destroy(&h->published);
	pthread_mutex_destroy(&h->lock);
	free(h->metrics);
	free(h->json);
	free(h);
}

void lm_http_stop(struct lm_http *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->closing = true;
	pthread_cond_broadcast(&h->published);
	pthread_mutex_unlock(&h->lock);
	/* Joins the HTTP thread: a request waiting for a snapshot returns at
	 * once (closing), and none starts after this. */
	MHD_stop_daemon(h->mhd);
	uv_close((uv_handle_t *)&h->wake, on_closed);
	uv_close((uv_handle_t *)&h->sampler, on_closed);
}
