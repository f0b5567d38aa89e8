/* `lmvendor serve`: the key center online, a JSON API over HTTPS
 * (libmicrohttpd with Debian's GnuTLS).
 *
 *   GET  /v1/ping                   {"ok":true}: the trivial request
 *   POST /v1/activate               an activation request, as `lmutil
 *                                   activate-request` writes it: the
 *                                   document `lmvendor activate --json`
 *                                   prints, the signed license in "license"
 *   POST /v1/return                 {"auth","locks":[...],"count"}: what
 *                                   `authcode return` does; or a return
 *                                   request of `lmutil deactivate`, its
 *                                   proof checked (kc_deactivate)  (token)
 *   POST /v1/renewed                {"auth","locks":[...]}: the license
 *                                   last issued to that host from the
 *                                   code, as `lmvendor renew` re-issued
 *                                   it                             (token)
 *   POST /v1/members/request        {"site","email","name"}: a person asks
 *                                   to join a site (no token; --request-rate
 *                                   a minute per address and per site)
 *   POST /v1/members/approve        {"site","email","rights"}: a site
 *                                   admin's token (one bound to an active
 *                                   admin member) or the vendor's lets a
 *                                   pending member in              (token)
 *   GET  /v1/codes/CODE             a code's quantity and returns (token)
 *   GET  /v1/sites/S/inventory      what `inventory --json` prints (token)
 *
 * Activation is self-service: the authorization code is the credential
 * (it is what the vendor hands the customer), so no token is needed; a
 * token that is given must be valid, and a customer's must be of the
 * code's site.  Everything else needs "Authorization: Bearer TOKEN": a
 * vendor token sees every site, a customer token its own (403 otherwise);
 * no token, or one the store does not know, is 401.
 *
 * A failure answers {"error":{"code":"LMC_E...","number":N,"message":...}},
 * the stable code of core/error.h and the sentence the command would have
 * said, with an HTTP status by kind (http_status).  A body over
 * SERVE_BODY_MAX is 413, a body that is not JSON 400 LMC_ESYNTAX, and
 * neither reaches the store.  A client over its rate is 429 with
 * Retry-After, and so is a request naming an authorization code that has
 * been named more than --code-rate times in the last minute, whoever asks:
 * a code is a credential, and guessing at one (or hammering a leaked one)
 * from many addresses must not go faster than from one.  Every request,
 * answered or refused, is one audit entry, written in the same commit as
 * the request's own work (lm_kc_hold): one fsync a request.
 *
 * The server answers one request at a time, in libmicrohttpd's one
 * internal thread: LMDB admits one writer at a time anyway, signing takes
 * microseconds, and the commands' reporting (tools/report.h) is the
 * process's.  Slow clients cost no more than a socket: libmicrohttpd reads
 * and writes without blocking, and drops a connection idle for
 * SERVE_IDLE_SECONDS. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/json.h"
#include "tools/lmutil_activate_proof.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/lmvendor_serve.h"
#include "tools/report.h"

#define SERVE_IDLE_SECONDS 15
#define SERVE_CONNECTIONS  512
#define PEM_MAX            (1 << 20)
/* The default rates, a minute: per client (token or address), and per
 * authorization code (a customer activating a dozen machines by script
 * stays well under it). */
#define SERVE_RATE_DEFAULT      120
#define SERVE_CODE_RATE_DEFAULT 60
/* Access requests a minute, per address and per site: a person asks once;
 * a site admin is not to be flooded with requests. */
#define SERVE_REQUEST_RATE_DEFAULT 10

struct serve {
	struct lm_kc kc;
	EVP_PKEY *key;
	struct serve_limit *limit;
	struct serve_limit *code_limit;    /* per authorization code */
	struct serve_limit *request_limit; /* access requests, per address and site */
	int rehost_limit;
};

/* One request, while its body arrives. */
struct request {
	char *body;
	size_t len;
	bool too_large;
};

