/* lmvendor's key center: authorization codes made from an entitlement
 * (`authcode generate`), and what a site holds (`inventory`). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

/* ---- authcode generate ------------------------------------------------- */

/* The message carrying a new code, to the site's technical contact. */
static int authorization(struct lm_kc *kc, const char *outbox, json_t *code, json_t *ent,
                         char *path, size_t size)
{
	char subject[512], body[2048];
	const char *site = json_string_value(json_object_get(code, "site"));
	snprintf(subject, sizeof subject, "Authorization code for %s %s (site %s)",
	         json_string_value(json_object_get(ent, "feature")),
	         json_string_value(json_object_get(ent, "version")), site);
	snprintf(body, sizeof body,
	         "Authorization code: %s\n\n"
	         "It carries %lld of entitlement %s: %s %s, %s, until %s.\n\n"
	         "On the machine that will hold the license, run\n"
	         "    lmutil activate-request --auth %s -o request.json\n"
	         "and send us request.json, or activate online with lmutil activate --url.\n",
	         json_string_value(json_object_get(code, "code")),
	         (long long)json_integer_value(json_object_get(code, "quantity")),
	         json_string_value(json_object_get(ent, "id")),
	         json_string_value(json_object_get(ent, "feature")),
	         json_string_value(json_object_get(ent, "version")),
	         json_string_value(json_object_get(ent, "type")),
	         json_string_value(json_object_get(ent, "end")),
	         json_string_value(json_object_get(code, "code")));
	return kc_outbox_send(kc, outbox, site, "authorization", subject, body, path, size);
}

static int generate(struct lm_kc *kc, const char *site, const char *entitlement, long count,
                    const char *comment, const char *outbox)
{
	char key[LM_KC_KEY_MAX + 1], code[64];
	json_t *ent = NULL;
	if (lmvendor_new_authcode(code, sizeof code) != 0)
		return 1;
	int rc = lm_kc_begin(kc, true);
	if (rc)
		return kc_fail(kc, rc);
	lm_kc_key(key, sizeof key, "entitlement/%s", entitlement);
	rc = lm_kc_get(kc, key, &ent);
	if (rc == LM_KC_NOTFOUND ||
	    (rc == 0 && strcmp(json_string_value(json_object_get(ent, "site")) ?: "", site))) {
		json_decref(ent);
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "authcode generate: site %s has no entitlement %s", site,
		               entitlement);
		return 1;
	}
	if (rc)
		return kc_fail(kc, rc);
	int32_t end, maintenance;
	if ((rc = kc_term(kc, ent, &end, &maintenance)) != 0) {
		json_decref(ent);
		return kc_fail(kc, rc);
	}
	long quantity = (long)json_integer_value(json_object_get(ent, "quantity"));
	long assigned = (long)json_integer_value(json_object_get(ent, "assigned"));
	const char *renews = json_string_value(json_object_get(ent, "renews"));
	bool single_copy =
	        kc_type_single_copy(json_string_value(json_object_get(ent, "type")) ?: "");
	char why[256] = "";
	if (renews)
		snprintf(why, sizeof why,
		         "%s is a renewal of %s: activate with the codes of %s, whose terms it "
		         "extends",
		         entitlement, renews, renews);
	else if (end < kc_today())
		snprintf(why, sizeof why, "entitlement %s has expired (its term ended %s)",
		         entitlement, json_string_value(json_object_get(ent, "end")));
	else if (assigned >= quantity)
		snprintf(why, sizeof why, "all %ld of entitlement %s are on codes already",
		         quantity, entitlement);
	else if (single_copy && count > 1)
		snprintf(why, sizeof why,
		         "%s is single copy: each code is good for one machine, so each carries 1; "
		         "generate one code per machine (without --count, or --count 1)",
		         entitlement);
	else if (count > quantity - assigned)
		snprintf(why, sizeof why,
		         "entitlement %s has %ld left to put on codes (of %ld), not %ld",
		         entitlement, quantity - assigned, quantity, count);
	if (why[0]) {
		json_decref(ent);
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "authcode generate: %s", why);
		return 1;
	}
	if (count == 0)
		count = single_copy ? 1 : quantity - assigned;
	json_t *rec = lm_json_object();
	lm_json_set(rec, "code", lm_json_text(code));
	lm_json_set(rec, "site", lm_json_text(site));
	lm_json_set(rec, "entitlement", lm_json_text(entitlement));
	lm_json_set(rec, "quantity", lm_json_int(count));
	lm_json_set(rec, "remaining", lm_json_int(count));
	lm_json_set(rec, "comment", lm_json_text_or_null(comment));
	lm_json_set(rec, "created", kc_date_json(kc_today()));
	lm_json_set(ent, "assigned", lm_json_int(assigned + count));
	json_t *codes = json_object_get(ent, "codes");
	if (!codes)
		json_object_set_new(ent, "codes", codes = lm_json_array());
	lm_json_append(codes, lm_json_text(code));
	char code_key[LM_KC_KEY_MAX + 1];
	lm_kc_key(code_key, sizeof code_key, "code/%s", code);
	if ((rc = lm_kc_put(kc, key, ent)) != 0 || (rc = lm_kc_put(kc, code_key, rec)) != 0 ||
	    (rc = lm_kc_commit(kc)) != 0) {
		json_decref(ent);
		json_decref(rec);
		return kc_fail(kc, rc);
	}
	char message[4096] = "";
	rc = outbox ? authorization(kc, outbox, rec, ent, message, sizeof message) : 0;
	json_decref(ent);
	if (rc) {
		json_decref(rec);
		return 1;
	}
	if (lm_report_is_json()) {
		if (outbox)
			lm_json_set(rec, "message", lm_json_text_or_null(message));
		return lm_report_print(rec);
	}
	if (message[0])
		fprintf(stderr, "lmvendor: authorization message written to %s\n", message);
	printf("%s\n", code);
	fprintf(stderr, "lmvendor: authorization code for %ld of entitlement %s (site %s)\n", count,
	        entitlement, site);
	json_decref(rec);
	return 0;
}

