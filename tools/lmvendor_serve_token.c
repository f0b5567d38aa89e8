/* The key center's bearer tokens (`lmvendor token create|list|revoke`) and
 * audit trail
 * (`lmvendor audit`), records of the store described in lmvendor_serve.h.
 *
 * A token is 32 random bytes, printed once as "lmk_" and 64 hex digits;
 * the store keeps its SHA-256 only, so that a copy of the store (a
 * backup, say) lets nobody call the API.  A vendor token may do
 * everything; a customer token is bound to one site and sees that site's
 * codes and inventory only.
 *
 * serve reads a token's record on every request, so that a revoked token
 * is refused from the next request on, without restarting the server. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/lmvendor_serve.h"
#include "tools/report.h"

static void hex(const unsigned char *bytes, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", bytes[i]);
}

/* The record key of token: token/<sha256 hex>. */
static int token_key(const char *token, char *key, size_t size, char id[17])
{
	unsigned char digest[32];
	char digest_hex[65];
	unsigned len = 0;
	if (!EVP_Digest(token, strlen(token), digest, &len, EVP_sha256(), NULL) || len != 32)
		return LMC_ENOMEM;
	hex(digest, 32, digest_hex);
	if (id)
		snprintf(id, 17, "%.16s", digest_hex);
	return lm_kc_key(key, size, "token/%s", digest_hex);
}

int serve_token_find(struct lm_kc *kc, const char *token, struct serve_caller *caller)
{
	char key[LM_KC_KEY_MAX + 1];
	memset(caller, 0, sizeof *caller);
	if (strlen(token) != SERVE_TOKEN_LEN ||
	    strncmp(token, SERVE_TOKEN_PREFIX, strlen(SERVE_TOKEN_PREFIX)) != 0)
		return LM_KC_NOTFOUND;
	int rc = token_key(token, caller->key, sizeof caller->key, caller->id);
	if (rc)
		return lm_kc_fail(kc, rc, "cannot hash a token");
	snprintf(key, sizeof key, "%s", caller->key);
	json_t *rec = NULL;
	if ((rc = lm_kc_begin(kc, false)) != 0)
		return rc;
	rc = lm_kc_get(kc, key, &rec);
	lm_kc_abort(kc);
	if (rc)
		return rc;
	if (json_object_get(rec, "revoked")) {
		json_decref(rec);
		memset(caller, 0, sizeof *caller);
		return LM_KC_NOTFOUND;
	}
	const char *role = json_string_value(json_object_get(rec, "role"));
	const char *site = json_string_value(json_object_get(rec, "site"));
	if (role && !strcmp(role, "vendor"))
		caller->role = "vendor";
	else if (role && !strcmp(role, "customer") && site)
		caller->role = "customer";
	else
		rc = lm_kc_fail(kc, LMC_EIO, "the key-center store %s is corrupted: token %s",
		                kc->path, caller->id);
	snprintf(caller->site, sizeof caller->site, "%s", site ? site : "");
	snprintf(caller->name, sizeof caller->name, "%s",
	         json_string_value(json_object_get(rec, "name")) ?: "");
	snprintf(caller->member, sizeof caller->member, "%s",
	         json_string_value(json_object_get(rec, "member")) ?: "");
	json_decref(rec);
	return rc;
}

/* Notes when the token of key was last used (it may have been revoked
 * since the request began: then it is left as it is). */
static int touch_token(struct lm_kc *kc, const char *key, const char *when)
{
	json_t *rec = NULL;
	int rc = lm_kc_get(kc, key, &rec);
	if (rc == LM_KC_NOTFOUND)
		return 0;
	if (rc == 0) {
		lm_json_set(rec, "last_used", lm_json_text(when));
		rc = lm_kc_put(kc, key, rec);
	}
	json_decref(rec);
	return rc;
}