/* An answer: status, the document, and who to blame in the audit. */
struct answer {
	unsigned status;
	json_t *doc;
	unsigned retry_after; /* 429's Retry-After, seconds */
	const char *outcome;  /* "ok" or the LMC_E* name */
	char message[512];
	char auth[64]; /* the code asked about, for the audit */
	char site[64]; /* the site concerned, for the audit */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The HTTP status of a command's failure code. */
static unsigned http_status(int code)
{
	switch (code) {
	case LMC_ESYNTAX:
	case LMC_EINVAL:
	case LMC_EBADCODE: return MHD_HTTP_BAD_REQUEST;
	case LMC_EDENIED: return MHD_HTTP_FORBIDDEN;
	case LMC_ENOSEATS:
	case LMC_EEXPIRED:
	case LMC_ELIMIT: return MHD_HTTP_CONFLICT;
	case LMC_ETOOLARGE: return MHD_HTTP_CONTENT_TOO_LARGE;
	default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

__attribute__((format(printf, 4, 5))) static void fail(struct answer *a, unsigned status, int code,
                                                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof a->message, fmt, ap);
	va_end(ap);
	a->status = status;
	a->outcome = lmc_errname(code);
	json_decref(a->doc);
	a->doc = lm_json_object();
	lm_json_set(a->doc, "error", lm_json_error(code, a->message));
}

/* A command refused or failed: its kept sentence and code. */
static void fail_reported(struct answer *a)
{
	int code;
	const char *sentence = lm_report_last(&code);
	if (!code)
		code = LMC_EIO, sentence = "the request failed";
	fail(a, http_status(code), code, "%s", sentence);
}

static void ok(struct answer *a, json_t *doc)
{
	a->status = MHD_HTTP_OK;
	a->outcome = "ok";
	a->doc = doc;
}

/* ---- the routes ------------------------------------------------------ */

static json_t *parse_body(struct answer *a, const struct request *r)
{
	json_error_t jerr;
	json_t *doc = r->len ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!doc || !json_is_object(doc)) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_ESYNTAX, "the body is not a JSON object%s%s",
		     doc ? "" : ": ", doc ? "" : jerr.text);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* The site of code (normalised into a->auth): 0, or 1 with a failed. */
static int code_site(struct serve *s, struct answer *a, const char *code)
{
	char key[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL;
	if (lm_kc_key(key, sizeof key, "code/%s", code) != 0) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_EBADCODE, "the authorization code is too long");
		return 1;
	}
	int rc = lm_kc_begin(&s->kc, false);
	if (rc == 0)
		rc = lm_kc_get(&s->kc, key, &rec);
	lm_kc_abort(&s->kc);
	if (rc == LM_KC_NOTFOUND) {
		fail(a, MHD_HTTP_NOT_FOUND, LMC_EBADCODE, "authorization code %s is unknown", code);
		return 1;
	}
	if (rc) {
		fail(a, MHD_HTTP_INTERNAL_SERVER_ERROR, rc, "%s", s->kc.error);
		return 1;
	}
	snprintf(a->site, sizeof a->site, "%s",
	         json_string_value(json_object_get(rec, "site")) ?: "");
	json_decref(rec);
	return 0;
}

/* A customer may act on its own site only. */
static int check_site(struct answer *a, const struct serve_caller *who)
{
	if (who->role && !strcmp(who->role, "customer") && strcmp(who->site, a->site) != 0) {
		fail(a, MHD_HTTP_FORBIDDEN, LMC_EDENIED,
		     "this token belongs to site %s; it cannot see site %s", who->site, a->site);
		return 1;
	}
	return 0;
}

static int need_token(struct answer *a, const struct serve_caller *who)
{
	if (who->role)
		return 0;
	fail(a, MHD_HTTP_UNAUTHORIZED, LMC_EDENIED,
	     "this request needs a token: Authorization: Bearer TOKEN (lmvendor token create)");
	return 1;
}

/* Takes one try of the code in a->auth: 0, or 1 with a failed (429). */
static int code_limited(struct serve *s, struct answer *a)
{
	char client[80];
	snprintf(client, sizeof client, "code:%s", a->auth);
	unsigned wait = serve_limit_take(s->code_limit, client, now_ms());
	if (!wait)
		return 0;
	fail(a, MHD_HTTP_TOO_MANY_REQUESTS, LMC_ELIMIT,
	     "authorization code %s was tried too often: try again in %u second%s", a->auth, wait,
	     wait == 1 ? "" : "s");
	a->retry_after = wait;
	return 1;
}

/* The authorization code of field (normalised into a->auth): 0, or 1
 * with a failed. */
