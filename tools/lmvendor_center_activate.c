/* lmvendor's key center: turning an authorization code and a machine's
 * lock code (or a triad's three) into a signed license: `activate`, and
 * `fulfil`, which answers a request file written by `lmutil
 * activate-request` on a machine without a network.
 *
 * An activation is one write transaction: the code's remaining quantity
 * goes down, the host's record (what it holds of the product, and the
 * license last issued to it) goes up, and the license is signed and
 * written before the commit, so that a refusal or a failure anywhere
 * leaves the store as it was.  LMDB lets one writer in at a time, across
 * processes: two activations of a code's last unit cannot both succeed.
 *
 * What the license says, by license type:
 *   authorized-user  node-locked: FEATURE ... uncounted HOSTID=LOCK, no
 *                    SERVER line; one per machine (-single: each code
 *                    activates on one machine only)
 *   concurrent       SERVER line(s) and FEATURE ... COUNT: lmd serves the
 *                    host's total (three SERVER lines for --lock A,B,C)
 *   named-user       as concurrent, with NAMED_USERS=COUNT */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/key.h"
#include "core/error.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "tools/json.h"
#include "tools/lmutil_activate_proof.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"
#include "vendor/sign.h"

#define REQUEST_FORMAT "lmd-activation-request"
#define REQUEST_MAX    (64 * 1024)
#define DAYS_MAX       3650

struct server {
	char host[LM_HOST_MAX + 1];
	unsigned port;
};

struct activation {
	char code[64]; /* normalised */
	char locks[3][LM_LOCKCODE_TEXT_MAX];
	int nlocks;
	struct server servers[3];
	int nservers;
	long count; /* -1: not given */
	const char *host_desc;
	long days; /* 0: the entitlement's term */
	/* kc_reissue: the caller's write transaction, neither begun nor
	 * committed here (a refusal aborts it); the signed license is handed
	 * over in *license instead of printed or written. */
	bool nested;
	char **license;
};

/* ---- reading what the customer typed --------------------------------------- */

int kc_parse_auth(const char *text, char *out, size_t size)
{
	uint8_t sym[LM_CODE32_MAX_SYMBOLS];
	size_t n;
	char err[256];
	if (strlen(text) > 64)
		return lmvendor_usage_error("authorization code '%.20s...' is too long", text);
	if (lm_code32_decode(text, sym, sizeof sym, &n, err, sizeof err) != 0) {
		lm_report_fail(LMC_EBADCODE, "authorization code '%s': %s", text, err);
		return 1;
	}
	if (lm_code32_encode(sym, n, 4, out, size) != 0) {
		lm_report_fail(LMC_EBADCODE, "authorization code '%s' is too long", text);
		return 1;
	}
	return 0;
}

/* One lock code, normalised into a. */
static int add_lock(struct activation *a, const char *text)
{
	if (a->nlocks == 3)
		return lmvendor_usage_error(
		        "--lock: one lock code, or three for redundant servers");
	struct lm_lockcode code;
	char err[256];
	if (strlen(text) >= LM_LOCKCODE_TEXT_MAX) {
		lm_report_fail(LMC_EBADCODE, "lock code '%.20s...' is too long", text);
		return 1;
	}
	if (lm_lockcode_parse(text, &code, err, sizeof err) != 0) {
		lm_report_fail(LMC_EBADCODE, "lock code '%s': %s", text, err);
		return 1;
	}
	lm_lockcode_format(&code, a->locks[a->nlocks], sizeof a->locks[0]);
	for (int i = 0; i < a->nlocks; i++)
		if (!strcmp(a->locks[i], a->locks[a->nlocks]))
			return lmvendor_usage_error(
			        "--lock names %s twice: redundant servers are three "
			        "different machines",
			        a->locks[i]);
	a->nlocks++;
	return 0;
}

static int add_locks(struct activation *a, const char *list)
{
	char buf[512];
	if (strlen(list) >= sizeof buf)
		return lmvendor_usage_error("--lock is too long");
	snprintf(buf, sizeof buf, "%s", list);
	int rc = 0;
	for (char *save, *w = strtok_r(buf, ",", &save); w && rc == 0;
	     w = strtok_r(NULL, ",", &save))
		rc = add_lock(a, w);
	if (rc == 0 && a->nlocks == 0)
		return lmvendor_usage_error("--lock is empty");
	return rc;
}

/* HOST:PORT, split at the last colon. */
static int add_server(struct activation *a, const char *text)
{
	if (a->nservers == 3)
		return lmvendor_usage_error("--servers: one server, or three redundant ones");
	const char *colon = strrchr(text, ':');
	struct server *s = &a->servers[a->nservers];
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || colon == text || !isdigit((unsigned char)colon[1]) || *end || port < 1 ||
	    port > 65535 || (size_t)(colon - text) > LM_HOST_MAX)
		return lmvendor_usage_error("--servers '%.60s' is not HOST:PORT", text);
	for (const char *p = text; p < colon; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-_:[]", *p))
			return lmvendor_usage_error("--servers: '%.60s' is not a host name", text);
	snprintf(s->host, sizeof s->host, "%.*s", (int)(colon - text), text);
	s->port = (unsigned)port;
	a->nservers++;
	return 0;
}

