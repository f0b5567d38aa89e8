/* lmvendor's key center: `order add|show|list|partner|proof`, the orders of a site and
 * their entitlement lines (a bundle's components each get their own, a
 * renewal extends the term of the entitlement it names). */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

static bool feature_name(const char *s)
{
	if (!*s || strlen(s) > LM_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	return true;
}

/* A KEY=DATE word of a line; "perpetual" (and "permanent") for end=. */
static int line_date(const char *word, const char *key, int32_t *day)
{
	const char *v = word + strlen(key) + 1;
	if (!strcmp(key, "end") && (!strcmp(v, "perpetual") || !strcmp(v, "permanent"))) {
		*day = LM_DATE_PERMANENT;
		return 0;
	}
	if (lm_date_parse(v, day) != 0 || *day == LM_DATE_PERMANENT)
		return lmvendor_usage_error("order add: %s= '%.40s' is not a date (YYYY-MM-DD%s)",
		                            key, v, strcmp(key, "end") ? "" : " or perpetual");
	return 0;
}

struct order_line {
	char product[LM_NAME_MAX + 1], version[LM_VERSION_MAX + 1], type[32];
	char renews[KC_NUMBER_MAX + 1];
	long quantity;
	int32_t start, end, maintenance;
};

/* "PRODUCT VERSION TYPE QUANTITY [start=D] [end=D|perpetual]
 * [maintenance=D]", or "renew ENTITLEMENT end=D [maintenance=D]". */
static int parse_line(const char *text, struct order_line *l)
{
	memset(l, 0, sizeof *l);
	l->start = LM_DATE_NONE;
	l->end = LM_DATE_PERMANENT;
	l->maintenance = LM_DATE_NONE;
	char buf[512];
	if (kc_check_text("--line", text, sizeof buf - 1) != 0)
		return LMVENDOR_EXIT_USAGE;
	snprintf(buf, sizeof buf, "%s", text);
	char *words[8];
	int n = 0;
	for (char *save, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == 8)
			return lmvendor_usage_error("order add: --line '%.60s' has too many words",
			                            text);
		words[n++] = w;
	}
	bool renewal = n > 0 && !strcmp(words[0], "renew");
	int positional = renewal ? 2 : 4;
	bool has_end = false;
	if (n < positional)
		return lmvendor_usage_error(
		        "order add: --line '%.60s': write \"PRODUCT VERSION TYPE QUANTITY "
		        "[start=DATE] [end=DATE|perpetual] [maintenance=DATE]\" or \"renew "
		        "ENTITLEMENT end=DATE\"",
		        text);
	for (int i = positional; i < n; i++) {
		int rc;
		if (!strncmp(words[i], "start=", 6))
			rc = line_date(words[i], "start", &l->start);
		else if (!strncmp(words[i], "end=", 4))
			rc = line_date(words[i], "end", &l->end), has_end = true;
		else if (!strncmp(words[i], "maintenance=", 12))
			rc = line_date(words[i], "maintenance", &l->maintenance);
		else
			rc = lmvendor_usage_error(
			        "order add: unknown word '%.40s' in --line (start=, "
			        "end=, maintenance=)",
			        words[i]);
		if (rc)
			return rc;
	}
	if (renewal) {
		if (kc_check_number("renew", words[1]) != 0)
			return LMVENDOR_EXIT_USAGE;
		if (!has_end)
			return lmvendor_usage_error("order add: a renewal needs end=DATE");
		snprintf(l->renews, sizeof l->renews, "%s", words[1]);
		return 0;
	}
	if (!feature_name(words[0]))
		return lmvendor_usage_error(
		        "order add: product '%.40s' is not a feature or bundle name "
		        "(letters, digits, '_', '-'; at most %d)",
		        words[0], LM_NAME_MAX);
	if (!lm_version_valid(words[1]))
		return lmvendor_usage_error(
		        "order add: version '%.20s' is not a version such as 29.0", words[1]);
	const char *type = kc_type_canonical(words[2]);
	if (!type)
		return lmvendor_usage_error(
		        "order add: license type '%.30s' is not concurrent, authorized-user "
		        "(right to copy; also spelt authorized-user-copy), authorized-user-single "
		        "(single copy) or named-user",
		        words[2]);
	if ((l->quantity = kc_parse_count("quantity", words[3], false)) < 0)
		return LMVENDOR_EXIT_USAGE;
	snprintf(l->product, sizeof l->product, "%s", words[0]);
	snprintf(l->version, sizeof l->version, "%s", words[1]);
	snprintf(l->type, sizeof l->type, "%s", type);
	if (l->start != LM_DATE_NONE && l->end < l->start)
		return lmvendor_usage_error("order add: the term of '%.40s' ends before it starts",
		                            text);
	return 0;
}