int serve_audit(struct lm_kc *kc, json_t *entry, const struct serve_caller *caller)
{
	/* Entries of one millisecond keep their order by a counter; the
	 * server answers one request at a time. */
	static uint64_t last_ms;
	static unsigned seq;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	seq = ms == last_ms ? seq + 1 : 0;
	last_ms = ms;
	char key[LM_KC_KEY_MAX + 1], when[32];
	struct tm tm;
	time_t secs = tv.tv_sec;
	gmtime_r(&secs, &tm);
	size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof when - n, ".%03uZ", (unsigned)(ms % 1000));
	lm_kc_key(key, sizeof key, "audit/%015llu/%06u", (unsigned long long)ms, seq);
	json_t *rec = lm_json_object();
	lm_json_set(rec, "time", lm_json_text(when));
	json_object_update(rec, entry);
	int rc = lm_kc_begin(kc, true);
	if (rc == 0 && (rc = lm_kc_put(kc, key, rec)) == 0 && caller && caller->role)
		rc = touch_token(kc, caller->key, when);
	if (rc == 0)
		rc = lm_kc_commit(kc);
	lm_kc_abort(kc);
	json_decref(rec);
	return rc;
}

/* ---- lmvendor token create --------------------------------------------- */

static int create(const char *store, const char *role, const char *site, const char *member,
                  const char *name)
{
	unsigned char secret[32];
	char token[SERVE_TOKEN_LEN + 1], key[LM_KC_KEY_MAX + 1], id[17];
	if (RAND_bytes(secret, sizeof secret) != 1) {
		lm_report_fail(LMC_EKEY, "token create: no random bytes to make a token of");
		return 1;
	}
	strcpy(token, SERVE_TOKEN_PREFIX);
	hex(secret, sizeof secret, token + strlen(SERVE_TOKEN_PREFIX));
	OPENSSL_cleanse(secret, sizeof secret);
	if (token_key(token, key, sizeof key, id) != 0) {
		lm_report_fail(LMC_ENOMEM, "token create: cannot hash the token");
		return 1;
	}
	struct lm_kc kc;
	int rc = kc_open(&kc, store, false);
	if (rc)
		return rc;
	json_t *rec = NULL;
	char site_key[LM_KC_KEY_MAX + 1];
	if ((rc = lm_kc_begin(&kc, true)) != 0)
		goto fail;
	if (site) {
		lm_kc_key(site_key, sizeof site_key, "site/%s", site);
		if ((rc = lm_kc_get(&kc, site_key, &rec)) == LM_KC_NOTFOUND) {
			lm_kc_close(&kc);
			lm_report_fail(LMC_EINVAL, "token create: no site %s; nothing was changed",
			               site);
			return 1;
		}
		json_decref(rec);
		if (rc)
			goto fail;
	}
	if (member && (rc = kc_member_active(&kc, site, member, NULL)) == LM_KC_NOTFOUND) {
		lm_kc_close(&kc);
		lm_report_fail(LMC_EDENIED,
		               "token create: %s is not an active member of site %s (member "
		               "request, then a site admin's member approve); nothing was changed",
		               member, site);
		return 1;
	}
	if (rc)
		goto fail;
	char today[16];
	lm_date_format(kc_today(), today, sizeof today);
	rec = lm_json_object();
	lm_json_set(rec, "id", lm_json_text(id));
	lm_json_set(rec, "role", lm_json_text(role));
	lm_json_set(rec, "site", lm_json_text_or_null(site));
	lm_json_set(rec, "name", lm_json_text_or_null(name ? name : member));
	lm_json_set(rec, "member", lm_json_text_or_null(member));
	lm_json_set(rec, "created", lm_json_text(today));
	rc = lm_kc_put(&kc, key, rec);
	json_decref(rec);
	if (rc || (rc = lm_kc_commit(&kc)) != 0)
		goto fail;
	lm_kc_close(&kc);
	if (lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "token", lm_json_text(token));
		lm_json_set(doc, "id", lm_json_text(id));
		lm_json_set(doc, "role", lm_json_text(role));
		lm_json_set(doc, "site", lm_json_text_or_null(site));
		OPENSSL_cleanse(token, sizeof token);
		return lm_report_print(doc);
	}
	printf("%s\n", token);
	fprintf(stderr,
	        "lmvendor: token %s (%s%s%s) made; it is shown this once, the store keeps "
	        "its hash only\n",
	        id, role, site ? " of site " : "", site ? site : "");
	OPENSSL_cleanse(token, sizeof token);
	return 0;
fail:
	rc = kc_fail(&kc, rc);
	lm_kc_close(&kc);
	return rc;
}