static int add_servers(struct activation *a, const char *list)
{
	char buf[1024];
	if (strlen(list) >= sizeof buf)
		return lmvendor_usage_error("--servers is too long");
	snprintf(buf, sizeof buf, "%s", list);
	int rc = 0;
	for (char *save, *w = strtok_r(buf, ",", &save); w && rc == 0;
	     w = strtok_r(NULL, ",", &save))
		rc = add_server(a, w);
	return rc;
}

/* ---- the activation ----------------------------------------------------------- */

static int cmp_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* host/<site>/<feature>/<version>/<locks sorted, joined with '+'> */
static int host_key(const struct activation *a, const char *site, const char *feature,
                    const char *version, char *key, size_t size)
{
	char sorted[3][LM_LOCKCODE_TEXT_MAX];
	memcpy(sorted, a->locks, sizeof sorted);
	qsort(sorted, (size_t)a->nlocks, sizeof sorted[0], cmp_text);
	return lm_kc_key(key, size, "host/%s/%s/%s/%s%s%s%s%s", site, feature, version, sorted[0],
	                 a->nlocks > 1 ? "+" : "", a->nlocks > 1 ? sorted[1] : "",
	                 a->nlocks > 2 ? "+" : "", a->nlocks > 2 ? sorted[2] : "");
}

/* The lock code of the machine holding a code's single copy, found by
 * an lm_kc_scan of the product's host records. */
struct copy_holder {
	const char *code;
	char lock[LM_LOCKCODE_TEXT_MAX];
};

static int find_copy_holder(void *arg, const char *key, json_t *host)
{
	(void)key;
	struct copy_holder *h = arg;
	const char *lock = json_string_value(json_array_get(json_object_get(host, "locks"), 0));
	if (json_integer_value(json_object_get(json_object_get(host, "codes"), h->code)) <= 0 ||
	    !lock)
		return 0;
	snprintf(h->lock, sizeof h->lock, "%s", lock);
	return 1;
}

/* The seats of one host that end on one day. */
struct term_group {
	int32_t expiry;
	long seats;
};
#define GROUPS_MAX 16

struct terms {
	const char *vendor, *site, *company, *feature, *version, *type, *code, *entitlement;
	long total; /* the host's seats, all groups */
	int32_t start, expiry;
	/* The host's seats by the day their term ends, earliest first: one
	 * license line each (FEATURE when there is one, INCREMENT lines
	 * adding up otherwise), so that no seat outlives what was paid for. */
	struct term_group groups[GROUPS_MAX];
	int ngroups;
};

/* The license text for the host's new total, as lmvendor issue would
 * write it; the parser reads it back before it is signed. */
static char *compose(const struct activation *a, const struct terms *t, const char *return_line,
                     size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);
	if (!out)
		return NULL;
	char today[16], expiry[16], start[16];
	lm_date_format(kc_today(), today, sizeof today);
	lm_date_format(t->expiry, expiry, sizeof expiry);
	bool node_locked = kc_type_node_locked(t->type);
	fprintf(out, "# %s %s for %s (site %s), issued %s by the lmvendor key center\n", t->feature,
	        t->version, t->company, t->site, today);
	fprintf(out, "%s\n", return_line);
	for (int i = 0; !node_locked && i < a->nlocks; i++)
		fprintf(out, "SERVER %s %s %u\n", a->servers[i].host, a->locks[i],
		        a->servers[i].port);
	fprintf(out, "VENDOR %s\n", t->vendor);
	for (int g = 0; g < t->ngroups; g++) {
		const struct term_group *group = &t->groups[g];
		lm_date_format(group->expiry, expiry, sizeof expiry);
		fprintf(out, "%s %s %s %s %s ", t->ngroups == 1 ? "FEATURE" : "INCREMENT",
		        t->feature, t->vendor, t->version, expiry);
		if (node_locked)
			fprintf(out, "uncounted HOSTID=\"%s\"", a->locks[0]);
		else
			fprintf(out, "%ld", group->seats);
		fprintf(out, " AUTH=\"%s\"", t->code);
		if (t->start != LM_DATE_NONE) {
			lm_date_format(t->start, start, sizeof start);
			fprintf(out, " START=\"%s\"", start);
		}
		fprintf(out, " ISSUED=\"%s\" NOTICE=\"%s\" SN=\"%s/%s\"", today, t->company,
		        t->site, t->entitlement);
		if (a->host_desc)
			fprintf(out, " HOST_DESC=\"%s\"", a->host_desc);
		if (!strcmp(t->type, "named-user"))
			fprintf(out, " NAMED_USERS=\"%ld\"", group->seats);
		fputc('\n', out);
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Parses, signs and checks text into f: 0, or 1 after reporting. */
static int sign_text(const char *text, size_t len, EVP_PKEY *key, struct lm_license_file *f)
{
	struct lm_parse_error perr;
	int rc = lm_license_parse(text, len, f, &perr);
	if (rc) {
		lm_report_fail(rc, "activate: %s", perr.message);
		return 1;
	}
	rc = lm_license_sign(f, key);
	for (size_t i = 0; rc == 0 && i < f->nlines; i++)
		rc = lm_license_verify(f, &f->lines[i], key);
	if (rc) {
		lm_report_fail(rc, "activate: cannot sign the license: %s", lmc_strerror(rc));
		lm_license_free(f);
		return 1;
	}
	return 0;
}

static char *print_text(const struct lm_license_file *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out)
		lm_json_out_of_memory();
	int rc = lm_license_print(f, out);
	if (fclose(out) != 0 || rc != 0)
		lm_json_out_of_memory();
	return text;
}