/* --bundle NAME=A,B,C into bundles (name -> array of components). */
static int add_bundle(json_t *bundles, const char *arg)
{
	char buf[512];
	const char *eq = strchr(arg, '=');
	if (!eq || strlen(arg) >= sizeof buf)
		return lmvendor_usage_error("--bundle '%.40s': write NAME=FEATURE,FEATURE,...",
		                            arg);
	snprintf(buf, sizeof buf, "%.*s", (int)(eq - arg), arg);
	if (!feature_name(buf))
		return lmvendor_usage_error("--bundle: '%.40s' is not a bundle name", buf);
	json_t *parts = lm_json_array();
	json_object_set_new(bundles, buf, parts);
	snprintf(buf, sizeof buf, "%s", eq + 1);
	for (char *save, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!feature_name(w))
			return lmvendor_usage_error(
			        "--bundle: component '%.40s' is not a feature name", w);
		if (json_array_size(parts) == 16)
			return lmvendor_usage_error("--bundle: at most 16 components");
		lm_json_append(parts, lm_json_text(w));
	}
	if (json_array_size(parts) == 0)
		return lmvendor_usage_error("--bundle '%.40s' names no component", arg);
	return 0;
}

/* Writes one new entitlement; its id is appended to ids. */
static int put_entitlement(struct lm_kc *kc, json_t *ent, json_t *ids)
{
	long long n;
	char id[32], key[LM_KC_KEY_MAX + 1];
	int rc = lm_kc_next(kc, "entitlement", &n);
	if (rc)
		return rc;
	snprintf(id, sizeof id, "E%lld", n);
	json_object_set_new(ent, "id", lm_json_text(id));
	lm_kc_key(key, sizeof key, "entitlement/%s", id);
	lm_json_append(ids, lm_json_text(id));
	return lm_kc_put(kc, key, ent);
}

int kc_renewal_add(struct lm_kc *kc, const char *site, const char *order, const char *renews,
                   int32_t until, int32_t maintenance_until, json_t *ids)
{
	char key[LM_KC_KEY_MAX + 1];
	json_t *old = NULL;
	int rc = lm_kc_key(key, sizeof key, "entitlement/%s", renews);
	if (rc == 0)
		rc = lm_kc_get(kc, key, &old);
	if (rc == LM_KC_NOTFOUND ||
	    (rc == 0 && strcmp(json_string_value(json_object_get(old, "site")) ?: "", site))) {
		json_decref(old);
		lm_kc_fail(kc, LMC_EINVAL, "site %s has no entitlement %s", site, renews);
		return LMC_EINVAL;
	}
	if (rc)
		return rc;
	int32_t end, maintenance;
	if ((rc = kc_term(kc, old, &end, &maintenance)) != 0) {
		json_decref(old);
		return rc;
	}
	if (end == LM_DATE_PERMANENT || until <= end) {
		char end_text[16];
		lm_date_format(end, end_text, sizeof end_text);
		json_decref(old);
		lm_kc_fail(kc, LMC_EINVAL,
		           "renew %s: the new end must come after its current end (%s)", renews,
		           end_text);
		return LMC_EINVAL;
	}
	json_t *ent = json_deep_copy(old);
	json_object_del(ent, "renewed_by");
	json_object_del(ent, "codes");
	lm_json_set(ent, "order", lm_json_text(order));
	lm_json_set(ent, "renews", lm_json_text(renews));
	lm_json_set(ent, "start", kc_date_json(end + 1));
	lm_json_set(ent, "end", kc_date_json(until));
	lm_json_set(ent, "maintenance", kc_date_json(maintenance_until));
	/* A renewal extends the codes of the entitlement it renews; it has no
	 * quantity of its own to hand out. */
	lm_json_set(ent, "assigned", json_incref(json_object_get(ent, "quantity")));
	rc = put_entitlement(kc, ent, ids);
	if (rc == 0) {
		json_t *by = json_object_get(old, "renewed_by");
		if (!by)
			json_object_set_new(old, "renewed_by", by = lm_json_array());
		lm_json_append(by, json_incref(json_object_get(ent, "id")));
		rc = lm_kc_put(kc, key, old);
	}
	json_decref(ent);
	json_decref(old);
	return rc;
}