static int auth_of(struct serve *s, struct answer *a, json_t *req)
{
	const char *text = json_string_value(json_object_get(req, "auth"));
	if (!text) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_ESYNTAX, "the request has no \"auth\" text");
		return 1;
	}
	if (kc_parse_auth(text, a->auth, sizeof a->auth) != 0) {
		fail_reported(a);
		return 1;
	}
	return code_limited(s, a);
}

static void route_activate(struct serve *s, struct answer *a, const struct serve_caller *who,
                           const struct request *r)
{
	json_t *req = parse_body(a, r), *doc = NULL;
	if (!req || auth_of(s, a, req) != 0 || code_site(s, a, a->auth) != 0 ||
	    check_site(a, who) != 0) {
		json_decref(req);
		return;
	}
	if (kc_activate_request(&s->kc, req, s->key, &doc) != 0)
		fail_reported(a);
	else
		ok(a, doc);
	json_decref(req);
}

static void route_return(struct serve *s, struct answer *a, const struct serve_caller *who,
                         const struct request *r)
{
	if (need_token(a, who) != 0)
		return;
	json_t *req = parse_body(a, r), *doc = NULL;
	/* A customer's proved return, as lmutil deactivate sends it: the
	 * token's site must be the request's. */
	if (req &&
	    !strcmp(json_string_value(json_object_get(req, "format")) ?: "", LM_RETURN_FORMAT)) {
		snprintf(a->site, sizeof a->site, "%.63s",
		         json_string_value(json_object_get(req, "site")) ?: "");
		if (check_site(a, who) == 0) {
			if (kc_deactivate(&s->kc, req, s->rehost_limit, &doc) != 0)
				fail_reported(a);
			else
				ok(a, doc);
		}
		json_decref(req);
		return;
	}
	if (!req || auth_of(s, a, req) != 0 || code_site(s, a, a->auth) != 0 ||
	    check_site(a, who) != 0) {
		json_decref(req);
		return;
	}
	json_t *locks = json_object_get(req, "locks"), *count = json_object_get(req, "count");
	const char *texts[3];
	size_t i, n = json_array_size(locks);
	json_t *v;
	bool valid = json_is_array(locks) && (n == 1 || n == 3) &&
	             (!count || (json_is_integer(count) && json_integer_value(count) >= 0 &&
	                         json_integer_value(count) <= KC_QUANTITY_MAX));
	json_array_foreach(locks, i, v)
	{
		if (i < 3 && json_is_string(v))
			texts[i] = json_string_value(v);
		else
			valid = false;
	}
	if (!valid)
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_ESYNTAX,
		     "a return names \"auth\", \"locks\" (one lock code, or three) and may give "
		     "\"count\"");
	else if (kc_return(&s->kc, a->auth, texts, (int)n, (long)json_integer_value(count),
	                   s->rehost_limit, &doc) != 0)
		fail_reported(a);
	else
		ok(a, doc);
	json_decref(req);
}

/* The "locks" of a request, one lock code or three, into texts: the
 * count, or 0 with a failed. */
static int locks_of(struct answer *a, json_t *req, const char *texts[3])
{
	json_t *locks = json_object_get(req, "locks"), *v;
	size_t i, n = json_array_size(locks);
	bool valid = json_is_array(locks) && (n == 1 || n == 3);
	json_array_foreach(locks, i, v)
	{
		if (i < 3 && json_is_string(v))
			texts[i] = json_string_value(v);
		else
			valid = false;
	}
	if (!valid) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_ESYNTAX,
		     "\"locks\" is one lock code, or three (a triad's)");
		return 0;
	}
	return (int)n;
}

static void route_renewed(struct serve *s, struct answer *a, const struct serve_caller *who,
                          const struct request *r)
{
	if (need_token(a, who) != 0)
		return;
	json_t *req = parse_body(a, r), *doc = NULL;
	const char *texts[3];
	int n = 0;
	if (req && auth_of(s, a, req) == 0 && code_site(s, a, a->auth) == 0 &&
	    check_site(a, who) == 0 && (n = locks_of(a, req, texts)) > 0) {
		int code = 0;
		if (kc_host_license(&s->kc, a->auth, texts, n, &doc) == 0)
			ok(a, doc);
		else if (lm_report_last(&code), code == LMC_EINVAL)
			fail(a, MHD_HTTP_NOT_FOUND, LMC_EINVAL, "%s", lm_report_last(&code));
		else
			fail_reported(a);
	}
	json_decref(req);
}