/* Refuses with a sentence: the transaction is dropped, nothing changed. */
__attribute__((format(printf, 3, 4))) static int refuse(struct lm_kc *kc, int code, const char *fmt,
                                                        ...)
{
	char sentence[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sentence, sizeof sentence, fmt, ap);
	va_end(ap);
	lm_kc_abort(kc);
	lm_report_fail(code, "%s; nothing was changed", sentence);
	return 1;
}

struct records {
	json_t *code, *ent, *site, *meta, *host;
};

static void records_free(struct records *r)
{
	json_decref(r->code);
	json_decref(r->ent);
	json_decref(r->site);
	json_decref(r->meta);
	json_decref(r->host);
}

/* Adds seats ending on expiry to t's groups. */
static int add_group(struct terms *t, int32_t expiry, long seats)
{
	int g = 0;
	while (g < t->ngroups && t->groups[g].expiry < expiry)
		g++;
	if (g < t->ngroups && t->groups[g].expiry == expiry) {
		t->groups[g].seats += seats;
		return 0;
	}
	if (t->ngroups == GROUPS_MAX)
		return LMC_ETOOLARGE;
	memmove(&t->groups[g + 1], &t->groups[g], (size_t)(t->ngroups - g) * sizeof t->groups[0]);
	t->groups[g] = (struct term_group){expiry, seats};
	t->ngroups++;
	return 0;
}

/* Groups the host's seats by the end of the term each came under: this
 * code's (mine seats, ending on t->expiry) and those of the other codes
 * in the host's record.  Seats whose term has ended are left out of the
 * license (they lapsed; a renewal brings them back). */
static int host_terms(struct lm_kc *kc, json_t *host, const char *code, long mine, int32_t today,
                      int32_t until, struct terms *t)
{
	int rc = mine > 0 ? add_group(t, t->expiry, mine) : 0;
	const char *other;
	json_t *n;
	json_object_foreach(host ? json_object_get(host, "codes") : NULL, other, n)
	{
		char key[LM_KC_KEY_MAX + 1];
		json_t *rec = NULL, *ent = NULL;
		if (rc || !strcmp(other, code) || json_integer_value(n) <= 0)
			continue;
		rc = lm_kc_key(key, sizeof key, "code/%s", other);
		if (rc == 0)
			rc = lm_kc_get(kc, key, &rec);
		if (rc == 0)
			rc = lm_kc_key(key, sizeof key, "entitlement/%s",
			               json_string_value(json_object_get(rec, "entitlement"))
			                       ?: "");
		if (rc == 0)
			rc = lm_kc_get(kc, key, &ent);
		int32_t end = LM_DATE_NONE, maintenance;
		if (rc == 0)
			rc = kc_term(kc, ent, &end, &maintenance);
		json_decref(rec);
		json_decref(ent);
		if (rc > 0)
			rc = lm_kc_fail(
			        kc, LMC_EIO,
			        "the key-center store %s is corrupted: code %s of a host is "
			        "missing",
			        kc->path, other);
		if (rc == 0 && end >= today)
			rc = add_group(t, end < until ? end : until, (long)json_integer_value(n));
	}
	if (rc == LMC_ETOOLARGE)
		rc = lm_kc_fail(kc, rc, "this host's seats come under more than %d terms",
		                GROUPS_MAX);
	t->total = 0;
	for (int g = 0; g < t->ngroups; g++)
		t->total += t->groups[g].seats;
	return rc;
}

/* Activates a in the store.  With answer, the document that --json prints
 * is handed over there instead of printed (lmvendor serve); without, it
 * is printed, or the license is (written to out). */
