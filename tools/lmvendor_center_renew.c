/* lmvendor's key center: `renew --order ORDER --until DATE`, a renewal
 * of a whole order at once.  Every entitlement of the order gets a
 * renewal running to DATE (what an order's "renew E end=DATE" line
 * makes), and every host that holds seats of those entitlements' codes
 * gets its license re-issued with the new dates (what `activate --count
 * 0` writes), all in one store transaction.  The files go into --out DIR,
 * one a host and product, and the command says whom to send them to: the
 * site's renewal and administrative contacts (the primary contact when
 * it has neither), in an .eml of the outbox with --outbox.
 *
 * Nothing is half done: the files are written under dot-names before
 * the commit and renamed after it, and removed when anything fails. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

/* The hosts to re-issue, each once, and the files written for them. */
struct renewal {
	const char *order, *dir;
	char site[KC_NUMBER_MAX + 1];
	int32_t until, maintenance;
	json_t *codes;     /* code -> entitlement, of the renewed entitlements */
	json_t *hosts;     /* host key -> one of its codes among those */
	json_t *files;     /* [{"host","feature","version","locks","file","tmp"}] */
	json_t *renewed;   /* [{"entitlement","renewal"}] */
	json_t *perpetual; /* entitlement ids left as they are */
};

/* An lm_kc_scan visitor: notes each host of the site holding seats of a
 * renewed code. */
static int note_host(void *arg, const char *key, json_t *host)
{
	struct renewal *r = arg;
	const char *code;
	json_t *n;
	json_object_foreach(json_object_get(host, "codes"), code, n)
	{
		if (json_integer_value(n) > 0 && json_object_get(r->codes, code)) {
			json_object_set_new(r->hosts, key, lm_json_text(code));
			break;
		}
	}
	return 0;
}

/* The file name of a host's license: feature, version and lock codes,
 * with the characters a file name should not hold made '_'. */
static void file_name(json_t *host, char *name, size_t size)
{
	size_t len = (size_t)snprintf(name, size, "%s-%s",
	                              json_string_value(json_object_get(host, "feature")),
	                              json_string_value(json_object_get(host, "version")));
	size_t i;
	json_t *lock;
	json_array_foreach(json_object_get(host, "locks"), i, lock)
	{
		if (len < size)
			len += (size_t)snprintf(name + len, size - len, "%s%s", i ? "+" : "-",
			                        json_string_value(lock));
	}
	if (len < size)
		snprintf(name + len, size - len, ".lic");
	for (char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.+", *p))
			*p = '_';
}

/* Writes text to tmp, fsynced: 0, or 1 after reporting.  A tmp left by a
 * run that died is overwritten: the store's write lock, held from before
 * the first tmp to the commit, keeps two runs from sharing one. */
static int write_temp(const char *tmp, const char *text)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (fd >= 0 && !out)
		close(fd);
	bool ok = out && fputs(text, out) >= 0 && fflush(out) == 0 && fsync(fileno(out)) == 0;
	int err = errno;
	if (out && fclose(out) != 0 && ok)
		ok = false, err = errno;
	if (!ok) {
		unlink(tmp);
		lm_report_fail(LMC_EIO, "renew: cannot write %s: %s; nothing was changed", tmp,
		               strerror(err));
		return 1;
	}
	return 0;
}

static void remove_temps(json_t *files)
{
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f) unlink(json_string_value(json_object_get(f, "tmp")));
}

/* Refuses with a sentence: the transaction is dropped, nothing changed. */
__attribute__((format(printf, 2, 3))) static int refuse(struct lm_kc *kc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lm_kc_abort(kc);
	lm_report_fail(LMC_EINVAL, "renew: %s; nothing was changed", msg);
	return 1;
}

/* The renewals of the order's entitlements, in the open transaction:
 * each entitlement the order holds, or renews when it is itself a
 * renewal order, once. */
