/* lmvendor's key center: the members of a site (`member add|request|
 * approve|list`), the people who may act for it, each with admin or
 * member rights.
 *
 * The vendor adds a site's first members (member add: active at once).
 * Anyone else asks (member request: pending), and an active admin of the
 * same site lets them in (member approve --by ADMIN), as a key center's
 * "request access to this site account" does.  A customer API token
 * (token create --role customer --member EMAIL) is made for an active
 * member of its site only, so that who called the API is a person the site
 * approved.
 *
 *   member/<site>/<email>  {"site","email","name","rights":"admin"|"member",
 *                           "state":"pending"|"active","requested",
 *                           "approved","approved_by"} */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

#define EMAIL_MAX 120

/* A plain address: local@domain, no spaces, quotes or angle brackets, so
 * that it is safe as a record key and in a To: header. */
int kc_check_email(const char *what, const char *value)
{
	int rc = kc_check_text(what, value, EMAIL_MAX);
	if (rc)
		return rc;
	const char *at = strchr(value, '@');
	bool valid = at && at != value && at[1] && !strchr(at + 1, '@') && strchr(at + 1, '.');
	for (const char *p = value; valid && *p; p++)
		valid = isalnum((unsigned char)*p) || strchr("@.-_+", *p);
	if (!valid)
		return lmvendor_usage_error("%s '%.60s' is not an e-mail address such as "
		                            "ann@example.com",
		                            what, value);
	return 0;
}

int kc_check_rights(const char *value)
{
	if (strcmp(value, "admin") && strcmp(value, "member"))
		return lmvendor_usage_error("--rights '%.20s' is not admin or member", value);
	return 0;
}

static json_t *member_get(struct lm_kc *kc, const char *site, const char *email, int *rc)
{
	char key[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL;
	*rc = lm_kc_key(key, sizeof key, "member/%s/%s", site, email);
	if (*rc == 0)
		*rc = lm_kc_get(kc, key, &rec);
	return rec;
}

int kc_member_active(struct lm_kc *kc, const char *site, const char *email, const char *rights)
{
	int rc;
	json_t *rec = member_get(kc, site, email, &rc);
	if (rc)
		return rc;
	bool ok = !strcmp(json_string_value(json_object_get(rec, "state")) ?: "", "active") &&
	          (!rights ||
	           !strcmp(json_string_value(json_object_get(rec, "rights")) ?: "", rights));
	json_decref(rec);
	return ok ? 0 : LM_KC_NOTFOUND;
}

static void print_member(json_t *m)
{
	printf("%-32s %-7s %-8s %s\n", json_string_value(json_object_get(m, "email")),
	       json_string_value(json_object_get(m, "rights")),
	       json_string_value(json_object_get(m, "state")),
	       json_string_value(json_object_get(m, "name")) ?: "");
}

int kc_member_change(struct lm_kc *kc, const char *verb, const char *site, const char *email,
                     const char *name, const char *rights, const char *by, json_t **answer)
{
	char key[LM_KC_KEY_MAX + 1], today[16];
	json_t *rec = NULL;
	int rc = lm_kc_begin(kc, true);
	if (rc)
		return kc_fail(kc, rc);
	lm_kc_key(key, sizeof key, "site/%s", site);
	if ((rc = lm_kc_get(kc, key, &rec)) == LM_KC_NOTFOUND) {
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "member %s: no site %s; nothing was changed", verb,
		               site);
		return 1;
	}
	json_decref(rec);
	rec = NULL;
	if (rc || (rc = lm_kc_key(key, sizeof key, "member/%s/%s", site, email)) != 0)
		return kc_fail(kc, rc);
	if ((rc = lm_kc_get(kc, key, &rec)) < 0)
		return kc_fail(kc, rc);
	lm_date_format(kc_today(), today, sizeof today);
	const char *state = rec ? json_string_value(json_object_get(rec, "state")) : NULL;
	const char *refusal = NULL;
	if (!strcmp(verb, "approve")) {
		if (!rec)
			refusal = "has not asked for access";
		else if (strcmp(state ?: "", "pending") != 0)
			refusal = "is a member already";
		else if (by && (rc = kc_member_active(kc, site, by, "admin")) < 0) {
			json_decref(rec);
			return kc_fail(kc, rc);
		} else if (by && rc) {
			json_decref(rec);
			lm_kc_abort(kc);
			lm_report_fail(LMC_EDENIED,
			               "member approve: %s is not an admin of site %s: only a site "
			               "admin approves access; nothing was changed",
			               by, site);
			return 1;
		}
	} else if (rec) {
		refusal = strcmp(state ?: "", "pending") ? "is a member already"
		                                         : "has asked for access already";
	}
	if (refusal) {
		json_decref(rec);
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "member %s: %s %s of site %s; nothing was changed", verb,
		               email, refusal, site);
		return 1;
	}
	if (!rec) {
		rec = lm_json_object();
		lm_json_set(rec, "site", lm_json_text(site));
		lm_json_set(rec, "email", lm_json_text(email));
		lm_json_set(rec, "name", lm_json_text_or_null(name));
		lm_json_set(rec, "rights", lm_json_text(rights ? rights : "member"));
		lm_json_set(rec, "state", lm_json_text("pending"));
		lm_json_set(rec, "requested", lm_json_text(today));
		lm_json_set(rec, "approved", json_null());
		lm_json_set(rec, "approved_by", json_null());
	}
	if (!strcmp(verb, "approve") && rights)
		lm_json_set(rec, "rights", lm_json_text(rights));
	if (strcmp(verb, "request") != 0) {
		lm_json_set(rec, "state", lm_json_text("active"));
		lm_json_set(rec, "approved", lm_json_text(today));
		lm_json_set(rec, "approved_by", lm_json_text(by ? by : "vendor"));
	}
	if ((rc = lm_kc_put(kc, key, rec)) != 0 || (rc = lm_kc_commit(kc)) != 0) {
		json_decref(rec);
		return kc_fail(kc, rc);
	}
	*answer = rec;
	return 0;
}

