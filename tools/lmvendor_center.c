/* lmvendor's key center: opening the store, the checks every command
 * shares (lmvendor_center.h), and the accounts: `site add|show|list`.
 * Orders are lmvendor_center_order.c, codes and inventory
 * lmvendor_center_codes.c, activation lmvendor_center_activate.c. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
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

int kc_open(struct lm_kc *kc, const char *store_flag, bool create)
{
	const char *path = store_flag ? store_flag : getenv("LMVENDOR_STORE");
	if (!path || !*path) {
		memset(kc, 0, sizeof *kc);
		lm_report_fail(LMC_EINVAL,
		               "which key-center store? give --store PATH or set LMVENDOR_STORE");
		return LMVENDOR_EXIT_USAGE;
	}
	int rc = lm_kc_open(kc, path, create);
	if (rc) {
		lm_report_fail(rc, "%s", kc->error);
		lm_kc_close(kc);
		return 1;
	}
	return 0;
}

int kc_fail(struct lm_kc *kc, int rc)
{
	lm_kc_abort(kc);
	lm_report_fail(rc, "%s", kc->error);
	return 1;
}

int kc_check_text(const char *what, const char *value, size_t max)
{
	if (!*value)
		return lmvendor_usage_error("%s is empty", what);
	if (strlen(value) > max)
		return lmvendor_usage_error("%s is longer than %zu characters", what, max);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return lmvendor_usage_error("%s cannot contain control characters", what);
		if (*p == '"' || *p == '\\')
			return lmvendor_usage_error("%s cannot contain '%c'", what, *p);
	}
	return 0;
}

int kc_check_number(const char *what, const char *value)
{
	int rc = kc_check_text(what, value, KC_NUMBER_MAX);
	if (rc)
		return rc;
	for (const char *p = value; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
			return lmvendor_usage_error(
			        "%s '%s': use letters, digits, '-', '_' and '.' only", what, value);
	return 0;
}

long kc_parse_count(const char *what, const char *text, bool zero_ok)
{
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (!isdigit((unsigned char)*text) || *end || errno || n > KC_QUANTITY_MAX ||
	    (n == 0 && !zero_ok)) {
		lmvendor_usage_error("%s '%s' is not a whole number from %d to %d", what, text,
		                     zero_ok ? 0 : 1, KC_QUANTITY_MAX);
		return -1;
	}
	return n;
}

const char *kc_type_canonical(const char *typed)
{
	static const char *const types[] = {"concurrent", "authorized-user", KC_TYPE_SINGLE_COPY,
	                                    "named-user"};
	if (!strcmp(typed, "authorized-user-copy"))
		return "authorized-user";
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (!strcmp(typed, types[i]))
			return types[i];
	return NULL;
}

bool kc_type_node_locked(const char *type)
{
	return !strcmp(type, "authorized-user") || kc_type_single_copy(type);
}

bool kc_type_single_copy(const char *type)
{
	return !strcmp(type, KC_TYPE_SINGLE_COPY);
}

const char *kc_type_copies(const char *type)
{
	if (!kc_type_node_locked(type))
		return NULL;
	return kc_type_single_copy(type) ? "single copy" : "right to copy";
}

int32_t kc_today(void)
{
#ifdef LM_TEST_HOOKS
	const char *text = getenv("LMVENDOR_TODAY");
	int32_t day;
	if (text && lm_date_parse(text, &day) == 0 && day != LM_DATE_PERMANENT)
		return day;
#endif
	return lm_date_today();
}

json_t *kc_date_json(int32_t day)
{
	if (day == LM_DATE_NONE)
		return json_null();
	char buf[16];
	lm_date_format(day, buf, sizeof buf);
	return lm_json_text(buf);
}

int32_t kc_date_of(json_t *rec, const char *field)
{
	const char *text = json_string_value(json_object_get(rec, field));
	int32_t day;
	if (!text || lm_date_parse(text, &day) != 0)
		return LM_DATE_NONE;
	return day;
}

int kc_term(struct lm_kc *kc, json_t *ent, int32_t *end, int32_t *maintenance)
{
	*end = kc_date_of(ent, "end");
	*maintenance = kc_date_of(ent, "maintenance");
	size_t i;
	json_t *id;
	json_array_foreach(json_object_get(ent, "renewed_by"), i, id)
	{
		char key[LM_KC_KEY_MAX + 1];
		json_t *renewal = NULL;
		if (!json_is_string(id) ||
		    lm_kc_key(key, sizeof key, "entitlement/%s", json_string_value(id)) != 0 ||
		    lm_kc_get(kc, key, &renewal) != 0) {
			lm_kc_fail(
			        kc, LMC_EIO,
			        "the key-center store %s is corrupted: a renewal of %s is missing",
			        kc->path, json_string_value(json_object_get(ent, "id")));
			return LMC_EIO;
		}
		int32_t e = kc_date_of(renewal, "end"), m = kc_date_of(renewal, "maintenance");
		if (e > *end)
			*end = e;
		if (m != LM_DATE_NONE && (*maintenance == LM_DATE_NONE || m > *maintenance))
			*maintenance = m;
		json_decref(renewal);
	}
	return 0;
}

/* ---- site ----------------------------------------------------------------- */