/* ---- lmvendor token list|revoke ------------------------------------------ */

/* What a listing shows of a token: never the secret (the store has none)
 * nor its full hash, which is all the store needs to accept a token. */
static json_t *token_public(json_t *rec)
{
	json_t *t = lm_json_object();
	const char *fields[] = {"id",   "role",    "site",      "member",
	                        "name", "created", "last_used", "revoked"};
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		lm_json_set(t, fields[i],
		            json_incref(json_object_get(rec, fields[i]) ?: json_null()));
	return t;
}

static int collect_token(void *arg, const char *key, json_t *rec)
{
	(void)key;
	lm_json_append(arg, token_public(rec));
	return 0;
}

static int list(const char *store, const char *site)
{
	struct lm_kc kc;
	int rc = kc_open(&kc, store, false);
	if (rc)
		return rc;
	json_t *all = lm_json_array(), *shown = lm_json_array(), *t;
	if ((rc = lm_kc_begin(&kc, false)) == 0)
		rc = lm_kc_scan(&kc, "token/", collect_token, all);
	int status = rc ? kc_fail(&kc, rc) : 0;
	lm_kc_close(&kc);
	size_t i;
	json_array_foreach(all, i, t)
	{
		if (!site || !strcmp(json_string_value(json_object_get(t, "site")) ?: "", site))
			lm_json_append(shown, json_incref(t));
	}
	json_decref(all);
	if (status == 0 && lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "tokens", json_incref(shown));
		status = lm_report_print(doc);
	} else if (status == 0) {
		printf("%-16s %-8s %-10s %-10s %-24s %-10s %s\n", "ID", "ROLE", "SITE", "CREATED",
		       "LAST USED", "REVOKED", "NAME");
		json_array_foreach(shown, i, t)
		{
#define FIELD(name) (json_string_value(json_object_get(t, name)) ?: "-")
			printf("%-16s %-8s %-10s %-10s %-24s %-10s %s\n", FIELD("id"),
			       FIELD("role"), FIELD("site"), FIELD("created"), FIELD("last_used"),
			       FIELD("revoked"), FIELD("name"));
#undef FIELD
		}
	}
	json_decref(shown);
	return status;
}

struct token_search {
	const char *id;
	char key[LM_KC_KEY_MAX + 1];
	json_t *rec;
};

static int find_by_id(void *arg, const char *key, json_t *rec)
{
	struct token_search *search = arg;
	if (strcmp(json_string_value(json_object_get(rec, "id")) ?: "", search->id) != 0)
		return 0;
	snprintf(search->key, sizeof search->key, "%s", key);
	search->rec = json_incref(rec);
	return 1;
}

static int revoke(const char *store, const char *id)
{
	size_t n = strlen(id);
	if (n != 16 || strspn(id, "0123456789abcdef") != n)
		return lmvendor_usage_error("'%.40s' is not a token id (16 hex digits, as "
		                            "token list shows)",
		                            id);
	struct lm_kc kc;
	int rc = kc_open(&kc, store, false);
	if (rc)
		return rc;
	struct token_search search = {.id = id};
	if ((rc = lm_kc_begin(&kc, true)) != 0 ||
	    (rc = lm_kc_scan(&kc, "token/", find_by_id, &search)) < 0)
		goto fail;
	if (!search.rec) {
		lm_kc_close(&kc);
		lm_report_fail(LMC_EINVAL, "token revoke: no token %s; nothing was changed", id);
		return 1;
	}
	bool already = json_object_get(search.rec, "revoked") != NULL;
	if (!already) {
		char today[16];
		lm_date_format(kc_today(), today, sizeof today);
		lm_json_set(search.rec, "revoked", lm_json_text(today));
		if ((rc = lm_kc_put(&kc, search.key, search.rec)) != 0 ||
		    (rc = lm_kc_commit(&kc)) != 0)
			goto fail;
	}
	lm_kc_close(&kc);
	json_t *doc = token_public(search.rec);
	json_decref(search.rec);
	if (lm_report_is_json())
		return lm_report_print(doc);
	printf("token %s %s on %s\n", id, already ? "was already revoked" : "revoked",
	       json_string_value(json_object_get(doc, "revoked")));
	json_decref(doc);
	return 0;
fail:
	json_decref(search.rec);
	rc = kc_fail(&kc, rc);
	lm_kc_close(&kc);
	return rc;
}

