/* `lmd --http [ADDR:]PORT`: a read-only HTTP server (GNU libmicrohttpd) for
 * monitoring: /metrics (Prometheus text, metrics.h), / (the dashboard page,
 * dashboard.html) and /status.json (what the page shows, http_status.c,
 * with the usage chart's minutes of http_usage.h).
 *
 * Threads: libmicrohttpd answers on its own thread and never touches the
 * server; the event loop renders a snapshot of the texts and publishes it
 * under a mutex (http.c says why on demand rather than on a timer). */
#ifndef LM_HTTP_H
#define LM_HTTP_H

#include <stddef.h>

#include "lmd/text.h"

/* A snapshot younger than this is served as it is: scrapers and open
 * dashboards together cost the loop at most one rendering per period. */
#define LM_HTTP_FRESH_MS 1000
/* How long a request waits for the loop to render a fresh snapshot before
 * it is served the last one (the loop is busy: better stale than late). */
#define LM_HTTP_WAIT_MS 2000
/* Holders listed per pool in /status.json; the rest are only counted
 * (more_holders): a page of thousands of rows helps nobody, and the
 * snapshot is copied for every request. */
#define LM_HTTP_HOLDERS_MAX 500
/* HTTP connections at once, and how long an idle one is kept. */
#define LM_HTTP_CONNECTIONS_MAX 32
#define LM_HTTP_IDLE_TIMEOUT_S  10

struct lm_server;
struct lm_http;

/* Listens on s->cfg.http_host port s->cfg.http_port and serves s.  Returns
 * 0, or -1 with a sentence in err (the port is taken...). */
int lm_http_start(struct lm_http **out, struct lm_server *s, char *err, size_t errsize);
/* Stops serving (joins the HTTP thread) and frees h once the loop closed
 * its handle; NULL is a no-op. */
void lm_http_stop(struct lm_http *h);

struct lm_http_usage;
/* The dashboard's data: servers and roles, features with seats and
 * holders, denials, expiry (http_status.c), and the usage chart's points
 * when usage is not NULL.  Appends to out. */
void lm_http_status_json(struct lm_server *s, const struct lm_http_usage *usage,
                         struct lm_text *out);

/* The dashboard page, self-contained (built from lmd/dashboard.html). */
extern const char lm_http_dashboard[];

#endif