static int renew_entitlements(struct lm_kc *kc, struct renewal *r, json_t *order)
{
	json_t *bases = lm_json_object(), *ids = lm_json_array();
	size_t i;
	json_t *id;
	int rc = 0;
	json_array_foreach(json_object_get(order, "entitlements"), i, id)
	{
		char key[LM_KC_KEY_MAX + 1];
		json_t *ent = NULL;
		if (!json_is_string(id) ||
		    lm_kc_key(key, sizeof key, "entitlement/%s", json_string_value(id)) != 0 ||
		    lm_kc_get(kc, key, &ent) != 0) {
			rc = lm_kc_fail(kc, LMC_EIO,
			                "the key-center store %s is corrupted: an entitlement of "
			                "order %s is missing",
			                kc->path, r->order);
			break;
		}
		const char *base =
		        json_string_value(json_object_get(ent, "renews")) ?: json_string_value(id);
		json_object_set_new(bases, base, json_true());
		json_decref(ent);
	}
	const char *base;
	json_t *unused;
	json_object_foreach(rc ? NULL : bases, base, unused)
	{
		char key[LM_KC_KEY_MAX + 1], end_text[16], until_text[16];
		json_t *ent = NULL;
		int32_t end, maintenance;
		if ((rc = lm_kc_key(key, sizeof key, "entitlement/%s", base)) != 0 ||
		    (rc = lm_kc_get(kc, key, &ent)) != 0 ||
		    (rc = kc_term(kc, ent, &end, &maintenance)) != 0) {
			json_decref(ent);
			if (rc > 0)
				rc = lm_kc_fail(
				        kc, LMC_EIO,
				        "the key-center store %s is corrupted: entitlement %s "
				        "is missing",
				        kc->path, base);
			break;
		}
		if (end == LM_DATE_PERMANENT) {
			lm_json_append(r->perpetual, lm_json_text(base));
			json_decref(ent);
			continue;
		}
		if (r->until <= end) {
			json_decref(ent);
			lm_date_format(end, end_text, sizeof end_text);
			lm_date_format(r->until, until_text, sizeof until_text);
			rc = lm_kc_fail(
			        kc, LMC_EINVAL,
			        "entitlement %s runs until %s already: --until %s must come "
			        "after that",
			        base, end_text, until_text);
			break;
		}
		size_t before = json_array_size(ids);
		rc = kc_renewal_add(kc, r->site, r->order, base, r->until, r->maintenance, ids);
		if (rc == 0 && json_array_size(ids) == before + 1) {
			json_t *pair = lm_json_object();
			lm_json_set(pair, "entitlement", lm_json_text(base));
			lm_json_set(pair, "renewal", json_incref(json_array_get(ids, before)));
			lm_json_append(r->renewed, pair);
		}
		json_array_foreach(json_object_get(ent, "codes"), i, id)
		{
			if (json_is_string(id))
				json_object_set_new(r->codes, json_string_value(id),
				                    lm_json_text(base));
		}
		json_decref(ent);
		if (rc)
			break;
	}
	/* The renewals are the order's lines too: its proof lists them. */
	if (rc == 0 && json_array_size(ids) > 0) {
		char key[LM_KC_KEY_MAX + 1];
		json_t *lines = json_object_get(order, "entitlements");
		json_array_extend(lines, ids);
		rc = lm_kc_key(key, sizeof key, "order/%s", r->order);
		if (rc == 0)
			rc = lm_kc_put(kc, key, order);
	}
	json_decref(bases);
	json_decref(ids);
	return rc;
}

/* Re-issues each host's license into a dot-named file of r->dir. */
static int reissue_hosts(struct lm_kc *kc, struct renewal *r, EVP_PKEY *key)
{
	const char *host_key;
	json_t *code;
	json_object_foreach(r->hosts, host_key, code)
	{
		json_t *host = NULL;
		char *license = NULL, name[512], path[4096 + 600], tmp[sizeof path + 8];
		int rc = lm_kc_get(kc, host_key, &host);
		if (rc) {
			return kc_fail(kc, rc > 0 ? lm_kc_fail(kc, LMC_EIO,
			                                       "the key-center store %s is "
			                                       "corrupted: %s is missing",
			                                       kc->path, host_key)
			                          : rc);
		}
		if (kc_reissue(kc, json_string_value(code), host, key, &license) != 0) {
			lm_kc_abort(kc);
			json_decref(host);
			return 1;
		}
		file_name(host, name, sizeof name);
		snprintf(path, sizeof path, "%s/%s", r->dir, name);
		snprintf(tmp, sizeof tmp, "%s/.%s.tmp", r->dir, name);
		json_t *f = lm_json_object();
		lm_json_set(f, "feature", json_incref(json_object_get(host, "feature")));
		lm_json_set(f, "version", json_incref(json_object_get(host, "version")));
		lm_json_set(f, "locks", json_incref(json_object_get(host, "locks")));
		lm_json_set(f, "host_desc", json_incref(json_object_get(host, "host_desc")));
		lm_json_set(f, "auth", json_incref(code));
		lm_json_set(f, "file", lm_json_text(path));
		lm_json_set(f, "tmp", lm_json_text(tmp));
		json_decref(host);
		rc = write_temp(tmp, license);
		free(license);
		if (rc) {
			json_decref(f);
			lm_kc_abort(kc);
			return 1;
		}
		lm_json_append(r->files, f);
	}
	return 0;
}

/* The whole renewal in one transaction: 0 with the files in place, or
 * non-zero after reporting with nothing changed. */