static void route_code(struct serve *s, struct answer *a, const struct serve_caller *who,
                       const char *text)
{
	if (need_token(a, who) != 0)
		return;
	if (kc_parse_auth(text, a->auth, sizeof a->auth) != 0) {
		fail_reported(a);
		return;
	}
	if (code_limited(s, a) != 0 || code_site(s, a, a->auth) != 0 || check_site(a, who) != 0)
		return;
	char key[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL;
	lm_kc_key(key, sizeof key, "code/%s", a->auth);
	int rc = lm_kc_begin(&s->kc, false);
	if (rc == 0)
		rc = lm_kc_get(&s->kc, key, &rec);
	lm_kc_abort(&s->kc);
	if (rc) {
		fail(a, MHD_HTTP_INTERNAL_SERVER_ERROR, rc < 0 ? rc : LMC_EIO, "%s", s->kc.error);
		return;
	}
	json_t *doc = lm_json_object();
	const char *fields[] = {"site",      "entitlement", "quantity",
	                        "remaining", "comment",     "returns"};
	lm_json_set(doc, "auth", lm_json_text(a->auth));
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		lm_json_set(doc, fields[i],
		            json_incref(json_object_get(rec, fields[i]) ?: json_null()));
	lm_json_set(doc, "rehost_limit", lm_json_int(s->rehost_limit));
	json_decref(rec);
	ok(a, doc);
}

static void route_inventory(struct serve *s, struct answer *a, const struct serve_caller *who,
                            const char *site)
{
	if (need_token(a, who) != 0)
		return;
	if (strlen(site) >= sizeof a->site || kc_check_number("the site", site) != 0) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_EINVAL, "'%.40s' is not a site number", site);
		return;
	}
	snprintf(a->site, sizeof a->site, "%s", site);
	if (check_site(a, who) != 0)
		return;
	json_t *doc = NULL;
	if (kc_inventory(&s->kc, site, LM_DATE_NONE, &doc) != 0) {
		int code;
		lm_report_last(&code);
		if (code == LMC_EINVAL)
			fail(a, MHD_HTTP_NOT_FOUND, LMC_EINVAL, "no site %s", site);
		else
			fail_reported(a);
		return;
	}
	ok(a, doc);
}

/* The "site" of a member route's body, checked and known to the store,
 * into a->site: 0, or 1 with a failed (404 for a site the store does not
 * know). */
static int member_site(struct serve *s, struct answer *a, json_t *req)
{
	const char *site = json_string_value(json_object_get(req, "site"));
	if (!site || strlen(site) >= sizeof a->site || kc_check_number("the site", site) != 0) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_EINVAL, "\"site\" is not a site number");
		return 1;
	}
	snprintf(a->site, sizeof a->site, "%s", site);
	char key[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL;
	int rc = lm_kc_key(key, sizeof key, "site/%s", site);
	if (rc == 0 && (rc = lm_kc_begin(&s->kc, false)) == 0)
		rc = lm_kc_get(&s->kc, key, &rec);
	lm_kc_abort(&s->kc);
	json_decref(rec);
	if (rc == LM_KC_NOTFOUND)
		fail(a, MHD_HTTP_NOT_FOUND, LMC_EINVAL, "no site %s", site);
	else if (rc)
		fail(a, MHD_HTTP_INTERNAL_SERVER_ERROR, rc < 0 ? rc : LMC_EIO, "%s", s->kc.error);
	return rc != 0;
}

/* A member route's optional text field: 0 with *out (NULL when absent),
 * or 1 with a failed. */
static int member_text(struct answer *a, json_t *req, const char *field, const char **out)
{
	json_t *v = json_object_get(req, field);
	*out = json_string_value(v);
	if (!v || json_is_null(v) || *out)
		return 0;
	fail(a, MHD_HTTP_BAD_REQUEST, LMC_ESYNTAX, "\"%s\" is not text", field);
	return 1;
}

/* POST /v1/members/request: anyone may ask to join a site; the answer
 * says the request waits for a site admin. */