static json_t *new_entitlement(const char *site, const char *order, const struct order_line *l,
                               const char *feature)
{
	json_t *ent = lm_json_object();
	lm_json_set(ent, "id", json_null());
	lm_json_set(ent, "site", lm_json_text(site));
	lm_json_set(ent, "order", lm_json_text(order));
	lm_json_set(ent, "product", lm_json_text(l->product));
	lm_json_set(ent, "feature", lm_json_text(feature));
	lm_json_set(ent, "version", lm_json_text(l->version));
	lm_json_set(ent, "type", lm_json_text(l->type));
	lm_json_set(ent, "quantity", lm_json_int(l->quantity));
	lm_json_set(ent, "assigned", lm_json_int(0));
	lm_json_set(ent, "start", kc_date_json(l->start));
	lm_json_set(ent, "end", kc_date_json(l->end));
	lm_json_set(ent, "maintenance", kc_date_json(l->maintenance));
	return ent;
}

/* The renewal notice of an order's renewal lines (--outbox), to the
 * site's renewal and administrative contacts. */
static int renewal_notice(struct lm_kc *kc, const char *outbox, const char *site,
                          const char *number, const struct order_line *lines, int nlines,
                          char *path, size_t size)
{
	char subject[256], body[8192], end[16], maintenance[16];
	size_t len = 0;
	int renewals = 0;
	len += (size_t)snprintf(body, sizeof body,
	                        "Order %s renews the terms of site %s's entitlements:\n\n", number,
	                        site);
	for (int i = 0; i < nlines && len < sizeof body; i++) {
		if (!lines[i].renews[0])
			continue;
		renewals++;
		lm_date_format(lines[i].end, end, sizeof end);
		lm_date_format(lines[i].maintenance, maintenance, sizeof maintenance);
		len += (size_t)snprintf(
		        body + len, sizeof body - len, "    entitlement %s: now until %s%s%s\n",
		        lines[i].renews, end,
		        lines[i].maintenance != LM_DATE_NONE ? ", maintenance until " : "",
		        lines[i].maintenance != LM_DATE_NONE ? maintenance : "");
	}
	if (!renewals)
		return 0;
	if (len < sizeof body)
		snprintf(
		        body + len, sizeof body - len,
		        "\nYour license servers keep running on their current licenses until\n"
		        "those end. To have the new dates now, re-activate each host with\n"
		        "--count 0 (or ask us for the re-issued files) and run lmutil lmreread.\n");
	snprintf(subject, sizeof subject, "Renewal notice: order %s, site %s", number, site);
	return kc_outbox_send(kc, outbox, site, "renewal", subject, body, path, size);
}

