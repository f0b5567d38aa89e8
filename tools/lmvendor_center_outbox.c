/* lmvendor's key center: the messages a key center would e-mail (a
 * site's welcome, a new authorization code, a renewal notice), written as
 * RFC 5322 .eml files into an outbox directory (--outbox DIR).  No mail
 * server is needed; a vendor that wants them sent hooks its own (a cron
 * job handing each file to sendmail -t, say), and a file never appears
 * half-written: it is written under a dot-name and renamed.
 *
 * Each kind of message goes to the site's contacts of the roles that
 * handle it (outbox_roles), the primary contact when the site has none of
 * those; a site without any contact gets no message, and the command says
 * so.  Contacts were checked when stored (no control characters, quotes
 * or backslashes), so that they cannot add a header line. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/error.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

static const struct {
	const char *kind;
	const char *roles[4];
} outbox_roles[] = {
        {"welcome", {"primary", "administrative", "technical", NULL}},
        {"authorization", {"technical", "primary", NULL}},
        {"renewal", {"renewal", "administrative", NULL}},
};

int kc_outbox_check(const char *dir)
{
	struct stat st;
	if (!dir)
		return 0;
	if (!*dir || strlen(dir) > 3800)
		return lmvendor_usage_error("--outbox needs a directory name");
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
		lm_report_fail(LMC_EINVAL,
		               "--outbox %.200s is not a directory this user can write to; nothing "
		               "was changed",
		               dir);
		return 1;
	}
	return 0;
}

void kc_outbox_recipients(json_t *site, const char *kind, char *to, size_t size)
{
	json_t *contacts = json_object_get(site, "contacts");
	to[0] = '\0';
	for (size_t k = 0; k < sizeof outbox_roles / sizeof *outbox_roles; k++) {
		if (strcmp(outbox_roles[k].kind, kind) != 0)
			continue;
		for (size_t r = 0; outbox_roles[k].roles[r]; r++) {
			const char *who = json_string_value(
			        json_object_get(contacts, outbox_roles[k].roles[r]));
			if (!who || strstr(to, who))
				continue;
			size_t len = strlen(to);
			snprintf(to + len, size - len, "%s%s", len ? ", " : "", who);
		}
	}
	const char *primary = json_string_value(json_object_get(contacts, "primary"));
	if (!to[0] && primary)
		snprintf(to, size, "%s", primary);
}

int kc_outbox_send(struct lm_kc *kc, const char *dir, const char *site_number, const char *kind,
                   const char *subject, const char *body, char *path, size_t path_size)
{
	char key[LM_KC_KEY_MAX + 1], to[2048];
	json_t *site = NULL, *meta = NULL;
	path[0] = '\0';
	int rc = lm_kc_key(key, sizeof key, "site/%s", site_number);
	if (rc == 0 && (rc = lm_kc_begin(kc, false)) == 0 && (rc = lm_kc_get(kc, key, &site)) == 0)
		rc = lm_kc_get(kc, "meta", &meta);
	lm_kc_abort(kc);
	if (rc) {
		json_decref(site);
		lm_report_fail(LMC_EIO, "--outbox: cannot read site %s: %s", site_number,
		               kc->error[0] ? kc->error : "no such record");
		return 1;
	}
	kc_outbox_recipients(site, kind, to, sizeof to);
	const char *vendor = json_string_value(json_object_get(meta, "vendor")) ?: "lmd";
	if (!to[0]) {
		json_decref(site);
		json_decref(meta);
		lm_report_say("--outbox: site %s has no contact to send the %s message to; none "
		              "was written",
		              site_number, kind);
		return 0;
	}
	unsigned char random[8];
	char tag[17], date[64], stamp[32], tmp[4096];
	if (RAND_bytes(random, sizeof random) != 1)
		memset(random, 0, sizeof random);
	for (size_t i = 0; i < sizeof random; i++)
		sprintf(tag + 2 * i, "%02x", random[i]);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	/* RFC 5322 §3.3, spelled out: strftime's %a and %b follow the locale. */
	snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
	         tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	         tm.tm_sec);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(path, path_size, "%s/%s-%s-%s.eml", dir, stamp, kind, tag);
	snprintf(tmp, sizeof tmp, "%s/.%s-%s-%s.eml.tmp", dir, stamp, kind, tag);
	FILE *out = NULL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0 && !(out = fdopen(fd, "w")))
		close(fd);
	bool written = false;
	if (out) {
		/* RFC 5322 lines end in CRLF; the body's own newlines too. */
		fprintf(out,
		        "From: %s key center <keycenter@%s.invalid>\r\n"
		        "To: %s\r\n"
		        "Subject: %s\r\n"
		        "Date: %s\r\n"
		        "Message-ID: <%s.%s@lmvendor.%s.invalid>\r\n"
		        "MIME-Version: 1.0\r\n"
		        "Content-Type: text/plain; charset=utf-8\r\n"
		        "Content-Transfer-Encoding: 8bit\r\n"
		        "X-Lmvendor-Kind: %s\r\n"
		        "X-Lmvendor-Site: %s\r\n"
		        "\r\n",
		        vendor, vendor, to, subject, date, stamp, tag, vendor, kind, site_number);
		for (const char *p = body; *p; p++) {
			if (*p == '\n')
				fputc('\r', out);
			fputc(*p, out);
		}
		written = fflush(out) == 0 && fsync(fileno(out)) == 0;
		written = fclose(out) == 0 && written;
		written = written && rename(tmp, path) == 0;
	}
	int err = errno;
	json_decref(site);
	json_decref(meta);
	if (!written) {
		unlink(tmp);
		lm_report_fail(LMC_EIO, "--outbox: cannot write the %s message to %s: %s", kind,
		               dir, strerror(err));
		path[0] = '\0';
		return 1;
	}
	return 0;
}