static void route_member_request(struct serve *s, struct answer *a, const char *ip,
                                 const struct request *r)
{
	json_t *req = parse_body(a, r), *doc = NULL;
	const char *email = NULL, *name = NULL;
	char client[128];
	unsigned wait = 0;
	/* Per address (before the site is looked up: guessing at site
	 * numbers counts) and per site: neither one sender nor many may
	 * flood a site's admins with requests. */
	snprintf(client, sizeof client, "request-ip:%s", ip);
	wait = serve_limit_take(s->request_limit, client, now_ms());
	if (!wait && (!req || member_text(a, req, "email", &email) != 0 ||
	              member_text(a, req, "name", &name) != 0 || member_site(s, a, req) != 0))
		goto done;
	snprintf(client, sizeof client, "request-site:%s", a->site);
	if (!wait)
		wait = serve_limit_take(s->request_limit, client, now_ms());
	if (wait) {
		fail(a, MHD_HTTP_TOO_MANY_REQUESTS, LMC_ELIMIT,
		     "too many access requests: try again in %u second%s", wait,
		     wait == 1 ? "" : "s");
		a->retry_after = wait;
		goto done;
	}
	if (!email) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_ESYNTAX,
		     "an access request names \"site\", \"email\" and may give \"name\"");
		goto done;
	}
	if (kc_check_email("\"email\"", email) != 0 ||
	    (name && kc_check_text("\"name\"", name, KC_TEXT_MAX) != 0) ||
	    kc_member_change(&s->kc, "request", a->site, email, name, NULL, NULL, &doc) != 0)
		fail_reported(a);
	else
		ok(a, doc);
done:
	json_decref(req);
}

/* POST /v1/members/approve: the vendor, or an active admin of the site
 * (the member the customer token is bound to), lets a pending member in. */
static void route_member_approve(struct serve *s, struct answer *a, const struct serve_caller *who,
                                 const struct request *r)
{
	if (need_token(a, who) != 0)
		return;
	json_t *req = parse_body(a, r), *doc = NULL;
	const char *email = NULL, *rights = NULL;
	if (!req || member_text(a, req, "email", &email) != 0 ||
	    member_text(a, req, "rights", &rights) != 0)
		goto done;
	/* Another site's token learns nothing, not even whether the site is
	 * known. */
	const char *site = json_string_value(json_object_get(req, "site"));
	if (site && strlen(site) < sizeof a->site) {
		snprintf(a->site, sizeof a->site, "%s", site);
		if (check_site(a, who) != 0)
			goto done;
	}
	if (member_site(s, a, req) != 0)
		goto done;
	bool vendor = !strcmp(who->role, "vendor");
	if (!vendor && !who->member[0]) {
		fail(a, MHD_HTTP_FORBIDDEN, LMC_EDENIED,
		     "this token is not bound to a member of site %s: only a site admin's token "
		     "(token create --member ADMIN) approves access",
		     a->site);
		goto done;
	}
	if (!email) {
		fail(a, MHD_HTTP_BAD_REQUEST, LMC_ESYNTAX,
		     "an approval names \"site\", \"email\" and may give \"rights\"");
		goto done;
	}
	if (kc_check_email("\"email\"", email) != 0 || (rights && kc_check_rights(rights) != 0) ||
	    kc_member_change(&s->kc, "approve", a->site, email, NULL, rights,
	                     vendor ? NULL : who->member, &doc) != 0)
		fail_reported(a);
	else
		ok(a, doc);
done:
	json_decref(req);
}

static void route(struct serve *s, struct answer *a, const struct serve_caller *who, const char *ip,
                  const char *method, const char *url, const struct request *r)
{
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	const char *rest;
	if (!strcmp(url, "/v1/ping")) {
		if (get)
			ok(a, json_pack("{sb}", "ok", 1));
	} else if (!strcmp(url, "/v1/activate")) {
		if (post)
			route_activate(s, a, who, r);
	} else if (!strcmp(url, "/v1/return")) {
		if (post)
			route_return(s, a, who, r);
	} else if (!strcmp(url, "/v1/members/request")) {
		if (post)
			route_member_request(s, a, ip, r);
	} else if (!strcmp(url, "/v1/members/approve")) {
		if (post)
			route_member_approve(s, a, who, r);
	} else if (!strcmp(url, "/v1/renewed")) {
		if (post)
			route_renewed(s, a, who, r);
	} else if (!strncmp(url, "/v1/codes/", 10) && !strchr(url + 10, '/')) {
		if (get)
			route_code(s, a, who, url + 10);
	} else if (!strncmp(url, "/v1/sites/", 10) && (rest = strchr(url + 10, '/')) &&
	           !strcmp(rest, "/inventory")) {
		char site[64];
		snprintf(site, sizeof site, "%.*s", (int)(rest - url - 10), url + 10);
		if (get)
			route_inventory(s, a, who, site);
	} else {
		fail(a, MHD_HTTP_NOT_FOUND, LMC_EINVAL, "no such endpoint: %.100s", url);
		return;
	}
	if (!a->status)
		fail(a, MHD_HTTP_METHOD_NOT_ALLOWED, LMC_EINVAL, "%.100s does not take %s", url,
		     method);
}