static const char *const contact_roles[] = {"primary", "technical", "administrative",
                                            "renewal", "shipping",  "billing"};

/* --contact ROLE=TEXT into contacts. */
static int add_contact(json_t *contacts, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : 0;
	for (size_t i = 0; eq && i < sizeof contact_roles / sizeof *contact_roles; i++) {
		if (strlen(contact_roles[i]) != len || strncmp(arg, contact_roles[i], len) != 0)
			continue;
		int rc = kc_check_text("--contact", eq + 1, KC_TEXT_MAX);
		if (rc)
			return rc;
		lm_json_set(contacts, contact_roles[i], lm_json_text(eq + 1));
		return 0;
	}
	return lmvendor_usage_error(
	        "--contact '%.40s': write ROLE=\"Name <mail>\" with ROLE one of "
	        "primary, technical, administrative, renewal, shipping, billing",
	        arg);
}

static void print_site(json_t *site)
{
	printf("site %s: %s\n", json_string_value(json_object_get(site, "number")),
	       json_string_value(json_object_get(site, "company")));
	const char *role;
	json_t *who;
	json_object_foreach(json_object_get(site, "contacts"), role, who)
	        printf("  %-14s %s\n", role, json_string_value(who));
}

/* The welcome message of a new site, to its contacts (--outbox). */
static int welcome(struct lm_kc *kc, const char *outbox, json_t *site, char *path, size_t size)
{
	char subject[512], body[2048];
	const char *number = json_string_value(json_object_get(site, "number"));
	const char *company = json_string_value(json_object_get(site, "company"));
	snprintf(subject, sizeof subject, "Welcome to the key center: site %s, %s", number,
	         company);
	snprintf(body, sizeof body,
	         "Welcome.\n\n"
	         "%s now has a site account with us: site number %s.\n"
	         "Quote it with every order, support call and renewal.\n\n"
	         "What you buy appears as entitlements on this site. Your contacts make\n"
	         "authorization codes from them, and turn a code and a machine's lock code\n"
	         "(lmutil lmhostid prints it) into a license. Colleagues who should act\n"
	         "for the site ask for access, and a site admin approves them.\n",
	         company, number);
	return kc_outbox_send(kc, outbox, number, "welcome", subject, body, path, size);
}