static int order_add(struct lm_kc *kc, const char *site, const char *number, const char *po,
                     const char *partner, int32_t date, json_t *bundles,
                     const struct order_line *lines, int nlines, const char *outbox)
{
	char key[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL;
	int rc = lm_kc_begin(kc, true);
	if (rc)
		return kc_fail(kc, rc);
	lm_kc_key(key, sizeof key, "site/%s", site);
	if ((rc = lm_kc_get(kc, key, &rec)) == LM_KC_NOTFOUND) {
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "order add: no site %s", site);
		return 1;
	}
	json_decref(rec);
	if (rc)
		return kc_fail(kc, rc);
	lm_kc_key(key, sizeof key, "order/%s", number);
	if ((rc = lm_kc_get(kc, key, &rec)) == 0) {
		json_decref(rec);
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "order add: order %s exists already", number);
		return 1;
	}
	if (rc < 0)
		return kc_fail(kc, rc);
	json_t *ids = lm_json_array();
	rc = 0;
	for (int i = 0; rc == 0 && i < nlines; i++) {
		const struct order_line *l = &lines[i];
		if (l->renews[0]) {
			rc = kc_renewal_add(kc, site, number, l->renews, l->end, l->maintenance,
			                    ids);
			continue;
		}
		json_t *parts = json_object_get(bundles, l->product);
		size_t nparts = parts ? json_array_size(parts) : 1;
		for (size_t p = 0; rc == 0 && p < nparts; p++) {
			const char *feature =
			        parts ? json_string_value(json_array_get(parts, p)) : l->product;
			json_t *ent = new_entitlement(site, number, l, feature);
			if (parts)
				lm_json_set(ent, "bundle", lm_json_text(l->product));
			rc = put_entitlement(kc, ent, ids);
			json_decref(ent);
		}
	}
	json_t *order = lm_json_object();
	lm_json_set(order, "number", lm_json_text(number));
	lm_json_set(order, "site", lm_json_text(site));
	lm_json_set(order, "po", lm_json_text_or_null(po));
	lm_json_set(order, "date", kc_date_json(date));
	lm_json_set(order, "entitlements", ids);
	if (partner)
		kc_partner_set(order, partner, date);
	if (rc || (rc = lm_kc_put(kc, key, order)) != 0 || (rc = lm_kc_commit(kc)) != 0) {
		json_decref(order);
		return kc_fail(kc, rc);
	}
	char message[4096] = "";
	if (outbox &&
	    renewal_notice(kc, outbox, site, number, lines, nlines, message, sizeof message) != 0) {
		json_decref(order);
		return 1;
	}
	if (message[0] && !lm_report_is_json())
		fprintf(stderr, "lmvendor: renewal notice written to %s\n", message);
	if (lm_report_is_json()) {
		if (outbox)
			lm_json_set(order, "message", lm_json_text_or_null(message));
		return lm_report_print(order);
	}
	printf("order %s for site %s: entitlements", number, site);
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id) printf(" %s", json_string_value(id));
	printf("\n");
	json_decref(order);
	return 0;
}

/* An order with its entitlement records in place of their ids. */
static int order_expand(struct lm_kc *kc, json_t *order)
{
	json_t *lines = lm_json_array();
	size_t i;
	json_t *id;
	json_array_foreach(json_object_get(order, "entitlements"), i, id)
	{
		char key[LM_KC_KEY_MAX + 1];
		json_t *ent = NULL;
		if (!json_is_string(id) ||
		    lm_kc_key(key, sizeof key, "entitlement/%s", json_string_value(id)) != 0 ||
		    lm_kc_get(kc, key, &ent) != 0) {
			json_decref(lines);
			lm_kc_fail(
			        kc, LMC_EIO,
			        "the key-center store %s is corrupted: an entitlement of order %s "
			        "is missing",
			        kc->path, json_string_value(json_object_get(order, "number")));
			return LMC_EIO;
		}
		lm_json_append(lines, ent);
	}
	lm_json_set(order, "entitlements", lines);
	return 0;
}