/* ---- libmicrohttpd --------------------------------------------------- */

static void client_address(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *info =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, size, "?");
	if (!info || !info->client_addr)
		return;
	const struct sockaddr *sa = info->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		          (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		          (socklen_t)size);
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, struct answer *a)
{
	char *text = json_dumps(a->doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		lm_json_out_of_memory();
	size_t len = strlen(text);
	text[len] = '\0';
	struct MHD_Response *res =
	        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!res) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(res, "Content-Type", "application/json");
	MHD_add_response_header(res, "Cache-Control", "no-store");
	char retry[16];
	if (a->status == MHD_HTTP_TOO_MANY_REQUESTS) {
		snprintf(retry, sizeof retry, "%u", a->retry_after);
		MHD_add_response_header(res, "Retry-After", retry);
	}
	if (a->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(res, "WWW-Authenticate", "Bearer realm=\"lmvendor\"");
	enum MHD_Result ret = MHD_queue_response(conn, a->status, res);
	MHD_destroy_response(res);
	return ret;
}

static void audit(struct serve *s, const char *ip, const struct serve_caller *who,
                  const char *method, const char *url, const struct answer *a)
{
	char whom[256];
	if (who->role && !strcmp(who->role, "customer"))
		snprintf(whom, sizeof whom, "customer:%s:%s", who->site, who->id);
	else if (who->role)
		snprintf(whom, sizeof whom, "vendor:%s", who->id);
	else
		snprintf(whom, sizeof whom, "anonymous");
	json_t *e = lm_json_object();
	lm_json_set(e, "ip", lm_json_text(ip));
	lm_json_set(e, "who", lm_json_text(whom));
	lm_json_set(e, "token_name", lm_json_text_or_null(who->name));
	lm_json_set(e, "method", lm_json_text(method));
	lm_json_set(e, "path", lm_json_text(url));
	lm_json_set(e, "status", lm_json_int(a->status));
	lm_json_set(e, "outcome", lm_json_text(a->outcome ? a->outcome : "?"));
	lm_json_set(e, "message", lm_json_text_or_null(a->message));
	lm_json_set(e, "auth", lm_json_text_or_null(a->auth));
	lm_json_set(e, "site", lm_json_text_or_null(a->site));
	if (serve_audit(&s->kc, e, who) != 0)
		lm_report_say("serve: cannot write the audit entry of %s %s: %s", method, url,
		              s->kc.error);
	json_decref(e);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct serve *s = cls;
	struct request *r = *con_cls;
	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return MHD_NO;
		*con_cls = r;
		/* A body announced too large is refused before it is read. */
		const char *length =
		        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (length && strtoull(length, NULL, 10) > SERVE_BODY_MAX)
			r->too_large = true;
		else
			return MHD_YES;
	} else if (*upload_data_size) {
		if (!r->too_large && r->len + *upload_data_size <= SERVE_BODY_MAX) {
			char *grown = realloc(r->body, r->len + *upload_data_size + 1);
			if (!grown)
				return MHD_NO;
			memcpy(grown + r->len, upload_data, *upload_data_size);
			r->body = grown;
			r->len += *upload_data_size;
		} else {
			r->too_large = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	struct answer a = {0};
	struct serve_caller who = {0};
	char ip[INET6_ADDRSTRLEN + 1];
	client_address(conn, ip, sizeof ip);
	lm_report_forget();
	/* The request's work and its audit entry are one commit: what a
	 * command commits waits in the held transaction for the audit entry,
	 * and a refusal (its work dropped) still leaves its entry. */
	bool held = lm_kc_hold(&s->kc) == 0;
	if (!held)
		lm_report_say("serve: %s", s->kc.error);
	const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	int rc = 0;
	if (authz && strncmp(authz, "Bearer ", 7) == 0) {
		rc = serve_token_find(&s->kc, authz + 7, &who);
		if (rc == LM_KC_NOTFOUND)
			fail(&a, MHD_HTTP_UNAUTHORIZED, LMC_EDENIED,
			     "the token is not valid: unknown, revoked or mistyped");
		else if (rc)
			fail(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, rc, "%s", s->kc.error);
	} else if (authz) {
		fail(&a, MHD_HTTP_UNAUTHORIZED, LMC_EDENIED,
		     "the Authorization header is not \"Bearer TOKEN\"");
	}
	/* Refused tokens count against their address too: guessing tokens
	 * is rate-limited like everything else. */
	{
		unsigned wait = serve_limit_take(s->limit, who.role ? who.id : ip, now_ms());
		if (wait) {
			fail(&a, MHD_HTTP_TOO_MANY_REQUESTS, LMC_ELIMIT,
			     "too many requests: try again in %u second%s", wait,
			     wait == 1 ? "" : "s");
			a.retry_after = wait;
		}
	}
	if (!a.status && r->too_large)
		fail(&a, MHD_HTTP_CONTENT_TOO_LARGE, LMC_ETOOLARGE,
		     "the body is larger than %d bytes", SERVE_BODY_MAX);
	if (!a.status)
		route(s, &a, &who, ip, method, url, r);
	if (who.role && !strcmp(who.role, "customer") && !a.site[0])
		snprintf(a.site, sizeof a.site, "%s", who.site);
	audit(s, ip, &who, method, url, &a);
	if (held && lm_kc_release(&s->kc, true) != 0) {
		lm_report_say("serve: %s %s: %s", method, url, s->kc.error);
		if (a.status == MHD_HTTP_OK)
			fail(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, LMC_EIO, "%s", s->kc.error);
	}
	enum MHD_Result ret = send_answer(conn, &a);
	json_decref(a.doc);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	struct request *r = *con_cls;
	if (r)
		free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- starting ----------------------------------------------------------- */

static char *read_pem(const char *path)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		lm_report_fail(LMC_EIO, "serve: cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	char *text = malloc(PEM_MAX + 1);
	size_t n = text ? fread(text, 1, PEM_MAX + 1, in) : 0;
	fclose(in);
	if (!text || n == 0 || n > PEM_MAX || !memmem(text, n, "-----BEGIN", 10)) {
		free(text);
		lm_report_fail(LMC_EINVAL, "serve: %s is not a PEM file", path);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

/* ADDR:PORT (an IPv6 address in brackets) into ss. */
static int parse_listen(const char *text, struct sockaddr_storage *ss, bool *loopback)
{
	char host[128];
	const char *colon = strrchr(text, ':');
	if (!colon || colon == text || (size_t)(colon - text) >= sizeof host)
		return lmvendor_usage_error("--listen '%.60s' is not ADDR:PORT", text);
	snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	                         .ai_socktype = SOCK_STREAM},
	                *ai;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || getaddrinfo(h, colon + 1, &hints, &ai) != 0)
		return lmvendor_usage_error("--listen '%.60s' is not a numeric ADDR:PORT", text);
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		*loopback = (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	else
		*loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

/* libmicrohttpd's complaints (a client that broke off its handshake, say)
 * as lines of the server's log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	lm_report_say("serve: %s", line);
}

static int run(struct serve *s, const char *listen, const char *cert, const char *key, bool plain)
{
	struct sockaddr_storage ss;
	bool loopback = false;
	int rc = parse_listen(listen, &ss, &loopback);
	if (rc)
		return rc;
	if (plain && !loopback)
		return lmvendor_usage_error(
		        "--plain-http is for testing on a loopback address only "
		        "(127.0.0.1, ::1): tokens and codes must not cross a "
		        "network in clear");
	if (!plain && (!cert || !key))
		return lmvendor_usage_error("serve speaks HTTPS: give --cert CERT.pem and --key "
		                            "TLSKEY.pem");
	if (!plain && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		lm_report_fail(LMC_EINVAL, "serve: this libmicrohttpd was built without TLS");
		return 1;
	}
	char *cert_pem = NULL, *key_pem = NULL;
	if (!plain && (!(cert_pem = read_pem(cert)) || !(key_pem = read_pem(key)))) {
		free(cert_pem);
		return 1;
	}
	/* SIGTERM and SIGINT wait for sigwait below: blocked before
	 * libmicrohttpd's thread starts, so that it inherits the mask and the
	 * signal cannot land there instead. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
	                 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (plain ? 0 : MHD_USE_TLS);
	struct MHD_Daemon *d;
	if (plain)
		d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
		                     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_IDLE_SECONDS,
		                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_CONNECTIONS,
		                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
		                     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		                     MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
		                     key_pem, MHD_OPTION_CONNECTION_TIMEOUT,
		                     (unsigned)SERVE_IDLE_SECONDS, MHD_OPTION_CONNECTION_LIMIT,
		                     (unsigned)SERVE_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED,
		                     on_completed, s, MHD_OPTION_END);
	if (!d) {
		free(cert_pem);
		free(key_pem);
		lm_report_fail(LMC_EIO,
		               "serve: cannot listen on %s (in use, not this machine's address, "
		               "or the certificate and key do not match)",
		               listen);
		return 1;
	}
	fprintf(stderr, "lmvendor: serving the key center %s on %s://%s\n", s->kc.path,
	        plain ? "http" : "https", listen);
	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	MHD_stop_daemon(d);
	free(cert_pem);
	free(key_pem);
	fprintf(stderr, "lmvendor: serve stopped\n");
	return 0;
}

int lmvendor_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"signing-key", required_argument, NULL, 'k'},
	        {"listen", required_argument, NULL, 'l'},
	        {"cert", required_argument, NULL, 'c'},
	        {"key", required_argument, NULL, 't'},
	        {"plain-http", no_argument, NULL, 'p'},
	        {"rate", required_argument, NULL, 'r'},
	        {"code-rate", required_argument, NULL, 'C'},
	        {"rehost-limit", required_argument, NULL, 'R'},
	        {"request-rate", required_argument, NULL, 'Q'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL, *keypath = NULL, *listen = NULL, *cert = NULL, *tls_key = NULL;
	bool plain = false;
	long rate = SERVE_RATE_DEFAULT, code_rate = SERVE_CODE_RATE_DEFAULT,
	     request_rate = SERVE_REQUEST_RATE_DEFAULT;
	struct serve s = {.rehost_limit = KC_REHOSTS_PER_YEAR};
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'k': keypath = optarg; break;
		case 'l': listen = optarg; break;
		case 'c': cert = optarg; break;
		case 't': tls_key = optarg; break;
		case 'p': plain = true; break;
		case 'r':
			if ((rate = kc_parse_count("--rate", optarg, false)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'C':
			if ((code_rate = kc_parse_count("--code-rate", optarg, false)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'R': rc = kc_parse_rehost_limit(optarg, &s.rehost_limit); break;
		case 'Q':
			if ((request_rate = kc_parse_count("--request-rate", optarg, false)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'h': return lmvendor_help("serve");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (!listen || optind != argc)
		return lmvendor_usage_error("serve needs --listen ADDR:PORT, and options only");
	const char *signing = keypath ? keypath : getenv("LMVENDOR_KEY");
	if (!signing || !*signing)
		return lmvendor_usage_error(
		        "serve signs licenses: give --signing-key PRIVATE.pem or "
		        "set LMVENDOR_KEY");
	if ((rc = lmvendor_load_private(signing, &s.key)) != 0)
		return rc;
	if (!(s.limit = serve_limit_new((unsigned)rate)) ||
	    !(s.code_limit = serve_limit_new((unsigned)code_rate)) ||
	    !(s.request_limit = serve_limit_new((unsigned)request_rate))) {
		serve_limit_free(s.limit);
		serve_limit_free(s.code_limit);
		EVP_PKEY_free(s.key);
		lm_report_fail(LMC_ENOMEM, "out of memory");
		return 1;
	}
	if ((rc = kc_open(&s.kc, store, false)) == 0) {
		rc = run(&s, listen, cert, tls_key, plain);
		lm_kc_close(&s.kc);
	}
	serve_limit_free(s.limit);
	serve_limit_free(s.code_limit);
	serve_limit_free(s.request_limit);
	EVP_PKEY_free(s.key);
	return rc;
}