static int site_add(struct lm_kc *kc, const char *number, const char *company, json_t *contacts,
                    const char *vendor, const char *outbox)
{
	int rc = lm_kc_begin(kc, true);
	json_t *meta = NULL, *site = NULL;
	char key[LM_KC_KEY_MAX + 1];
	if (rc || (rc = lm_kc_get(kc, "meta", &meta)) != 0)
		return kc_fail(kc, rc < 0 ? rc : LMC_EIO);
	const char *have = json_string_value(json_object_get(meta, "vendor"));
	if (!have && !vendor) {
		json_decref(meta);
		lm_kc_abort(kc);
		return lmvendor_usage_error("site add: a new store needs --vendor NAME (the VENDOR "
		                            "of the licenses it will issue)");
	}
	if (have && vendor && strcmp(have, vendor) != 0) {
		lm_report_fail(LMC_EVENDOR,
		               "site add: this store issues licenses of vendor %s, not %s", have,
		               vendor);
		json_decref(meta);
		lm_kc_abort(kc);
		return 1;
	}
	if (!have) {
		lm_json_set(meta, "vendor", lm_json_text(vendor));
		rc = lm_kc_put(kc, "meta", meta);
	}
	json_decref(meta);
	char generated[KC_NUMBER_MAX + 1];
	if (!number && rc == 0) {
		long long n = 0;
		rc = lm_kc_next(kc, "site", &n);
		snprintf(generated, sizeof generated, "S%lld", 1000 + n);
		number = generated;
	}
	if (rc || (rc = lm_kc_key(key, sizeof key, "site/%s", number)) != 0)
		return kc_fail(kc, rc);
	rc = lm_kc_get(kc, key, &site);
	if (rc == 0) {
		json_decref(site);
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "site add: site %s exists already", number);
		return 1;
	}
	if (rc < 0)
		return kc_fail(kc, rc);
	site = lm_json_object();
	lm_json_set(site, "number", lm_json_text(number));
	lm_json_set(site, "company", lm_json_text(company));
	lm_json_set(site, "contacts", json_incref(contacts));
	lm_json_set(site, "created", kc_date_json(kc_today()));
	if ((rc = lm_kc_put(kc, key, site)) != 0 || (rc = lm_kc_commit(kc)) != 0) {
		json_decref(site);
		return kc_fail(kc, rc);
	}
	char message[4096] = "";
	if (outbox && welcome(kc, outbox, site, message, sizeof message) != 0) {
		json_decref(site);
		return 1;
	}
	if (lm_report_is_json()) {
		if (outbox)
			lm_json_set(site, "message", lm_json_text_or_null(message));
		return lm_report_print(site);
	}
	print_site(site);
	if (message[0])
		fprintf(stderr, "lmvendor: welcome message written to %s\n", message);
	json_decref(site);
	return 0;
}

int kc_collect(void *arg, const char *key, json_t *value)
{
	(void)key;
	lm_json_append(arg, json_incref(value));
	return 0;
}

/* The orders of a site, in order-number order. */
static int site_orders(void *arg, const char *key, json_t *value)
{
	(void)key;
	json_t **pair = arg;
	if (json_equal(json_object_get(value, "site"), json_object_get(pair[0], "number")))
		lm_json_append(pair[1], json_incref(value));
	return 0;
}

static int site_show_list(struct lm_kc *kc, const char *number)
{
	int rc = lm_kc_begin(kc, false);
	if (rc)
		return kc_fail(kc, rc);
	if (!number) {
		json_t *sites = lm_json_array();
		if ((rc = lm_kc_scan(kc, "site/", kc_collect, sites)) != 0) {
			json_decref(sites);
			return kc_fail(kc, rc);
		}
		lm_kc_abort(kc);
		if (lm_report_is_json()) {
			json_t *doc = lm_json_object();
			lm_json_set(doc, "sites", sites);
			return lm_report_print(doc);
		}
		size_t i;
		json_t *s;
		json_array_foreach(sites, i, s)
		        printf("%-10s %s\n", json_string_value(json_object_get(s, "number")),
		               json_string_value(json_object_get(s, "company")));
		json_decref(sites);
		return 0;
	}
	char key[LM_KC_KEY_MAX + 1];
	json_t *site = NULL;
	if (lm_kc_key(key, sizeof key, "site/%s", number) != 0 ||
	    (rc = lm_kc_get(kc, key, &site)) == LM_KC_NOTFOUND) {
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "site show: no site %s", number);
		return 1;
	}
	if (rc)
		return kc_fail(kc, rc);
	json_t *orders = lm_json_array();
	json_t *pair[2] = {site, orders};
	rc = lm_kc_scan(kc, "order/", site_orders, pair);
	lm_kc_abort(kc);
	if (rc) {
		json_decref(site);
		json_decref(orders);
		lm_report_fail(rc, "%s", kc->error);
		return 1;
	}
	lm_json_set(site, "orders", orders);
	if (lm_report_is_json())
		return lm_report_print(site);
	print_site(site);
	size_t i;
	json_t *o;
	json_array_foreach(orders, i, o)
	        printf("  order %s (PO %s, %s)\n", json_string_value(json_object_get(o, "number")),
	               json_string_value(json_object_get(o, "po")) ?: "none",
	               json_string_value(json_object_get(o, "date")));
	json_decref(site);
	return 0;
}