static void print_order(json_t *o)
{
	const char *partner = json_string_value(json_object_get(o, "partner"));
	printf("order %s, site %s, PO %s, %s%s%s\n",
	       json_string_value(json_object_get(o, "number")),
	       json_string_value(json_object_get(o, "site")),
	       json_string_value(json_object_get(o, "po")) ?: "none",
	       json_string_value(json_object_get(o, "date")), partner ? ", partner " : "",
	       partner ? partner : "");
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "entitlements"), i, e)
	{
		const char *renews = json_string_value(json_object_get(e, "renews"));
		const char *type = json_string_value(json_object_get(e, "type")) ?: "?";
		const char *copies = kc_type_copies(type);
		printf("  %-5s %s %s %s%s%s%s x%lld, until %s%s%s\n",
		       json_string_value(json_object_get(e, "id")),
		       json_string_value(json_object_get(e, "feature")),
		       json_string_value(json_object_get(e, "version")), type, copies ? " (" : "",
		       copies ? copies : "", copies ? ")" : "",
		       (long long)json_integer_value(json_object_get(e, "quantity")),
		       json_string_value(json_object_get(e, "end")), renews ? ", renews " : "",
		       renews ? renews : "");
	}
}

static int order_show_list(struct lm_kc *kc, const char *number, const char *site)
{
	int rc = lm_kc_begin(kc, false);
	if (rc)
		return kc_fail(kc, rc);
	json_t *orders = lm_json_array();
	if (number) {
		char key[LM_KC_KEY_MAX + 1];
		json_t *o = NULL;
		lm_kc_key(key, sizeof key, "order/%s", number);
		if ((rc = lm_kc_get(kc, key, &o)) == LM_KC_NOTFOUND) {
			json_decref(orders);
			lm_kc_abort(kc);
			lm_report_fail(LMC_EINVAL, "order show: no order %s", number);
			return 1;
		}
		if (rc == 0)
			lm_json_append(orders, o);
	} else {
		rc = lm_kc_scan(kc, "order/", kc_collect, orders);
	}
	size_t i;
	json_t *o;
	json_array_foreach(orders, i, o)
	{
		if (rc == 0 && site &&
		    strcmp(json_string_value(json_object_get(o, "site")) ?: "", site))
			json_array_remove(orders, i--);
		else if (rc == 0)
			rc = order_expand(kc, o);
	}
	if (rc) {
		json_decref(orders);
		return kc_fail(kc, rc);
	}
	lm_kc_abort(kc);
	if (lm_report_is_json()) {
		if (number) {
			json_t *doc = json_incref(json_array_get(orders, 0));
			json_decref(orders);
			return lm_report_print(doc);
		}
		json_t *doc = lm_json_object();
		lm_json_set(doc, "orders", orders);
		return lm_report_print(doc);
	}
	json_array_foreach(orders, i, o) print_order(o);
	json_decref(orders);
	return 0;
}

