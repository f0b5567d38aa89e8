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

static bool ascii_only(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p >= 0x80)
			return false;
	return true;
}

/* Writes text as RFC 2047 encoded words (=?UTF-8?B?...?=), each at most
 * 75 characters and never splitting a UTF-8 character, separated by a
 * folding CRLF SP (a decoder joins adjacent encoded words with nothing
 * between).  A header takes non-ASCII text only so. */
static void put_encoded_words(FILE *out, const char *text)
{
	static const char b64[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	/* 75 - strlen("=?UTF-8?B??=") leaves 63 base64 characters: 45 bytes
	 * (60 characters) a word; the first shares its line with the header's
	 * name ("Subject: "), so that no line is over 78 characters. */
	size_t chunk_max = 30;
	const unsigned char *p = (const unsigned char *)text;
	size_t left = strlen(text);
	bool first = true;
	while (left) {
		size_t n = left < chunk_max ? left : chunk_max;
		while (n < left && n > 0 && (p[n] & 0xC0) == 0x80)
			n--; /* back to the start of the character cut in two */
		fputs(first ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?", out);
		for (size_t i = 0; i < n; i += 3) {
			unsigned v = (unsigned)p[i] << 16 |
			             (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			             (i + 2 < n ? p[i + 2] : 0);
			fputc(b64[v >> 18 & 63], out);
			fputc(b64[v >> 12 & 63], out);
			fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', out);
			fputc(i + 2 < n ? b64[v & 63] : '=', out);
		}
		fputs("?=", out);
		p += n, left -= n, first = false, chunk_max = 45;
	}
}

/* Header text: as it is when ASCII, else encoded words. */
static void put_header_text(FILE *out, const char *text)
{
	if (ascii_only(text))
		fputs(text, out);
	else
		put_encoded_words(out, text);
}

/* A display name that is not ASCII, as RFC 2047 §5(3) allows in a phrase:
 * its words that are plain atoms as they are, each run of the others
 * (not ASCII, or holding a special such as ',') as one encoded word with
 * its inner spaces encoded, so that no two encoded words stand side by
 * side (decoders differ on the space between those). */
static void put_phrase(FILE *out, const char *name)
{
	char copy[512], run[512] = "";
	snprintf(copy, sizeof copy, "%s", name);
	bool first = true;
	for (char *save, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (!ascii_only(w) || strpbrk(w, ",;:()<>@[].\\")) {
			size_t len = strlen(run);
			snprintf(run + len, sizeof run - len, "%s%s", len ? " " : "", w);
			continue;
		}
		if (run[0]) {
			fputs(first ? "" : "\r\n ", out);
			put_encoded_words(out, run);
			run[0] = '\0', first = false;
		}
		fprintf(out, "%s%s", first ? "" : " ", w);
		first = false;
	}
	if (run[0]) {
		fputs(first ? "" : "\r\n ", out);
		put_encoded_words(out, run);
	}
}

/* One mailbox, "Display Name <addr>" or a bare address: the display name
 * encoded when it is not ASCII, the address as it is (an address is
 * ASCII: member and contact checks see to it, and an RFC 6531 address
 * is beyond this outbox). */
static void put_mailbox(FILE *out, const char *mailbox, size_t len)
{
	while (len && *mailbox == ' ')
		mailbox++, len--;
	const char *angle = memchr(mailbox, '<', len);
	if (!angle || angle == mailbox) {
		fprintf(out, "%.*s", (int)len, mailbox);
		return;
	}
	size_t name_len = (size_t)(angle - mailbox);
	while (name_len && mailbox[name_len - 1] == ' ')
		name_len--;
	char name[512];
	snprintf(name, sizeof name, "%.*s", (int)name_len, mailbox);
	/* An ASCII name with a special (a comma, a dot) is quoted; it holds
	 * no quote or backslash (kc_check_text). */
	if (ascii_only(name) && strpbrk(name, ",;:()<>@[].\\"))
		fprintf(out, "\"%s\"", name);
	else if (ascii_only(name))
		fputs(name, out);
	else
		put_phrase(out, name);
	/* After encoded words the address goes on a line of its own. */
	fprintf(out, "%s%.*s", ascii_only(name) ? " " : "\r\n ",
	        (int)(len - (size_t)(angle - mailbox)), angle);
}

/* The To: list as kc_outbox_recipients made it: mailboxes joined by ", ".
 * A contact's display name may hold a comma of its own ("Lee, Ann
 * <ann@example.com>"): a piece without an address is the start of the
 * next one's name. */
static void put_mailboxes(FILE *out, const char *list)
{
	const char *p = list;
	bool first = true;
	size_t column = strlen("To: ");
	while (*p) {
		const char *comma = strstr(p, ", ");
		const char *end = comma ? comma : p + strlen(p);
		const char *close = strchr(p, '>');
		size_t len = (size_t)(end - p);
		if (close && (!memchr(p, '@', len) || (memchr(p, '<', len) && close >= end)))
			end = close + 1;
		/* Rendered first, to fold the line only where it would grow
		 * past 78 characters. */
		char *text = NULL;
		size_t text_len = 0;
		FILE *mem = open_memstream(&text, &text_len);
		if (!mem)
			lm_json_out_of_memory();
		put_mailbox(mem, p, (size_t)(end - p));
		if (fclose(mem) != 0)
			lm_json_out_of_memory();
		const char *fold = strstr(text, "\r\n");
		size_t head = fold ? (size_t)(fold - text) : text_len;
		if (!first && column + 2 + head > 78) {
			fputs(",\r\n ", out);
			column = 1;
		} else if (!first) {
			fputs(", ", out);
			column += 2;
		}
		fputs(text, out);
		const char *last = text;
		for (const char *f = text; (f = strstr(f, "\r\n")) != NULL; f += 2)
			last = f + 2;
		column = last == text ? column + text_len : text_len - (size_t)(last - text);
		free(text);
		first = false;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
}

/* The body: 7bit when ASCII, else quoted-printable (RFC 2045 §6.7) of its
 * UTF-8, lines of at most 76 characters, CRLF line ends. */
static void put_body(FILE *out, const char *body, bool qp)
{
	int column = 0;
	for (const unsigned char *p = (const unsigned char *)body; *p; p++) {
		if (*p == '\n') {
			fputs("\r\n", out);
			column = 0;
			continue;
		}
		if (!qp) {
			fputc(*p, out);
			continue;
		}
		/* A space or tab before a line end, '=' and anything not printable
		 * ASCII are encoded. */
		bool encode = *p == '=' || *p >= 0x7f || (*p < 0x20 && *p != '\t') ||
		              ((*p == ' ' || *p == '\t') && (p[1] == '\n' || !p[1]));
		int width = encode ? 3 : 1;
		if (column + width > 75) {
			fputs("=\r\n", out);
			column = 0;
		}
		if (encode)
			fprintf(out, "=%02X", *p);
		else
			fputc(*p, out);
		column += width;
	}
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
		/* RFC 5322 lines end in CRLF; the body's own newlines too.  Text
		 * that is not ASCII (a company "Müller GmbH", a contact's name)
		 * goes into headers as RFC 2047 encoded words and into the body
		 * as quoted-printable UTF-8, so that the message is 7-bit clean
		 * whichever mailer the vendor hooks up. */
		char from[256];
		snprintf(from, sizeof from, "%s key center", vendor);
		bool qp = !ascii_only(body);
		fputs("From: ", out);
		put_header_text(out, from);
		fprintf(out, " <keycenter@%s.invalid>\r\nTo: ", vendor);
		put_mailboxes(out, to);
		fputs("\r\nSubject: ", out);
		put_header_text(out, subject);
		fprintf(out,
		        "\r\n"
		        "Date: %s\r\n"
		        "Message-ID: <%s.%s@lmvendor.%s.invalid>\r\n"
		        "MIME-Version: 1.0\r\n"
		        "Content-Type: text/plain; charset=utf-8\r\n"
		        "Content-Transfer-Encoding: %s\r\n"
		        "X-Lmvendor-Kind: %s\r\n"
		        "X-Lmvendor-Site: %s\r\n"
		        "\r\n",
		        date, stamp, tag, vendor, qp ? "quoted-printable" : "7bit", kind,
		        site_number);
		put_body(out, body, qp);
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