int lmvendor_cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},  {"role", required_argument, NULL, 'r'},
	        {"site", required_argument, NULL, 'S'},   {"name", required_argument, NULL, 'n'},
	        {"member", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},         {0},
	};
	const char *store = NULL, *role = NULL, *site = NULL, *name = NULL, *member = NULL;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'r': role = optarg; break;
		case 'S': rc = kc_check_number("--site", site = optarg); break;
		case 'n': rc = kc_check_text("--name", name = optarg, KC_TEXT_MAX); break;
		case 'm': rc = kc_check_text("--member", member = optarg, KC_NUMBER_MAX * 4); break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("token");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	const char *verb = optind < argc ? argv[optind] : "";
	if (!strcmp(verb, "list") && argc - optind == 1 && !role && !name && !member)
		return list(store, site);
	if (!strcmp(verb, "revoke") && argc - optind == 2 && !role && !site && !name && !member)
		return revoke(store, argv[optind + 1]);
	if (argc - optind != 1 || strcmp(verb, "create") != 0)
		return lmvendor_usage_error("token create --role vendor|customer [--site S], "
		                            "token list [--site S], or token revoke ID");
	if (!role || (strcmp(role, "vendor") && strcmp(role, "customer")))
		return lmvendor_usage_error("token create needs --role vendor or --role customer");
	if (!strcmp(role, "customer") && !site)
		return lmvendor_usage_error("a customer token belongs to a site: give --site S");
	if (!strcmp(role, "vendor") && site)
		return lmvendor_usage_error("a vendor token sees every site: no --site");
	if (member && strcmp(role, "customer"))
		return lmvendor_usage_error("--member names a site's member: a customer token");
	return create(store, role, site, member, name);
}

/* ---- lmvendor audit ----------------------------------------------------- */

struct audit_print {
	const char *site; /* only entries of this site's customer tokens */
	json_t *entries;  /* --json */
};

static int print_entry(void *arg, const char *key, json_t *e)
{
	(void)key;
	struct audit_print *p = arg;
	/* A site's entries: those about it, and those its tokens made. */
	char caller[96];
	snprintf(caller, sizeof caller, "customer:%s:", p->site ? p->site : "");
	if (p->site && strcmp(json_string_value(json_object_get(e, "site")) ?: "", p->site) &&
	    strncmp(json_string_value(json_object_get(e, "who")) ?: "", caller, strlen(caller)))
		return 0;
	if (p->entries) {
		lm_json_append(p->entries, json_incref(e));
		return 0;
	}
	const char *auth = json_string_value(json_object_get(e, "auth"));
	printf("%s %s %s %s %s %lld %s%s%s\n", json_string_value(json_object_get(e, "time")) ?: "?",
	       json_string_value(json_object_get(e, "ip")) ?: "?",
	       json_string_value(json_object_get(e, "who")) ?: "?",
	       json_string_value(json_object_get(e, "method")) ?: "?",
	       json_string_value(json_object_get(e, "path")) ?: "?",
	       (long long)json_integer_value(json_object_get(e, "status")),
	       json_string_value(json_object_get(e, "outcome")) ?: "?", auth ? " auth=" : "",
	       auth ? auth : "");
	return 0;
}

int lmvendor_cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"site", required_argument, NULL, 'S'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL;
	struct audit_print p = {0};
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'S': rc = kc_check_number("--site", p.site = optarg); break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("audit");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (optind != argc)
		return lmvendor_usage_error("audit takes options only");
	struct lm_kc kc;
	if ((rc = kc_open(&kc, store, false)) != 0)
		return rc;
	if (lm_report_is_json())
		p.entries = lm_json_array();
	if ((rc = lm_kc_begin(&kc, false)) == 0)
		rc = lm_kc_scan(&kc, "audit/", print_entry, &p);
	int status = rc ? kc_fail(&kc, rc) : 0;
	lm_kc_close(&kc);
	if (status == 0 && p.entries) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "audit", json_incref(p.entries));
		status = lm_report_print(doc);
	}
	json_decref(p.entries);
	return status;
}