static int renew(struct lm_kc *kc, struct renewal *r, EVP_PKEY *key, char *to, size_t to_size)
{
	char key_order[LM_KC_KEY_MAX + 1], key_site[LM_KC_KEY_MAX + 1], prefix[LM_KC_KEY_MAX + 1];
	json_t *order = NULL, *site = NULL;
	int rc = lm_kc_begin(kc, true);
	if (rc)
		return kc_fail(kc, rc);
	lm_kc_key(key_order, sizeof key_order, "order/%s", r->order);
	if ((rc = lm_kc_get(kc, key_order, &order)) == LM_KC_NOTFOUND)
		return refuse(kc, "there is no order %s", r->order);
	if (rc)
		return kc_fail(kc, rc);
	const char *number = json_string_value(json_object_get(order, "site"));
	snprintf(r->site, sizeof r->site, "%s", number ? number : "");
	if (!number || lm_kc_key(key_site, sizeof key_site, "site/%s", r->site) != 0 ||
	    lm_kc_key(prefix, sizeof prefix, "host/%s/", r->site) != 0 ||
	    lm_kc_get(kc, key_site, &site) != 0) {
		json_decref(order);
		lm_kc_fail(kc, LMC_EIO, "the key-center store %s is corrupted: order %s", kc->path,
		           r->order);
		return kc_fail(kc, LMC_EIO);
	}
	int status = 1;
	if ((rc = renew_entitlements(kc, r, order)) != 0) {
		status = rc == LMC_EINVAL ? refuse(kc, "%s", kc->error) : kc_fail(kc, rc);
		goto done;
	}
	if (json_array_size(r->renewed) == 0) {
		status = refuse(kc,
		                "the entitlements of order %s are perpetual: there is nothing to "
		                "renew",
		                r->order);
		goto done;
	}
	if ((rc = lm_kc_scan(kc, prefix, note_host, r)) != 0) {
		status = kc_fail(kc, rc);
		goto done;
	}
	if (reissue_hosts(kc, r, key) != 0) {
		remove_temps(r->files);
		goto done;
	}
	if ((rc = lm_kc_commit(kc)) != 0) {
		remove_temps(r->files);
		status = kc_fail(kc, rc);
		goto done;
	}
	/* Committed: the files take their names. */
	status = 0;
	size_t i;
	json_t *f;
	json_array_foreach(r->files, i, f)
	{
		const char *tmp = json_string_value(json_object_get(f, "tmp"));
		const char *path = json_string_value(json_object_get(f, "file"));
		if (rename(tmp, path) != 0) {
			lm_report_fail(
			        LMC_EIO,
			        "renew: cannot rename %s to %s: %s (the store has the renewal: "
			        "activate --count 0 re-issues that host's license)",
			        tmp, path, strerror(errno));
			unlink(tmp);
			status = 1;
		}
		json_object_del(f, "tmp");
	}
	kc_outbox_recipients(site, "renewal", to, to_size);
done:
	json_decref(order);
	json_decref(site);
	return status;
}

/* The renewal message: the new term and the files, one a host. */
static int send_notice(struct lm_kc *kc, const struct renewal *r, const char *outbox, char *path,
                       size_t size)
{
	char subject[256], until[16], *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);
	if (!out)
		lm_json_out_of_memory();
	lm_date_format(r->until, until, sizeof until);
	fprintf(out, "Order %s of site %s is renewed until %s.\n\n", r->order, r->site, until);
	fprintf(out, "The re-issued licenses, one a host and product:\n\n");
	size_t i;
	json_t *f;
	json_array_foreach(r->files, i, f)
	{
		const char *desc = json_string_value(json_object_get(f, "host_desc"));
		fprintf(out, "    %s%s%s%s\n", json_string_value(json_object_get(f, "file")),
		        desc ? " (" : "", desc ? desc : "", desc ? ")" : "");
	}
	if (json_array_size(r->files) == 0)
		fprintf(out, "    (none: no host holds a license of this order yet)\n");
	fprintf(out, "\nInstall each in place of the host's license file and run\n"
	             "lmutil lmreread on its license server.\n");
	if (fclose(out) != 0)
		lm_json_out_of_memory();
	snprintf(subject, sizeof subject, "Renewed licenses: order %s, site %s", r->order, r->site);
	int rc = kc_outbox_send(kc, outbox, r->site, "renewal", subject, body, path, size);
	free(body);
	return rc;
}