int lmvendor_cmd_order(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"site", required_argument, NULL, 'S'},
	        {"order", required_argument, NULL, 'n'},
	        {"po", required_argument, NULL, 'p'},
	        {"date", required_argument, NULL, 'd'},
	        {"bundle", required_argument, NULL, 'b'},
	        {"line", required_argument, NULL, 'l'},
	        {"json", no_argument, NULL, 'j'},
	        {"partner", required_argument, NULL, 'P'},
	        {"pdf", required_argument, NULL, 'F'},
	        {"outbox", required_argument, NULL, 'o'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	enum { MAX_LINES = 64 };
	const char *store = NULL, *site = NULL, *number = NULL, *po = NULL, *partner = NULL,
	           *pdf = NULL, *outbox = NULL;
	int32_t date = kc_today();
	json_t *bundles = lm_json_object();
	static struct order_line lines[MAX_LINES];
	int nlines = 0, c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'S': rc = kc_check_number("--site", site = optarg); break;
		case 'n': rc = kc_check_number("--order", number = optarg); break;
		case 'p': rc = kc_check_text("--po", po = optarg, KC_NUMBER_MAX); break;
		case 'P': rc = kc_check_text("--partner", partner = optarg, KC_TEXT_MAX); break;
		case 'o': outbox = optarg; break;
		case 'F':
			if (!*(pdf = optarg))
				rc = lmvendor_usage_error("--pdf needs a file name");
			break;
		case 'd':
			if (lm_date_parse(optarg, &date) != 0 || date == LM_DATE_PERMANENT)
				rc = lmvendor_usage_error("--date '%.40s' is not a date", optarg);
			break;
		case 'b': rc = add_bundle(bundles, optarg); break;
		case 'l':
			if (nlines == MAX_LINES)
				rc = lmvendor_usage_error("order add: at most %d lines", MAX_LINES);
			else
				rc = parse_line(optarg, &lines[nlines++]);
			break;
		case 'j': lm_report_json(); break;
		case 'h': json_decref(bundles); return lmvendor_help("order");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	/* Options may come before or after the verb (getopt_long moves the
	 * words that are not options to the end). */
	const char *verb = optind < argc ? argv[optind++] : NULL;
	if (rc == 0 && !verb)
		rc = lmvendor_usage_error("order needs a verb: add, show, list, partner or proof");
	struct lm_kc kc;
	if (rc == 0 && !strcmp(verb, "add")) {
		if (!site || !number || nlines == 0)
			rc = lmvendor_usage_error("order add needs --site S, --order NUMBER and at "
			                          "least one --line");
		else if (optind != argc)
			rc = lmvendor_usage_error("order add takes options only");
		else if ((rc = kc_outbox_check(outbox)) == 0 &&
		         (rc = kc_open(&kc, store, false)) == 0) {
			rc = order_add(&kc, site, number, po, partner, date, bundles, lines, nlines,
			               outbox);
			lm_kc_close(&kc);
		}
	} else if (rc == 0 && (!strcmp(verb, "show") || !strcmp(verb, "list"))) {
		bool show = !strcmp(verb, "show");
		const char *which = optind < argc ? argv[optind] : number;
		if (show && (!which || argc - optind > 1))
			rc = lmvendor_usage_error("order show takes one order number");
		else if (!show && optind != argc)
			rc = lmvendor_usage_error("order list takes options only");
		else if (show && (rc = kc_check_number("order", which)) != 0)
			;
		else if ((rc = kc_open(&kc, store, false)) == 0) {
			rc = order_show_list(&kc, show ? which : NULL, site);
			lm_kc_close(&kc);
		}
	} else if (rc == 0 && !strcmp(verb, "partner")) {
		const char *which = optind < argc ? argv[optind] : number;
		if (!which || argc - optind > 1 || site || nlines)
			rc = lmvendor_usage_error("order partner takes one order number and "
			                          "[--partner NAME]");
		else if ((rc = kc_check_number("order", which)) == 0 &&
		         (rc = kc_open(&kc, store, false)) == 0) {
			rc = kc_order_partner(&kc, which, partner);
			lm_kc_close(&kc);
		}
	} else if (rc == 0 && !strcmp(verb, "proof")) {
		const char *which = optind < argc ? argv[optind] : number;
		if (!which || argc - optind > 1 || site || nlines || partner)
			rc = lmvendor_usage_error(
			        "order proof takes one order number and [--pdf FILE]");
		else if ((rc = kc_check_number("order", which)) == 0 &&
		         (rc = kc_open(&kc, store, false)) == 0) {
			rc = kc_order_proof(&kc, which, pdf);
			lm_kc_close(&kc);
		}
	} else if (rc == 0) {
		rc = lmvendor_usage_error(
		        "order: unknown verb '%.40s' (add, show, list, partner or proof)", verb);
	}
	json_decref(bundles);
	return rc;
}