/* add (active), request (pending) or approve (pending -> active). */
static int change(struct lm_kc *kc, const char *verb, const char *site, const char *email,
                  const char *name, const char *rights, const char *by)
{
	json_t *rec = NULL;
	int rc = kc_member_change(kc, verb, site, email, name, rights, by, &rec);
	if (rc)
		return rc;
	if (lm_report_is_json())
		return lm_report_print(rec);
	print_member(rec);
	json_decref(rec);
	return 0;
}

static int list(struct lm_kc *kc, const char *site)
{
	char prefix[LM_KC_KEY_MAX + 1];
	json_t *members = lm_json_array();
	int rc = lm_kc_key(prefix, sizeof prefix, "member/%s/", site);
	if (rc == 0 && (rc = lm_kc_begin(kc, false)) == 0)
		rc = lm_kc_scan(kc, prefix, kc_collect, members);
	if (rc) {
		json_decref(members);
		return kc_fail(kc, rc);
	}
	lm_kc_abort(kc);
	if (lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "site", lm_json_text(site));
		lm_json_set(doc, "members", members);
		return lm_report_print(doc);
	}
	size_t i;
	json_t *m;
	json_array_foreach(members, i, m) print_member(m);
	json_decref(members);
	return 0;
}

int lmvendor_cmd_member(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"site", required_argument, NULL, 'S'},
	        {"email", required_argument, NULL, 'e'},
	        {"name", required_argument, NULL, 'n'},
	        {"rights", required_argument, NULL, 'r'},
	        {"by", required_argument, NULL, 'b'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL, *site = NULL, *email = NULL, *name = NULL, *rights = NULL,
	           *by = NULL;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'S': rc = kc_check_number("--site", site = optarg); break;
		case 'e': rc = kc_check_email("--email", email = optarg); break;
		case 'n': rc = kc_check_text("--name", name = optarg, KC_TEXT_MAX); break;
		case 'r': rc = kc_check_rights(rights = optarg); break;
		case 'b': rc = kc_check_email("--by", by = optarg); break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("member");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	const char *verb = optind < argc ? argv[optind++] : "";
	bool list_verb = !strcmp(verb, "list"), approve = !strcmp(verb, "approve");
	if (strcmp(verb, "add") && strcmp(verb, "request") && !approve && !list_verb)
		return lmvendor_usage_error("member needs a verb: add, request, approve or list");
	if (optind != argc)
		return lmvendor_usage_error("member %s takes options only", verb);
	if (!site)
		return lmvendor_usage_error("member %s needs --site S", verb);
	if (!list_verb && !email)
		return lmvendor_usage_error("member %s needs --email ADDRESS", verb);
	if (approve != (by != NULL) && !list_verb)
		return lmvendor_usage_error(approve ? "member approve needs --by ADMIN-EMAIL, the "
		                                      "site admin who approves"
		                                    : "only member approve takes --by");
	struct lm_kc kc;
	if ((rc = kc_open(&kc, store, false)) != 0)
		return rc;
	rc = list_verb ? list(&kc, site) : change(&kc, verb, site, email, name, rights, by);
	lm_kc_close(&kc);
	return rc;
}