static int report(const struct renewal *r, const char *to, const char *message)
{
	char until[16];
	lm_date_format(r->until, until, sizeof until);
	if (lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "order", lm_json_text(r->order));
		lm_json_set(doc, "site", lm_json_text(r->site));
		lm_json_set(doc, "until", lm_json_text(until));
		lm_json_set(doc, "maintenance", kc_date_json(r->maintenance));
		lm_json_set(doc, "renewed", json_incref(r->renewed));
		lm_json_set(doc, "perpetual", json_incref(r->perpetual));
		lm_json_set(doc, "send_to", lm_json_text_or_null(to[0] ? to : NULL));
		lm_json_set(doc, "files", json_incref(r->files));
		lm_json_set(doc, "message", lm_json_text_or_null(message[0] ? message : NULL));
		return lm_report_print(doc);
	}
	size_t i;
	json_t *v;
	printf("order %s renewed until %s:", r->order, until);
	json_array_foreach(r->renewed, i, v)
	{
		printf("%s %s by %s", i ? "," : "",
		       json_string_value(json_object_get(v, "entitlement")),
		       json_string_value(json_object_get(v, "renewal")));
	}
	printf("\n");
	json_array_foreach(r->perpetual, i, v)
	{
		printf("entitlement %s is perpetual: left as it is\n", json_string_value(v));
	}
	printf("site %s: send to %s\n", r->site, to[0] ? to : "(the site has no contact)");
	json_array_foreach(r->files, i, v)
	{
		printf("    %s\n", json_string_value(json_object_get(v, "file")));
	}
	if (json_array_size(r->files) == 0)
		printf("    (no host holds a license of this order yet)\n");
	if (message[0])
		printf("renewal message written to %s\n", message);
	return 0;
}

static int parse_date(const char *flag, const char *text, int32_t *day)
{
	if (strlen(text) > 10 || lm_date_parse(text, day) != 0 || *day == LM_DATE_PERMANENT)
		return lmvendor_usage_error("%s '%.20s' is not a date (YYYY-MM-DD)", flag, text);
	return 0;
}

int lmvendor_cmd_renew(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"store", required_argument, NULL, 's'},
	        {"key", required_argument, NULL, 'k'},
	        {"order", required_argument, NULL, 'r'},
	        {"until", required_argument, NULL, 'u'},
	        {"maintenance", required_argument, NULL, 'm'},
	        {"out", required_argument, NULL, 'o'},
	        {"outbox", required_argument, NULL, 'x'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {0},
	};
	struct renewal r = {.dir = ".", .until = LM_DATE_NONE, .maintenance = LM_DATE_NONE};
	const char *store = NULL, *keypath = NULL, *outbox = NULL;
	int c, rc = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'k': keypath = optarg; break;
		case 'r': rc = kc_check_number("--order", r.order = optarg); break;
		case 'u': rc = parse_date("--until", optarg, &r.until); break;
		case 'm': rc = parse_date("--maintenance", optarg, &r.maintenance); break;
		case 'o': r.dir = optarg; break;
		case 'x': outbox = optarg; break;
		case 'j': lm_report_json(); break;
		case 'h': return lmvendor_help("renew");
		default: rc = lmvendor_bad_option(argv, c);
		}
	}
	if (rc)
		return rc;
	if (!r.order || r.until == LM_DATE_NONE)
		return lmvendor_usage_error("renew needs --order ORDER and --until DATE");
	if (optind != argc)
		return lmvendor_usage_error("renew takes options only");
	if (r.until < kc_today())
		return lmvendor_usage_error("renew: --until is in the past");
	struct stat st;
	if (strlen(r.dir) > 4096 || stat(r.dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    access(r.dir, W_OK | X_OK) != 0) {
		lm_report_fail(LMC_EINVAL,
		               "renew: --out %.200s is not a directory this user can write to; "
		               "nothing was changed",
		               r.dir);
		return 1;
	}
	if ((rc = kc_outbox_check(outbox)) != 0)
		return rc;
	EVP_PKEY *key = NULL;
	if ((rc = kc_load_key(keypath, &key)) != 0)
		return rc;
	struct lm_kc kc;
	if ((rc = kc_open(&kc, store, false)) != 0) {
		EVP_PKEY_free(key);
		return rc;
	}
	r.codes = lm_json_object();
	r.hosts = lm_json_object();
	r.files = lm_json_array();
	r.renewed = lm_json_array();
	r.perpetual = lm_json_array();
	char to[2048] = "", message[4096] = "";
	rc = renew(&kc, &r, key, to, sizeof to);
	if (rc == 0 && outbox)
		rc = send_notice(&kc, &r, outbox, message, sizeof message);
	if (rc == 0)
		rc = report(&r, to, message);
	lm_kc_close(&kc);
	EVP_PKEY_free(key);
	json_decref(r.codes);
	json_decref(r.hosts);
	json_decref(r.files);
	json_decref(r.renewed);
	json_decref(r.perpetual);
	return rc;
}