static int activate(struct lm_kc *kc, struct activation *a, EVP_PKEY *key, const char *out,
                    json_t **answer)
{
	struct records r = {0};
	if (a->nlocks == 2) {
		lm_report_fail(LMC_EINVAL, "two lock codes: give one, or three for redundant "
		                           "servers; nothing was changed");
		return 1;
	}
	char key_code[LM_KC_KEY_MAX + 1], key_ent[LM_KC_KEY_MAX + 1], key_site[LM_KC_KEY_MAX + 1],
	        key_host[LM_KC_KEY_MAX + 1];
	int rc = a->nested ? 0 : lm_kc_begin(kc, true);
	if (rc)
		return kc_fail(kc, rc);
	lm_kc_key(key_code, sizeof key_code, "code/%s", a->code);
	if ((rc = lm_kc_get(kc, key_code, &r.code)) == LM_KC_NOTFOUND)
		return refuse(kc, LMC_EBADCODE,
		              "authorization code %s is unknown: no site was given this code",
		              a->code);
	const char *site = json_string_value(json_object_get(r.code, "site"));
	const char *ent_id = json_string_value(json_object_get(r.code, "entitlement"));
	if (rc == 0 && (!site || !ent_id ||
	                lm_kc_key(key_ent, sizeof key_ent, "entitlement/%s", ent_id) != 0 ||
	                lm_kc_key(key_site, sizeof key_site, "site/%s", site) != 0)) {
		lm_kc_fail(kc, LMC_EIO, "the key-center store %s is corrupted: code %s", kc->path,
		           a->code);
		rc = LMC_EIO;
	}
	if (rc || (rc = lm_kc_get(kc, key_ent, &r.ent)) != 0 ||
	    (rc = lm_kc_get(kc, key_site, &r.site)) != 0 ||
	    (rc = lm_kc_get(kc, "meta", &r.meta)) != 0) {
		records_free(&r);
		if (rc == LM_KC_NOTFOUND) {
			lm_kc_fail(
			        kc, LMC_EIO,
			        "the key-center store %s is corrupted: the entitlement or site of "
			        "code %s is missing",
			        kc->path, a->code);
			rc = LMC_EIO;
		}
		return kc_fail(kc, rc);
	}
	int status = 1;
	struct lm_license_file f;
	char *text = NULL;
	bool have_file = false, wrote = false;
	struct terms t = {
	        .vendor = json_string_value(json_object_get(r.meta, "vendor")),
	        .site = site,
	        .company = json_string_value(json_object_get(r.site, "company")),
	        .feature = json_string_value(json_object_get(r.ent, "feature")),
	        .version = json_string_value(json_object_get(r.ent, "version")),
	        .type = json_string_value(json_object_get(r.ent, "type")),
	        .code = a->code,
	        .entitlement = ent_id,
	        .start = kc_date_of(r.ent, "start"),
	};
	if (!t.vendor || !t.company || !t.feature || !t.version || !t.type) {
		lm_kc_fail(kc, LMC_EIO, "the key-center store %s is corrupted: entitlement %s",
		           kc->path, ent_id);
		status = kc_fail(kc, LMC_EIO);
		goto done;
	}
	int32_t end, maintenance, today = kc_today();
	if ((rc = kc_term(kc, r.ent, &end, &maintenance)) != 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	char end_text[16];
	lm_date_format(end, end_text, sizeof end_text);
	if (end < today) {
		status = refuse(
		        kc, LMC_EEXPIRED,
		        "authorization code %s has expired: the term of entitlement %s ended %s",
		        a->code, ent_id, end_text);
		goto done;
	}
	bool node_locked = kc_type_node_locked(t.type);
	if (node_locked && a->nlocks != 1) {
		status = refuse(kc, LMC_EINVAL,
		                "%s is an authorized-user license, locked to one machine: give one "
		                "--lock",
		                t.feature);
		goto done;
	}
	if ((rc = host_key(a, site, t.feature, t.version, key_host, sizeof key_host)) != 0) {
		status = refuse(kc, rc, "the lock codes are too long");
		goto done;
	}
	rc = lm_kc_get(kc, key_host, &r.host);
	if (rc < 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	long held = r.host ? (long)json_integer_value(json_object_get(r.host, "count")) : 0;
	if (r.host && strcmp(json_string_value(json_object_get(r.host, "type")) ?: "", t.type)) {
		status = refuse(kc, LMC_EINVAL,
		                "this host holds %s %s as a %s license; code %s is for %s licenses",
		                t.feature, t.version,
		                json_string_value(json_object_get(r.host, "type")) ?: "?", a->code,
		                t.type);
		goto done;
	}
	long count = a->count >= 0 ? a->count : 1;
	if (count == 0 && !r.host) {
		status = refuse(
		        kc, LMC_EINVAL,
		        "--count 0 re-issues a host's license, and this host has no %s %s yet",
		        t.feature, t.version);
		goto done;
	}
	if (node_locked && held + count > 1) {
		status = refuse(
		        kc, LMC_EINVAL,
		        "this machine already has its authorized-user license of %s %s (give "
		        "--count 0 to have it re-issued)",
		        t.feature, t.version);
		goto done;
	}
	long remaining = (long)json_integer_value(json_object_get(r.code, "remaining"));
	long quantity = (long)json_integer_value(json_object_get(r.code, "quantity"));
	/* Single copy: the code is good for one machine.  Its quantity is 1
	 * (authcode generate sees to it), so a second machine would find it
	 * used up; say where it is and how to move it instead. */
	if (kc_type_single_copy(t.type) && count > 0 && remaining == 0) {
		char prefix[LM_KC_KEY_MAX + 1];
		struct copy_holder holder = {.code = a->code};
		if (lm_kc_key(prefix, sizeof prefix, "host/%s/%s/%s/", site, t.feature,
		              t.version) == 0 &&
		    (rc = lm_kc_scan(kc, prefix, find_copy_holder, &holder)) < 0) {
			status = kc_fail(kc, rc);
			goto done;
		}
		status = refuse(kc, LMC_ENOSEATS,
		                "authorization code %s is single copy, good for one machine, and "
		                "is activated on lock code %s: return it there first (lmvendor "
		                "authcode return %s --lock %s) to move it to this machine",
		                a->code, holder.lock[0] ? holder.lock : "(unknown)", a->code,
		                holder.lock[0] ? holder.lock : "LOCK");
		goto done;
	}
	if (count > 0 && remaining == 0) {
		status = refuse(kc, LMC_ENOSEATS,
		                "authorization code %s is used up: all %ld of it are activated",
		                a->code, quantity);
		goto done;
	}
	if (count > remaining) {
		status =
		        refuse(kc, LMC_ENOSEATS,
		               "authorization code %s has %ld left (of %ld), not the %ld asked for",
		               a->code, remaining, quantity, count);
		goto done;
	}
	/* The SERVER lines: given now, or those the host's license had, each
	 * with its lock code in the order first given (the host's key says
	 * the set is the same; it may have been typed in another order). */
	if (!node_locked && a->nservers == 0 && r.host) {
		size_t i;
		json_t *s, *locks = json_object_get(r.host, "locks");
		json_array_foreach(locks, i, s)
		{
			if (i < 3 && json_is_string(s) &&
			    strlen(json_string_value(s)) < sizeof a->locks[0])
				strcpy(a->locks[i], json_string_value(s));
		}
		json_array_foreach(json_object_get(r.host, "servers"), i, s)
		{
			if (i >= 3 || !json_is_string(s) ||
			    add_server(a, json_string_value(s)) != 0 ||
			    json_array_size(locks) != (size_t)a->nlocks) {
				lm_kc_fail(kc, LMC_EIO,
				           "the key-center store %s is corrupted: host record",
				           kc->path);
				status = kc_fail(kc, LMC_EIO);
				goto done;
			}
		}
	}
	if (!node_locked && a->nservers != a->nlocks) {
		status = refuse(
		        kc, LMC_EINVAL,
		        "%s is a %s license, served by lmd: give --servers HOST:PORT for each "
		        "lock code (%d lock code%s, %d server%s)",
		        t.feature, t.type, a->nlocks, a->nlocks == 1 ? "" : "s", a->nservers,
		        a->nservers == 1 ? "" : "s");
		goto done;
	}
	if (!a->host_desc && r.host)
		a->host_desc = json_string_value(json_object_get(r.host, "host_desc"));
	int32_t until = a->days ? today + (int32_t)a->days : LM_DATE_PERMANENT;
	t.expiry = end < until ? end : until;
	long mine = (long)json_integer_value(
	                    json_object_get(json_object_get(r.host, "codes"), a->code)) +
	            count;
	if ((rc = host_terms(kc, r.host, a->code, mine, today, until, &t)) != 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	if (t.ngroups == 0) {
		status =
		        refuse(kc, LMC_EEXPIRED,
		               "every seat of %s %s on this host came under a term that has ended: "
		               "renew it first",
		               t.feature, t.version);
		goto done;
	}

	/* This return key: lmutil deactivate proves with it that a
	 * return comes from a holder of the license as last issued here
	 * (tools/lmutil_activate_proof.h). */
	unsigned char secret[LM_RETURN_KEY_HEX / 2];
	char return_key[LM_RETURN_KEY_HEX + 1], return_line[LM_KC_KEY_MAX + 128];
	if (RAND_bytes(secret, sizeof secret) != 1) {
		lm_kc_fail(kc, LMC_EKEY, "activate: no random bytes for the license's return key");
		status = kc_fail(kc, LMC_EKEY);
		goto done;
	}
	for (size_t i = 0; i < sizeof secret; i++)
		snprintf(return_key + 2 * i, 3, "%02x", secret[i]);
	OPENSSL_cleanse(secret, sizeof secret);
	snprintf(return_line, sizeof return_line, "%s%s %s", LM_RETURN_KEY_PREFIX,
	         key_host + strlen("host/"), return_key);
	size_t len = 0;
	if (!(text = compose(a, &t, return_line, &len)))
		lm_json_out_of_memory();
	if (sign_text(text, len, key, &f) != 0) {
		lm_kc_abort(kc);
		goto done;
	}
	have_file = true;
	char *signed_text = print_text(&f);

	/* The records. */
	lm_json_set(r.code, "remaining", lm_json_int(remaining - count));
	if (!r.host) {
		r.host = lm_json_object();
		lm_json_set(r.host, "site", lm_json_text(site));
		lm_json_set(r.host, "feature", lm_json_text(t.feature));
		lm_json_set(r.host, "version", lm_json_text(t.version));
		lm_json_set(r.host, "type", lm_json_text(t.type));
		json_t *locks = lm_json_array();
		for (int i = 0; i < a->nlocks; i++)
			lm_json_append(locks, lm_json_text(a->locks[i]));
		lm_json_set(r.host, "locks", locks);
		lm_json_set(r.host, "codes", lm_json_object());
	}
	json_t *servers = lm_json_array();
	for (int i = 0; !node_locked && i < a->nservers; i++) {
		char s[LM_HOST_MAX + 16];
		snprintf(s, sizeof s, "%s:%u", a->servers[i].host, a->servers[i].port);
		lm_json_append(servers, lm_json_text(s));
	}
	lm_json_set(r.host, "servers", servers);
	lm_json_set(r.host, "host_desc", lm_json_text_or_null(a->host_desc));
	/* The record counts every seat activated here, lapsed ones too; the
	 * license holds those whose term runs (t.total). */
	lm_json_set(r.host, "count", lm_json_int(held + count));
	json_t *codes = json_object_get(r.host, "codes");
	long from_code = (long)json_integer_value(json_object_get(codes, a->code));
	if (count > 0)
		json_object_set_new(codes, a->code, lm_json_int(from_code + count));
	lm_json_set(r.host, "expiry", kc_date_json(t.expiry));
	lm_json_set(r.host, "issued", kc_date_json(today));
	lm_json_set(r.host, "license", lm_json_text(signed_text));
	lm_json_set(r.host, "return_key", lm_json_text(return_key));

	if ((rc = lm_kc_put(kc, key_code, r.code)) != 0 ||
	    (rc = lm_kc_put(kc, key_host, r.host)) != 0) {
		free(signed_text);
		status = kc_fail(kc, rc);
		goto done;
	}
	if (a->nested) {
		*a->license = signed_text;
		status = 0;
		goto done;
	}
	/* The file first: a commit that fails takes it back; a file that
	 * cannot be written leaves the code untouched. */
	if (out) {
		if (lmvendor_emit(out, &f, NULL) != 0) {
			free(signed_text);
			lm_kc_abort(kc);
			goto done;
		}
		wrote = true;
	}
	if ((rc = lm_kc_commit(kc)) != 0) {
		free(signed_text);
		if (wrote)
			unlink(out);
		status = kc_fail(kc, rc);
		goto done;
	}
	char locks[3 * LM_LOCKCODE_TEXT_MAX + 4] = "";
	for (int i = 0; i < a->nlocks; i++) {
		strcat(locks, i ? "," : "");
		strcat(locks, a->locks[i]);
	}
	if (answer || lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "site", lm_json_text(site));
		lm_json_set(doc, "entitlement", lm_json_text(ent_id));
		lm_json_set(doc, "auth", lm_json_text(a->code));
		lm_json_set(doc, "feature", lm_json_text(t.feature));
		lm_json_set(doc, "version", lm_json_text(t.version));
		lm_json_set(doc, "type", lm_json_text(t.type));
		lm_json_set(doc, "locks", json_incref(json_object_get(r.host, "locks")));
		lm_json_set(doc, "added", lm_json_int(count));
		lm_json_set(doc, "count", lm_json_int(t.total));
		lm_json_set(doc, "remaining", lm_json_int(remaining - count));
		lm_json_set(doc, "expiry", kc_date_json(t.expiry));
		lm_json_set(doc, "output", out ? lm_json_text(out) : json_null());
		lm_json_set(doc, "license", lm_json_text(signed_text));
		if (answer)
			*answer = doc, status = 0;
		else
			status = lm_report_print(doc);
	} else {
		status = 0;
		if (!out)
			fputs(signed_text, stdout);
		fprintf(stderr,
		        "lmvendor: %s %ld of %s %s (%s) for %s: the host holds %ld, until %s; code "
		        "%s "
		        "has %ld left\n",
		        count ? "activated" : "re-issued", count, t.feature, t.version, t.type,
		        locks, t.total, json_string_value(json_object_get(r.host, "expiry")),
		        a->code, remaining - count);
	}
	free(signed_text);
done:
	if (have_file)
		lm_license_free(&f);
	free(text);
	records_free(&r);
	return status;
}

/* ---- the commands ------------------------------------------------------------- */

int kc_load_key(const char *flag, EVP_PKEY **key)
{
	const char *path = flag ? flag : getenv("LMVENDOR_KEY");
	if (!path || !*path)
		return lmvendor_usage_error(
		        "this command signs licenses: give --key PRIVATE.pem or "
		        "set LMVENDOR_KEY");
	return lmvendor_load_private(path, key);
}

static int run(const char *store, const char *keypath, struct activation *a, const char *out)
{
	EVP_PKEY *key = NULL;
	int rc = kc_load_key(keypath, &key);
	if (rc)
		return rc;
	struct lm_kc kc;
	if ((rc = kc_open(&kc, store, false)) == 0) {
		rc = activate(&kc, a, key, out, NULL);
		lm_kc_close(&kc);
	}
	EVP_PKEY_free(key);
	return rc;
}

static long parse_days(const char *text)
{
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (!isdigit((unsigned char)*text) || *end || errno || n < 1 || n > DAYS_MAX) {
		lmvendor_usage_error("--days '%.20s' is not a number of days from 1 to %d", text,
		                     DAYS_MAX);
		return -1;
	}
	return n;
}

int lmvendor_cmd_activate(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"key", required_argument, NULL, 'k'},
	        {"auth", required_argument, NULL, 'a'},
	        {"lock", required_argument, NULL, 'l'},
	        {"servers", required_argument, NULL, 'S'},
	        {"count", required_argument, NULL, 'c'},
	        {"host-desc", required_argument, NULL, 'd'},
	        {"days", required_argument, NULL, 'D'},
	        {"rehost-limit", required_argument, NULL, 'R'},
	        {"output", required_argument, NULL, 'o'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct activation a = {.count = -1};
	const char *store = NULL, *keypath = NULL, *out = NULL, *auth = NULL;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'k': keypath = optarg; break;
		case 'a': auth = optarg; break;
		case 'l': rc = add_locks(&a, optarg); break;
		case 'S': rc = add_servers(&a, optarg); break;
		case 'c':
			if ((a.count = kc_parse_count("--count", optarg, true)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'd':
			rc = kc_check_text("--host-desc", a.host_desc = optarg, KC_TEXT_MAX);
			break;
		case 'D':
			if ((a.days = parse_days(optarg)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'o': out = optarg; break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("activate");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (!auth || a.nlocks == 0)
		return lmvendor_usage_error("activate needs --auth CODE and --lock LOCKCODE");
	if (optind != argc)
		return lmvendor_usage_error("activate takes options only");
	if ((rc = kc_parse_auth(auth, a.code, sizeof a.code)) != 0)
		return rc;
	return run(store, keypath, &a, out);
}

/* ---- fulfil ---------------------------------------------------------------- */

/* A string member of the request, checked like a typed value. */
static const char *request_text(json_t *req, const char *field, bool required)
{
	json_t *v = json_object_get(req, field);
	if (!v && !required)
		return NULL;
	if (!json_is_string(v)) {
		lm_report_fail(LMC_ESYNTAX, "fulfil: the request has no \"%s\" text", field);
		return NULL;
	}
	return json_string_value(v);
}

static int check_request(json_t *req, const char *what, struct activation *a);

static int read_request(const char *path, struct activation *a, json_t **held)
{
	FILE *in = fopen(path, "r");
	if (!in) {
		lm_report_fail(LMC_EIO, "fulfil: cannot read %s: %s", path, strerror(errno));
		return 1;
	}
	json_error_t jerr;
	json_t *req = json_loadf(in, JSON_REJECT_DUPLICATES, &jerr);
	long size = ftell(in);
	fclose(in);
	if (!req || size > REQUEST_MAX || !json_is_object(req)) {
		json_decref(req);
		lm_report_fail(LMC_ESYNTAX,
		               "fulfil: %s is not an activation request (write one with lmutil "
		               "activate-request)",
		               path);
		return 1;
	}
	*held = req;
	/* A customer's return (lmutil deactivate) is fulfilled too. */
	if (!strcmp(json_string_value(json_object_get(req, "format")) ?: "", LM_RETURN_FORMAT))
		return 0;
	return check_request(req, path, a);
}

/* Reads the activation request req (what: its file, or "the request")
 * into a: 0, or non-zero after reporting. */
static int check_request(json_t *req, const char *what, struct activation *a)
{
	const char *format = json_string_value(json_object_get(req, "format"));
	if (!format || strcmp(format, REQUEST_FORMAT) != 0 ||
	    json_integer_value(json_object_get(req, "version")) != 1) {
		lm_report_fail(LMC_ESYNTAX,
		               "fulfil: %s is not an activation request of format %s version 1",
		               what, REQUEST_FORMAT);
		return 1;
	}
	const char *auth = request_text(req, "auth", true);
	if (!auth)
		return 1;
	int rc = kc_parse_auth(auth, a->code, sizeof a->code);
	json_t *locks = json_object_get(req, "locks"), *servers = json_object_get(req, "servers");
	if (rc == 0 && (!json_is_array(locks) || json_array_size(locks) < 1 ||
	                json_array_size(locks) > 3 || (servers && !json_is_array(servers)))) {
		lm_report_fail(LMC_ESYNTAX,
		               "fulfil: the request needs \"locks\": one or three lock "
		               "codes");
		return 1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(locks, i, v)
	{
		if (rc == 0 && !json_is_string(v))
			rc = lmvendor_usage_error("fulfil: a lock code of the request is not text");
		if (rc == 0)
			rc = add_lock(a, json_string_value(v));
	}
	json_array_foreach(servers, i, v)
	{
		if (rc == 0 && !json_is_string(v))
			rc = lmvendor_usage_error("fulfil: a server of the request is not text");
		if (rc == 0)
			rc = add_server(a, json_string_value(v));
	}
	if (rc)
		return rc;
	if ((a->host_desc = request_text(req, "host_desc", false)) &&
	    (rc = kc_check_text("the request's host_desc", a->host_desc, KC_TEXT_MAX)) != 0)
		return rc;
	json_t *count = json_object_get(req, "count");
	if (count) {
		if (!json_is_integer(count) || json_integer_value(count) < 0 ||
		    json_integer_value(count) > KC_QUANTITY_MAX)
			return lmvendor_usage_error(
			        "fulfil: the request's count is not a whole number "
			        "from 0 to %d",
			        KC_QUANTITY_MAX);
		a->count = (long)json_integer_value(count);
	}
	return 0;
}

int lmvendor_cmd_fulfil(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"key", required_argument, NULL, 'k'},
	        {"days", required_argument, NULL, 'D'},
	        {"rehost-limit", required_argument, NULL, 'R'},
	        {"output", required_argument, NULL, 'o'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct activation a = {.count = -1};
	const char *store = NULL, *keypath = NULL, *out = NULL;
	int c, rc = 0, rehost_limit = KC_REHOSTS_PER_YEAR;
	while (rc == 0 && (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'k': keypath = optarg; break;
		case 'R': rc = kc_parse_rehost_limit(optarg, &rehost_limit); break;
		case 'D':
			if ((a.days = parse_days(optarg)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'o': out = optarg; break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("fulfil");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (argc - optind != 1)
		return lmvendor_usage_error("fulfil takes one request file");
	json_t *req = NULL;
	rc = read_request(argv[optind], &a, &req);
	if (rc == 0 &&
	    !strcmp(json_string_value(json_object_get(req, "format")) ?: "", LM_RETURN_FORMAT))
		rc = kc_fulfil_return(store, req, rehost_limit);
	else if (rc == 0)
		rc = run(store, keypath, &a, out);
	json_decref(req);
	return rc;
}

int kc_reissue(struct lm_kc *kc, const char *code, json_t *host, EVP_PKEY *key, char **license)
{
	struct activation a = {.count = 0, .nested = true, .license = license};
	size_t i;
	json_t *lock;
	snprintf(a.code, sizeof a.code, "%s", code);
	json_array_foreach(json_object_get(host, "locks"), i, lock)
	{
		if (!json_is_string(lock) || add_lock(&a, json_string_value(lock)) != 0) {
			lm_kc_abort(kc);
			lm_report_fail(LMC_EIO, "the key-center store %s is corrupted: host record",
			               kc->path);
			return 1;
		}
	}
	return activate(kc, &a, key, NULL, NULL);
}

int kc_activate_request(struct lm_kc *kc, json_t *req, EVP_PKEY *key, json_t **answer)
{
	struct activation a = {.count = -1};
	if (!json_is_object(req)) {
		lm_report_fail(LMC_ESYNTAX, "the request is not a JSON object");
		return 1;
	}
	int rc = check_request(req, "the request", &a);
	return rc ? rc : activate(kc, &a, key, NULL, answer);
}

int kc_host_license(struct lm_kc *kc, const char *code, const char *const *locks, int nlocks,
                    json_t **answer)
{
	struct activation a = {.count = 0};
	snprintf(a.code, sizeof a.code, "%s", code);
	for (int i = 0; i < nlocks; i++)
		if (add_lock(&a, locks[i]) != 0)
			return 1;
	char key[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL, *ent = NULL, *host = NULL;
	int rc = lm_kc_begin(kc, false);
	if (rc == 0)
		rc = lm_kc_key(key, sizeof key, "code/%s", code);
	if (rc == 0)
		rc = lm_kc_get(kc, key, &rec);
	const char *site = json_string_value(json_object_get(rec, "site"));
	if (rc == 0)
		rc = lm_kc_key(key, sizeof key, "entitlement/%s",
		               json_string_value(json_object_get(rec, "entitlement")) ?: "");
	if (rc == 0)
		rc = lm_kc_get(kc, key, &ent);
	if (rc == 0)
		rc = host_key(&a, site ? site : "",
		              json_string_value(json_object_get(ent, "feature")) ?: "",
		              json_string_value(json_object_get(ent, "version")) ?: "", key,
		              sizeof key);
	if (rc == 0)
		rc = lm_kc_get(kc, key, &host);
	lm_kc_abort(kc);
	int status = 1;
	if (rc < 0) {
		lm_report_fail(rc, "%s", kc->error);
	} else if (rc ||
	           json_integer_value(json_object_get(json_object_get(host, "codes"), code)) <= 0) {
		lm_report_fail(LMC_EINVAL, "no host with lock code %s holds seats of code %s",
		               a.locks[0], code);
	} else {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "site", lm_json_text(site));
		lm_json_set(doc, "auth", lm_json_text(code));
		const char *fields[] = {"feature", "version", "type",   "locks",
		                        "count",   "expiry",  "issued", "license"};
		for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
			lm_json_set(doc, fields[i],
			            json_incref(json_object_get(host, fields[i]) ?: json_null()));
		*answer = doc;
		status = 0;
	}
	json_decref(rec);
	json_decref(ent);
	json_decref(host);
	return status;
}
