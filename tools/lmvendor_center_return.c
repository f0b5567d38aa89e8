/* lmvendor's key center: returns, the first half of a rehost.  `authcode
 * return CODE --lock LOCK` gives back what a host holds from an
 * authorization code, so that the quantity can be activated on another
 * machine (a new computer, a reinstalled server).
 *
 * The vendor takes the customer's word that the old machine no longer
 * uses its license: the license stays valid where it was copied, which is
 * why returns are capped.  A code can be returned at most rehost_limit
 * times in any 365 days (KC_REHOSTS_PER_YEAR unless the vendor says
 * otherwise); the code's record keeps the day of each return, and a
 * refusal names the day the next one becomes possible.
 *
 * A return is one write transaction like an activation: the code's
 * remaining quantity goes up and the host's record down, or nothing
 * changes.  A host that still holds seats from other codes keeps its
 * record; its stored license still shows the old total until it is
 * re-issued (activate --count 0). */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/date.h"
#include "core/error.h"
#include "core/lockcode.h"
#include "tools/json.h"
#include "tools/lmutil_activate_proof.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

/* The days a return counts against the limit. */
#define REHOST_PERIOD_DAYS 365

static int cmp_text(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The host key's last part: the lock codes normalised, sorted, joined
 * with '+' (as an activation stores them). */
static int join_locks(const char *const *locks, int nlocks, char *out, size_t size)
{
	char sorted[3][LM_LOCKCODE_TEXT_MAX];
	if (nlocks != 1 && nlocks != 3)
		return lmvendor_usage_error(
		        "--lock: one lock code, or three for redundant servers");
	for (int i = 0; i < nlocks; i++) {
		struct lm_lockcode code;
		char err[256];
		if (strlen(locks[i]) >= LM_LOCKCODE_TEXT_MAX ||
		    lm_lockcode_parse(locks[i], &code, err, sizeof err) != 0) {
			lm_report_fail(LMC_EBADCODE, "lock code '%.40s' is not a lock code",
			               locks[i]);
			return 1;
		}
		lm_lockcode_format(&code, sorted[i], sizeof sorted[i]);
	}
	qsort(sorted, (size_t)nlocks, sizeof sorted[0], cmp_text);
	int n = snprintf(out, size, "%s%s%s%s%s", sorted[0], nlocks > 1 ? "+" : "",
	                 nlocks > 1 ? sorted[1] : "", nlocks > 1 ? "+" : "",
	                 nlocks > 1 ? sorted[2] : "");
	return n < 0 || (size_t)n >= size
	               ? (lm_report_fail(LMC_ETOOLARGE, "lock codes too long"), 1)
	               : 0;
}

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

/* The returns of the last REHOST_PERIOD_DAYS in the code's record, and
 * the earliest of them (LM_DATE_NONE when none). */
static long recent_returns(json_t *code, int32_t today, int32_t *earliest)
{
	long n = 0;
	size_t i;
	json_t *day;
	*earliest = LM_DATE_NONE;
	json_array_foreach(json_object_get(code, "returns"), i, day)
	{
		int32_t d;
		if (!json_is_string(day) || lm_date_parse(json_string_value(day), &d) != 0)
			continue;
		if (d > today - REHOST_PERIOD_DAYS) {
			n++;
			if (*earliest == LM_DATE_NONE || d < *earliest)
				*earliest = d;
		}
	}
	return n;
}

/* Gives count seats back to code (its record rec) today, within the rehost
 * limit: 0 with rec updated (its remaining quantity in *remaining, the
 * code's returns this year before this one in *recent), or 1 after
 * refusing with the date of the next possible return and advice appended
 * (rec unchanged). */
static int code_take_back(struct lm_kc *kc, const char *code, json_t *rec, long count,
                          int32_t today, int rehost_limit, const char *advice, long *recent,
                          long *remaining)
{
	int32_t earliest;
	*recent = recent_returns(rec, today, &earliest);
	if (*recent >= rehost_limit) {
		char next[16];
		lm_date_format(earliest + REHOST_PERIOD_DAYS, next, sizeof next);
		return refuse(kc, LMC_ELIMIT,
		              "authorization code %s has been returned %ld times in the last %d "
		              "days, its limit (%d a year): the next return is possible on %s%s",
		              code, *recent, REHOST_PERIOD_DAYS, rehost_limit, next, advice);
	}
	*remaining = (long)json_integer_value(json_object_get(rec, "remaining")) + count;
	json_t *returns = json_object_get(rec, "returns");
	if (!json_is_array(returns)) {
		returns = lm_json_array();
		lm_json_set(rec, "returns", returns);
	}
	lm_json_append(returns, kc_date_json(today));
	lm_json_set(rec, "remaining", lm_json_int(*remaining));
	return 0;
}

int kc_return(struct lm_kc *kc, const char *code, const char *const *locks, int nlocks, long count,
              int rehost_limit, json_t **answer)
{
	char joined[3 * LM_LOCKCODE_TEXT_MAX + 4];
	int rc = join_locks(locks, nlocks, joined, sizeof joined);
	if (rc)
		return rc;
	char key_code[LM_KC_KEY_MAX + 1], key_ent[LM_KC_KEY_MAX + 1], key_host[LM_KC_KEY_MAX + 1];
	json_t *rec = NULL, *ent = NULL, *host = NULL;
	int status = 1;
	if ((rc = lm_kc_begin(kc, true)) != 0)
		return kc_fail(kc, rc);
	lm_kc_key(key_code, sizeof key_code, "code/%s", code);
	if ((rc = lm_kc_get(kc, key_code, &rec)) == LM_KC_NOTFOUND)
		return refuse(kc, LMC_EBADCODE, "authorization code %s is unknown", code);
	const char *site = json_string_value(json_object_get(rec, "site"));
	const char *ent_id = json_string_value(json_object_get(rec, "entitlement"));
	if (rc == 0 &&
	    (!site || !ent_id || lm_kc_key(key_ent, sizeof key_ent, "entitlement/%s", ent_id) != 0))
		rc = lm_kc_fail(kc, LMC_EIO, "the key-center store %s is corrupted: code %s",
		                kc->path, code);
	if (rc == 0 && (rc = lm_kc_get(kc, key_ent, &ent)) == LM_KC_NOTFOUND)
		rc = lm_kc_fail(kc, LMC_EIO,
		                "the key-center store %s is corrupted: entitlement %s is missing",
		                kc->path, ent_id);
	const char *feature = json_string_value(json_object_get(ent, "feature"));
	const char *version = json_string_value(json_object_get(ent, "version"));
	if (rc == 0 && (!feature || !version))
		rc = lm_kc_fail(kc, LMC_EIO, "the key-center store %s is corrupted: entitlement %s",
		                kc->path, ent_id);
	if (rc == 0 && lm_kc_key(key_host, sizeof key_host, "host/%s/%s/%s/%s", site, feature,
	                         version, joined) != 0)
		rc = lm_kc_fail(kc, LMC_ETOOLARGE, "the lock codes are too long");
	if (rc == 0)
		rc = lm_kc_get(kc, key_host, &host);
	if (rc < 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	json_t *codes = json_object_get(host, "codes");
	long held = (long)json_integer_value(json_object_get(codes, code));
	if (rc == LM_KC_NOTFOUND || held <= 0) {
		status = refuse(kc, LMC_EINVAL,
		                "the host %s holds nothing from authorization code %s: there is "
		                "nothing to return",
		                joined, code);
		goto done;
	}
	if (count == 0)
		count = held;
	if (count > held) {
		status = refuse(kc, LMC_EINVAL,
		                "the host %s holds %ld from authorization code %s, not the %ld to "
		                "return",
		                joined, held, code, count);
		goto done;
	}
	int32_t today = kc_today();
	long recent, remaining;
	if (code_take_back(kc, code, rec, count, today, rehost_limit, "", &recent, &remaining)) {
		status = 1;
		goto done;
	}
	json_object_set_new(codes, code, lm_json_int(held - count));
	long total = (long)json_integer_value(json_object_get(host, "count")) - count;
	lm_json_set(host, "count", lm_json_int(total));
	if (total <= 0)
		lm_json_set(host, "license", json_null());
	lm_json_set(host, "returned", kc_date_json(today));
	if ((rc = lm_kc_put(kc, key_code, rec)) != 0 || (rc = lm_kc_put(kc, key_host, host)) != 0 ||
	    (rc = lm_kc_commit(kc)) != 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	json_t *doc = lm_json_object();
	lm_json_set(doc, "site", lm_json_text(site));
	lm_json_set(doc, "auth", lm_json_text(code));
	lm_json_set(doc, "feature", lm_json_text(feature));
	lm_json_set(doc, "version", lm_json_text(version));
	lm_json_set(doc, "locks", lm_json_text(joined));
	lm_json_set(doc, "returned", lm_json_int(count));
	lm_json_set(doc, "host_holds", lm_json_int(total));
	lm_json_set(doc, "remaining", lm_json_int(remaining));
	lm_json_set(doc, "returns_this_year", lm_json_int(recent + 1));
	lm_json_set(doc, "rehost_limit", lm_json_int(rehost_limit));
	*answer = doc;
	status = 0;
done:
	json_decref(rec);
	json_decref(ent);
	json_decref(host);
	return status;
}

/* ---- a customer's proved return (lmutil deactivate) -------------------- */

static const char *text_of(json_t *req, const char *field)
{
	const char *text = json_string_value(json_object_get(req, field));
	return text && *text && strlen(text) < 200 ? text : NULL;
}

int kc_deactivate(struct lm_kc *kc, json_t *req, int rehost_limit, json_t **answer)
{
	const char *site = text_of(req, "site"), *feature = text_of(req, "feature"),
	           *version = text_of(req, "feature_version"), *machine = text_of(req, "machine"),
	           *proof = text_of(req, "proof");
	json_t *locks = json_object_get(req, "locks"), *v;
	const char *texts[3];
	size_t i, nlocks = json_array_size(locks);
	bool valid = site && feature && version && machine && proof &&
	             strlen(proof) == LM_RETURN_KEY_HEX && json_is_array(locks) &&
	             (nlocks == 1 || nlocks == 3) &&
	             json_integer_value(json_object_get(req, "version")) == LM_RETURN_VERSION;
	json_array_foreach(locks, i, v)
	{
		if (i < 3 && json_is_string(v))
			texts[i] = json_string_value(v);
		else
			valid = false;
	}
	if (!valid) {
		lm_report_fail(
		        LMC_ESYNTAX,
		        "not a return request of version %d: it names \"site\", \"feature\", "
		        "\"feature_version\", \"locks\", \"machine\" and \"proof\", as "
		        "lmutil deactivate writes them",
		        LM_RETURN_VERSION);
		return 1;
	}
	char joined[3 * LM_LOCKCODE_TEXT_MAX + 4], key_host[LM_KC_KEY_MAX + 1];
	int rc = join_locks(texts, (int)nlocks, joined, sizeof joined);
	if (rc)
		return rc;
	if (kc_check_number("the site", site) != 0 ||
	    lm_kc_key(key_host, sizeof key_host, "host/%s/%s/%s/%s", site, feature, version,
	              joined) != 0 ||
	    strchr(feature, '/') || strchr(version, '/')) {
		lm_report_fail(LMC_EINVAL, "the return request names no host of this key center");
		return 1;
	}
	json_t *host = NULL, *doc = NULL, *changed = lm_json_object();
	int status = 1;
	if ((rc = lm_kc_begin(kc, true)) != 0) {
		json_decref(changed);
		return kc_fail(kc, rc);
	}
	if ((rc = lm_kc_get(kc, key_host, &host)) < 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	const char *secret = json_string_value(json_object_get(host, "return_key"));
	long held = (long)json_integer_value(json_object_get(host, "count"));
	char proved[LM_RETURN_KEY_HEX + 1];
	if (rc == LM_KC_NOTFOUND) {
		status = refuse(kc, LMC_EINVAL,
		                "site %s was never issued %s %s for host %s: the return request "
		                "names another site or host",
		                site, feature, version, joined);
		goto done;
	}
	if (!secret && held <= 0) {
		status = refuse(kc, LMC_EINVAL,
		                "the license of %s %s for host %s was returned already (%s): a "
		                "return request counts once",
		                feature, version, joined,
		                json_string_value(json_object_get(host, "returned")) ?: "before");
		goto done;
	}
	if (!secret) {
		status = refuse(kc, LMC_EINVAL,
		                "the license of %s %s for host %s was issued before returns were "
		                "proved: the vendor returns it (lmvendor authcode return)",
		                feature, version, joined);
		goto done;
	}
	if (lm_return_proof(req, secret, proved) != 0) {
		status = refuse(kc, LMC_ENOMEM, "cannot check the return request's proof");
		goto done;
	}
	if (CRYPTO_memcmp(proved, proof, LM_RETURN_KEY_HEX) != 0) {
		status =
		        refuse(kc, LMC_EDENIED,
		               "the return request's proof does not hold: the request was altered, "
		               "or its license is not the one last issued to host %s (a re-issue "
		               "replaces it: deactivate the license installed last)",
		               joined);
		goto done;
	}
	bool on_host = false;
	for (size_t k = 0; k < nlocks; k++)
		on_host = on_host || !strcmp(texts[k], machine);
	if (!on_host) {
		status = refuse(kc, LMC_EDENIED,
		                "the return request was made on lock code %s, not on host %s",
		                machine, joined);
		goto done;
	}
	/* Every code the host holds seats of gives them back, each counted
	 * against its own rehost limit: the license file is gone as a whole. */
	int32_t today = kc_today();
	const char *code;
	json_t *n;
	long total = 0;
	json_object_foreach(json_object_get(host, "codes"), code, n)
	{
		long from_code = (long)json_integer_value(n);
		char key_code[LM_KC_KEY_MAX + 1];
		json_t *rec = NULL;
		if (from_code <= 0)
			continue;
		if (lm_kc_key(key_code, sizeof key_code, "code/%s", code) != 0 ||
		    (rc = lm_kc_get(kc, key_code, &rec)) != 0) {
			lm_kc_fail(kc, LMC_EIO,
			           "the key-center store %s is corrupted: code %s of host %s",
			           kc->path, code, joined);
			status = kc_fail(kc, LMC_EIO);
			goto done;
		}
		long recent, remaining;
		if (code_take_back(kc, code, rec, from_code, today, rehost_limit,
		                   "; keep the license until then", &recent, &remaining)) {
			json_decref(rec);
			status = 1;
			goto done;
		}
		rc = lm_kc_put(kc, key_code, rec);
		json_decref(rec);
		if (rc) {
			status = kc_fail(kc, rc);
			goto done;
		}
		lm_json_set(changed, code,
		            json_pack("{sisi}", "returned", from_code, "remaining", remaining));
		total += from_code;
	}
	lm_json_set(host, "count", lm_json_int(0));
	lm_json_set(host, "codes", lm_json_object());
	lm_json_set(host, "license", json_null());
	json_object_del(host, "return_key");
	lm_json_set(host, "returned", kc_date_json(today));
	lm_json_set(host, "returned_by", lm_json_text("customer, proved (lmutil deactivate)"));
	if ((rc = lm_kc_put(kc, key_host, host)) != 0 || (rc = lm_kc_commit(kc)) != 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	doc = lm_json_object();
	lm_json_set(doc, "site", lm_json_text(site));
	lm_json_set(doc, "feature", lm_json_text(feature));
	lm_json_set(doc, "version", lm_json_text(version));
	lm_json_set(doc, "locks", lm_json_text(joined));
	lm_json_set(doc, "returned", lm_json_int(total));
	lm_json_set(doc, "codes", json_incref(changed));
	lm_json_set(doc, "proved", json_true());
	*answer = doc;
	status = 0;
done:
	json_decref(host);
	json_decref(changed);
	return status;
}

int kc_fulfil_return(const char *store, json_t *req, int rehost_limit)
{
	struct lm_kc kc;
	json_t *doc = NULL;
	int rc = kc_open(&kc, store, false);
	if (rc)
		return rc;
	rc = kc_deactivate(&kc, req, rehost_limit, &doc);
	lm_kc_close(&kc);
	if (rc)
		return rc;
	if (lm_report_is_json())
		return lm_report_print(doc);
	printf("returned %lld of %s %s from %s (proved by the customer's license):\n",
	       (long long)json_integer_value(json_object_get(doc, "returned")),
	       json_string_value(json_object_get(doc, "feature")),
	       json_string_value(json_object_get(doc, "version")),
	       json_string_value(json_object_get(doc, "locks")));
	const char *code;
	json_t *v;
	json_object_foreach(json_object_get(doc, "codes"), code, v)
	        printf("  code %s: %lld back, %lld left\n", code,
	               (long long)json_integer_value(json_object_get(v, "returned")),
	               (long long)json_integer_value(json_object_get(v, "remaining")));
	json_decref(doc);
	return 0;
}

/* A limit from 0 (no returns at all) to 1000. */
int kc_parse_rehost_limit(const char *text, int *out)
{
	char *end;
	long n = strtol(text, &end, 10);
	if (end == text || *end || n < 0 || n > 1000)
		return lmvendor_usage_error("--rehost-limit '%.20s' is not a number from 0 to 1000",
		                            text);
	*out = (int)n;
	return 0;
}

int lmvendor_cmd_authcode_return(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"lock", required_argument, NULL, 'l'},
	        {"count", required_argument, NULL, 'c'},
	        {"rehost-limit", required_argument, NULL, 'r'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	const char *store = NULL, *lock = NULL;
	long count = 0;
	int limit = KC_REHOSTS_PER_YEAR, c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'l': lock = optarg; break;
		case 'c':
			if ((count = kc_parse_count("--count", optarg, false)) < 0)
				rc = LMVENDOR_EXIT_USAGE;
			break;
		case 'r': rc = kc_parse_rehost_limit(optarg, &limit); break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("authcode");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (argc - optind != 1 || !lock)
		return lmvendor_usage_error("authcode return takes CODE and --lock LOCKCODE");
	char code[64], buf[512];
	if ((rc = kc_parse_auth(argv[optind], code, sizeof code)) != 0)
		return rc;
	if (strlen(lock) >= sizeof buf)
		return lmvendor_usage_error("--lock is too long");
	snprintf(buf, sizeof buf, "%s", lock);
	const char *locks[3];
	int nlocks = 0;
	for (char *save, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (nlocks == 3)
			return lmvendor_usage_error(
			        "--lock: one lock code, or three for redundant servers");
		locks[nlocks++] = w;
	}
	struct lm_kc kc;
	if ((rc = kc_open(&kc, store, false)) != 0)
		return rc;
	json_t *doc = NULL;
	rc = kc_return(&kc, code, locks, nlocks, count, limit, &doc);
	lm_kc_close(&kc);
	if (rc)
		return rc;
	if (lm_report_is_json())
		return lm_report_print(doc);
	printf("returned %lld of %s from %s: the code has %lld left; the host holds %lld\n",
	       (long long)json_integer_value(json_object_get(doc, "returned")), code,
	       json_string_value(json_object_get(doc, "locks")),
	       (long long)json_integer_value(json_object_get(doc, "remaining")),
	       (long long)json_integer_value(json_object_get(doc, "host_holds")));
	json_decref(doc);
	return 0;
}