int lmvendor_cmd_authcode_generate(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"site", required_argument, NULL, 'S'},
	        {"entitlement", required_argument, NULL, 'e'},
	        {"count", required_argument, NULL, 'c'},
	        {"comment", required_argument, NULL, 'C'},
	        {"outbox", required_argument, NULL, 'o'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL, *site = NULL, *entitlement = NULL, *comment = NULL,
	           *outbox = NULL;
	long count = 0;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'S': rc = kc_check_number("--site", site = optarg); break;
		case 'e': rc = kc_check_number("--entitlement", entitlement = optarg); break;
		case 'c':
			if ((count = kc_parse_count("--count", optarg, false)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'C': rc = kc_check_text("--comment", comment = optarg, KC_TEXT_MAX); break;
		case 'o': outbox = optarg; break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("authcode");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (!site || !entitlement)
		return lmvendor_usage_error("authcode generate needs --site S and --entitlement E");
	if (optind != argc)
		return lmvendor_usage_error("authcode generate takes options only");
	struct lm_kc kc;
	if ((rc = kc_outbox_check(outbox)) != 0 || (rc = kc_open(&kc, store, false)) != 0)
		return rc;
	rc = generate(&kc, site, entitlement, count, comment, outbox);
	lm_kc_close(&kc);
	return rc;
}

/* ---- inventory ------------------------------------------------------------ */

struct inventory {
	struct lm_kc *kc;
	const char *site;
	int32_t expiring_by; /* LM_DATE_NONE: show all */
	json_t *entitlements;
	json_t *hosts; /* the site's host records */
	int rc;
};

static int collect_host(void *arg, const char *key, json_t *host)
{
	(void)key;
	lm_json_append(((struct inventory *)arg)->hosts, json_incref(host));
	return 0;
}

/* Where code's quantity went: each host's description and lock codes. */
static json_t *deployments(struct inventory *inv, const char *code, long long *activated)
{
	json_t *where = lm_json_array();
	size_t i;
	json_t *host;
	*activated = 0;
	json_array_foreach(inv->hosts, i, host)
	{
		json_int_t n =
		        json_integer_value(json_object_get(json_object_get(host, "codes"), code));
		if (n <= 0)
			continue;
		*activated += n;
		json_t *d = lm_json_object();
		lm_json_set(d, "host_desc", json_incref(json_object_get(host, "host_desc")));
		lm_json_set(d, "locks", json_incref(json_object_get(host, "locks")));
		lm_json_set(d, "count", lm_json_int(n));
		lm_json_set(d, "expiry", json_incref(json_object_get(host, "expiry")));
		lm_json_append(where, d);
	}
	return where;
}

static int visit_entitlement(void *arg, const char *key, json_t *ent)
{
	(void)key;
	struct inventory *inv = arg;
	if (strcmp(json_string_value(json_object_get(ent, "site")) ?: "", inv->site) != 0)
		return 0;
	int32_t end, maintenance;
	int rc = kc_term(inv->kc, ent, &end, &maintenance);
	if (rc)
		return rc;
	int32_t today = kc_today();
	bool expiring = (end != LM_DATE_PERMANENT && inv->expiring_by != LM_DATE_NONE &&
	                 end >= today && end <= inv->expiring_by) ||
	                (maintenance != LM_DATE_NONE && inv->expiring_by != LM_DATE_NONE &&
	                 maintenance >= today && maintenance <= inv->expiring_by);
	if (inv->expiring_by != LM_DATE_NONE && !expiring)
		return 0;
	json_t *e = lm_json_object();
	const char *fields[] = {"id", "order", "product", "feature", "version", "type", "renews"};
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		lm_json_set(e, fields[i],
		            json_incref(json_object_get(ent, fields[i]) ?: json_null()));
	const char *copies = kc_type_copies(json_string_value(json_object_get(ent, "type")) ?: "");
	lm_json_set(e, "copies", lm_json_text_or_null(copies));
	lm_json_set(e, "bought", json_incref(json_object_get(ent, "quantity")));
	char okey[LM_KC_KEY_MAX + 1];
	json_t *order = NULL;
	lm_kc_key(okey, sizeof okey, "order/%s",
	          json_string_value(json_object_get(ent, "order")) ?: "");
	if ((rc = lm_kc_get(inv->kc, okey, &order)) < 0) {
		json_decref(e);
		return rc;
	}
	lm_json_set(e, "partner", json_incref(json_object_get(order, "partner") ?: json_null()));
	json_decref(order);
	lm_json_set(e, "end", kc_date_json(end));
	lm_json_set(e, "maintenance", kc_date_json(maintenance));
	lm_json_set(e, "expired", lm_json_bool(end < today));
	json_t *codes = lm_json_array();
	long long activated = 0, remaining = 0;
	size_t i;
	json_t *id;
	json_array_foreach(json_object_get(ent, "codes"), i, id)
	{
		char ckey[LM_KC_KEY_MAX + 1];
		json_t *code = NULL;
		lm_kc_key(ckey, sizeof ckey, "code/%s", json_string_value(id) ?: "");
		if ((rc = lm_kc_get(inv->kc, ckey, &code)) != 0) {
			json_decref(e);
			json_decref(codes);
			if (rc > 0)
				rc = lm_kc_fail(inv->kc, LMC_EIO,
				                "the key-center store %s is corrupted: code %s of "
				                "entitlement %s is missing",
				                inv->kc->path, json_string_value(id) ?: "?",
				                json_string_value(json_object_get(ent, "id"))
				                        ?: "?");
			return rc;
		}
		long long used;
		json_t *c = lm_json_object();
		lm_json_set(c, "code", json_incref(id));
		lm_json_set(c, "bought", json_incref(json_object_get(code, "quantity")));
		lm_json_set(c, "remaining", json_incref(json_object_get(code, "remaining")));
		lm_json_set(c, "comment", json_incref(json_object_get(code, "comment")));
		lm_json_set(c, "deployed", deployments(inv, json_string_value(id), &used));
		lm_json_set(c, "activated", lm_json_int(used));
		activated += used;
		remaining += json_integer_value(json_object_get(code, "remaining"));
		lm_json_append(codes, c);
		json_decref(code);
	}
	long long bought = json_integer_value(json_object_get(ent, "quantity"));
	long long assigned = json_integer_value(json_object_get(ent, "assigned"));
	lm_json_set(e, "activated", lm_json_int(json_object_get(ent, "renews") ? 0 : activated));
	/* What can still be activated: left on codes, and not yet on any. */
	lm_json_set(
	        e, "remaining",
	        lm_json_int(json_object_get(ent, "renews") ? 0 : remaining + bought - assigned));
	lm_json_set(e, "codes", codes);
	lm_json_append(inv->entitlements, e);
	return 0;
}

int kc_inventory(struct lm_kc *kc, const char *site, int32_t by, json_t **answer)
{
	struct inventory inv = {kc, site, by, lm_json_array(), lm_json_array(), 0};
	char key[LM_KC_KEY_MAX + 1], prefix[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL;
	int rc = lm_kc_key(key, sizeof key, "site/%s", site);
	if (rc == 0)
		rc = lm_kc_key(prefix, sizeof prefix, "host/%s/", site);
	if (rc == 0 && (rc = lm_kc_begin(kc, false)) == 0 && (rc = lm_kc_get(kc, key, &rec)) == 0 &&
	    (rc = lm_kc_scan(kc, prefix, collect_host, &inv)) == 0)
		rc = lm_kc_scan(kc, "entitlement/", visit_entitlement, &inv);
	json_decref(rec);
	int status = 0;
	if (rc == LM_KC_NOTFOUND || rc == LMC_ETOOLARGE) {
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "inventory: no site %s", site);
		status = 1;
	} else if (rc) {
		status = kc_fail(kc, rc);
	} else {
		lm_kc_abort(kc);
		json_t *doc = lm_json_object();
		lm_json_set(doc, "site", lm_json_text(site));
		lm_json_set(doc, "expiring_by",
		            by == LM_DATE_NONE ? json_null() : kc_date_json(by));
		lm_json_set(doc, "entitlements", json_incref(inv.entitlements));
		*answer = doc;
	}
	json_decref(inv.entitlements);
	json_decref(inv.hosts);
	return status;
}

/* A CSV field: quoted, quotes doubled, and a leading =+-@ defused so that
 * a spreadsheet never reads a company name as a formula. */
static void csv_field(const char *s, bool last)
{
	putchar('"');
	if (s && strchr("=+-@", s[0]) && s[0])
		putchar('\'');
	for (const char *p = s ? s : ""; *p; p++) {
		if (*p == '"')
			putchar('"');
		putchar(*p);
	}
	putchar('"');
	putchar(last ? '\n' : ',');
}

static void csv_int(long long v)
{
	printf("%lld,", v);
}

static void print_csv(json_t *ents)
{
	printf("entitlement,order,product,feature,version,type,end,maintenance,code,bought,"
	       "activated,remaining,deployed\n");
	size_t i, j, k;
	json_t *e, *c, *d;
	json_array_foreach(ents, i, e)
	{
		json_t *codes = json_object_get(e, "codes");
		for (j = 0; j < (json_array_size(codes) ?: 1); j++) {
			c = json_array_get(codes, j);
			const char *f[] = {"id",      "order", "product", "feature",
			                   "version", "type",  "end",     "maintenance"};
			for (k = 0; k < sizeof f / sizeof *f; k++)
				csv_field(json_string_value(json_object_get(e, f[k])), false);
			json_t *src = c ? c : e;
			csv_field(c ? json_string_value(json_object_get(c, "code")) : "", false);
			csv_int(json_integer_value(json_object_get(src, "bought")));
			csv_int(json_integer_value(json_object_get(src, "activated")));
			csv_int(json_integer_value(json_object_get(src, "remaining")));
			char where[2048] = "";
			json_array_foreach(json_object_get(c, "deployed"), k, d)
			{
				size_t len = strlen(where);
				snprintf(
				        where + len, sizeof where - len, "%s%s (%lld)",
				        k ? "; " : "",
				        json_string_value(json_object_get(d, "host_desc")) ?: "?",
				        (long long)json_integer_value(json_object_get(d, "count")));
			}
			csv_field(where, true);
		}
	}
}

static void print_text(const char *site, json_t *ents)
{
	printf("site %s\n", site);
	size_t i, j, k;
	json_t *e, *c, *d;
	json_array_foreach(ents, i, e)
	{
		const char *renews = json_string_value(json_object_get(e, "renews"));
		const char *partner = json_string_value(json_object_get(e, "partner"));
		const char *copies = json_string_value(json_object_get(e, "copies"));
		printf("%s %s %s %s%s%s (order %s%s%s): bought %lld, activated %lld, remaining "
		       "%lld, until %s%s%s%s\n",
		       json_string_value(json_object_get(e, "id")),
		       json_string_value(json_object_get(e, "feature")),
		       json_string_value(json_object_get(e, "version")),
		       json_string_value(json_object_get(e, "type")), copies ? ", " : "",
		       copies ? copies : "", json_string_value(json_object_get(e, "order")),
		       partner ? ", partner " : "", partner ? partner : "",
		       (long long)json_integer_value(json_object_get(e, "bought")),
		       (long long)json_integer_value(json_object_get(e, "activated")),
		       (long long)json_integer_value(json_object_get(e, "remaining")),
		       json_string_value(json_object_get(e, "end")),
		       json_is_true(json_object_get(e, "expired")) ? " (expired)" : "",
		       renews ? ", renews " : "", renews ? renews : "");
		json_array_foreach(json_object_get(e, "codes"), j, c)
		{
			printf("  code %s: bought %lld, activated %lld, remaining %lld\n",
			       json_string_value(json_object_get(c, "code")),
			       (long long)json_integer_value(json_object_get(c, "bought")),
			       (long long)json_integer_value(json_object_get(c, "activated")),
			       (long long)json_integer_value(json_object_get(c, "remaining")));
			json_array_foreach(json_object_get(c, "deployed"), k, d)
			        printf("    %lld on %s, until %s\n",
			               (long long)json_integer_value(json_object_get(d, "count")),
			               json_string_value(json_object_get(d, "host_desc"))
			                       ?: "(no description)",
			               json_string_value(json_object_get(d, "expiry")));
		}
	}
}

/* "60d", "60": days from today. */
static int parse_days(const char *text, int32_t *by)
{
	char *end;
	long n = strtol(text, &end, 10);
	if (end == text || (*end && strcmp(end, "d")) || n < 0 || n > 36500 || text[0] == '-')
		return lmvendor_usage_error(
		        "--expiring '%.20s' is not a number of days such as 60d", text);
	*by = kc_today() + (int32_t)n;
	return 0;
}

int lmvendor_cmd_inventory(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"site", required_argument, NULL, 'S'},
	        {"expiring", required_argument, NULL, 'x'},
	        {"expiring-within", required_argument, NULL, 'x'},
	        {"csv", no_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL, *site = NULL;
	bool csv = false;
	int32_t by = LM_DATE_NONE;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'S': rc = kc_check_number("--site", site = optarg); break;
		case 'x': rc = parse_days(optarg, &by); break;
		case 'c': csv = true; break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("inventory");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (!site)
		return lmvendor_usage_error("inventory needs --site S");
	if (csv && lm_report_is_json())
		return lmvendor_usage_error("inventory: give --json or --csv, not both");
	if (optind != argc)
		return lmvendor_usage_error("inventory takes options only");
	struct lm_kc kc;
	if ((rc = kc_open(&kc, store, false)) != 0)
		return rc;
	json_t *doc = NULL;
	int status = kc_inventory(&kc, site, by, &doc);
	if (status == 0) {
		if (lm_report_is_json())
			status = lm_report_print(json_incref(doc));
		else if (csv)
			print_csv(json_object_get(doc, "entitlements"));
		else
			print_text(site, json_object_get(doc, "entitlements"));
	}
	json_decref(doc);
	lm_kc_close(&kc);
	return status;
}