int lmvendor_cmd_site(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"number", required_argument, NULL, 'n'},
	        {"company", required_argument, NULL, 'c'},
	        {"contact", required_argument, NULL, 'C'},
	        {"vendor", required_argument, NULL, 'v'},
	        {"outbox", required_argument, NULL, 'o'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL, *number = NULL, *company = NULL, *vendor = NULL, *outbox = NULL;
	json_t *contacts = lm_json_object();
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'n': rc = kc_check_number("--number", number = optarg); break;
		case 'c': rc = kc_check_text("--company", company = optarg, KC_TEXT_MAX); break;
		case 'C': rc = add_contact(contacts, optarg); break;
		case 'o': outbox = optarg; break;
		case 'v':
			vendor = optarg;
			rc = kc_check_number("--vendor", vendor);
			if (rc == 0 && strlen(vendor) > LM_NAME_MAX)
				rc = lmvendor_usage_error("--vendor is too long");
			break;
		case 'j': lm_report_json(); break;
		case 'h': json_decref(contacts); return lmvendor_help("site");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	/* Options may come before or after the verb (getopt_long moves the
	 * words that are not options to the end). */
	const char *verb = optind < argc ? argv[optind++] : NULL;
	if (rc == 0 && !verb)
		rc = lmvendor_usage_error("site needs a verb: add, show or list");
	struct lm_kc kc;
	if (rc == 0 && !strcmp(verb, "add")) {
		if (!company)
			rc = lmvendor_usage_error("site add needs --company NAME");
		else if (optind != argc)
			rc = lmvendor_usage_error("site add takes options only");
		else if ((rc = kc_outbox_check(outbox)) == 0 &&
		         (rc = kc_open(&kc, store, true)) == 0) {
			rc = site_add(&kc, number, company, contacts, vendor, outbox);
			lm_kc_close(&kc);
		}
	} else if (rc == 0 && (!strcmp(verb, "show") || !strcmp(verb, "list"))) {
		bool show = !strcmp(verb, "show");
		const char *which = optind < argc ? argv[optind] : number;
		if (show && (!which || argc - optind > 1))
			rc = lmvendor_usage_error("site show takes one site number");
		else if (!show && optind != argc)
			rc = lmvendor_usage_error("site list takes options only");
		else if (show && (rc = kc_check_number("site", which)) != 0)
			;
		else if ((rc = kc_open(&kc, store, false)) == 0) {
			rc = site_show_list(&kc, show ? which : NULL);
			lm_kc_close(&kc);
		}
	} else if (rc == 0) {
		rc = lmvendor_usage_error("site: unknown verb '%.40s' (add, show or list)", verb);
	}
	json_decref(contacts);
	return rc;
}

/* ---- dump ------------------------------------------------------------------- */

static int print_record(void *arg, const char *key, json_t *value)
{
	(void)arg;
	char *text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_SORT_KEYS);
	if (!text)
		lm_json_out_of_memory();
	printf("%s %s\n", key, text);
	free(text);
	return 0;
}

int lmvendor_cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'h': return lmvendor_help("dump");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (argc - optind > 1)
		return lmvendor_usage_error("dump takes one key prefix at most");
	struct lm_kc kc;
	if ((rc = kc_open(&kc, store, false)) != 0)
		return rc;
	if ((rc = lm_kc_begin(&kc, false)) == 0)
		rc = lm_kc_scan(&kc, optind < argc ? argv[optind] : "", print_record, NULL);
	rc = rc ? kc_fail(&kc, rc) : 0;
	lm_kc_close(&kc);
	return rc;
}
