/* License lines written out: the canonical form that signatures cover, and
 * the printed file.
 *
 * The canonical form of a line is
 *
 *   TYPE name vendor version expiry count KEY="value" ... SERVER_CODES="c1 c2 c3"
 *
 * with single spaces; TYPE in capitals; expiry as YYYY-MM-DD or
 * "permanent"; count as a decimal number or "uncounted" (PACKAGE lines have
 * neither expiry nor count); then each keyword the line has, in the order
 * of enum lm_keyword (HOSTID AUTH START ISSUED NOTICE NAMED_USERS BORROW
 * HOST_DESC SN TOLERANCE COMPONENTS OPTIONS), every value quoted and
 * normalised (dates as YYYY-MM-DD, lock and authorization codes in their
 * printed groups, numbers in decimal, COMPONENTS separated by single
 * spaces, OPTIONS as SUITE or SUITE_RESERVED), then VENDOR_STRING, ISSUER, TS_OK (bare),
 * the vendor attributes sorted by key, OVERDRAFT and SUPERSEDE (bare, or
 * its list with single spaces), USER_BASED, HOST_BASED, DUP_GROUP and
 * SUITE_DUP_GROUP, a quote inside a value written \";
 * SIGN is never part of it.  Lines without these later keywords read
 * exactly as they did before those keywords existed.  A counted
 * FEATURE/INCREMENT line ends with SERVER_CODES listing the lock codes of
 * the file's SERVER lines, sorted, so that the signature binds the seats to
 * the servers that may serve them while the servers' host names and ports
 * stay free to change. */
#include "core/license.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license_internal.h"
#include "core/server_key.h"

/* The printer starts a continuation line rather than pass this column. */
#define PRINT_WIDTH 80

/* Writes keyword k of l in its normalised form into buf.  Returns 1 when l
 * has the keyword, 0 when it does not. */
static int keyword_value(const struct lm_license *l, enum lm_keyword k, char *buf, size_t size)
{
	buf[0] = '\0';
	switch (k) {
	case LM_KW_HOSTID:
		if (!l->has_hostid)
			return 0;
		/* The parser made sure the list fits in LM_TEXT_MAX. */
		return lm_hostid_format(&l->hostid, buf, size) == 0;
	case LM_KW_AUTH: snprintf(buf, size, "%s", l->auth); break;
	case LM_KW_START:
		if (l->start == LM_DATE_NONE)
			return 0;
		lm_date_format(l->start, buf, size);
		break;
	case LM_KW_ISSUED:
		if (l->issued == LM_DATE_NONE)
			return 0;
		lm_date_format(l->issued, buf, size);
		break;
	case LM_KW_NOTICE: snprintf(buf, size, "%s", l->notice); break;
	case LM_KW_NAMED_USERS:
		if (l->named_users)
			snprintf(buf, size, "%u", (unsigned)l->named_users);
		break;
	case LM_KW_BORROW:
		if (l->borrow_hours)
			snprintf(buf, size, "%u", (unsigned)l->borrow_hours);
		break;
	case LM_KW_HOST_DESC: snprintf(buf, size, "%s", l->host_desc); break;
	case LM_KW_SN: snprintf(buf, size, "%s", l->sn); break;
	case LM_KW_TOLERANCE:
		if (l->tolerance != LM_LOCK_TOLERANCE_DEFAULT)
			snprintf(buf, size, "%d", l->tolerance);
		break;
	case LM_KW_COMPONENTS: snprintf(buf, size, "%s", l->components); break;
	case LM_KW_OPTIONS:
		if (l->suite)
			snprintf(buf, size, l->suite_reserved ? "SUITE_RESERVED" : "SUITE");
		break;
	case LM_KW_VENDOR_STRING: snprintf(buf, size, "%s", l->vendor_string); break;
	case LM_KW_ISSUER: snprintf(buf, size, "%s", l->issuer); break;
	case LM_KW_OVERDRAFT:
		if (l->overdraft)
			snprintf(buf, size, "%u", (unsigned)l->overdraft);
		break;
	case LM_KW_SUPERSEDE: snprintf(buf, size, "%s", l->supersede_list); break;
	case LM_KW_USER_BASED:
	case LM_KW_HOST_BASED: {
		const struct lm_license_named *nb =
		        k == LM_KW_USER_BASED ? &l->user_based : &l->host_based;
		if (nb->max && !nb->bare)
			snprintf(buf, size, "%u", (unsigned)nb->max);
		break;
	}
	case LM_KW_DUP_GROUP: lm_license_dup_group_format(l->dup_group, buf, size); break;
	case LM_KW_SUITE_DUP_GROUP:
		lm_license_dup_group_format(l->suite_dup_group, buf, size);
		break;
	case LM_KW_TS_OK:
	case LM_KW_ATTRIBUTES: break; /* written by write_keywords */
	case LM_KW_SIGN:
		if (l->has_sig)
			lm_license_sig_format(l->sig, buf, size);
		break;
	case LM_KW_SERVER_CODES:
	case LM_KW_SERVER_KEYS:
	case LM_KW_COUNT: break;
	}
	return buf[0] != '\0';
}

/* An output buffer that remembers whether anything did not fit. */
struct out {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = o->len < o->size ? o->size - o->len : 0;
	va_start(ap, fmt);
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		o->overflow = true;
	o->len += n > 0 ? (size_t)n : 0;
}

static int is_counted(const struct lm_license *l)
{
	return l->type != LM_LINE_PACKAGE && !l->uncounted;
}

/* A SERVER line's lock code in text and its pinned key, sorted together
 * so that SERVER_KEYS lists the keys in the order of SERVER_CODES. */
struct pinned_server {
	char code[LM_LOCKCODE_TEXT_MAX];
	const struct lm_license_server *server;
};

static int compare_codes(const void *a, const void *b)
{
	const struct pinned_server *x = a, *y = b;
	return strcmp(x->code, y->code);
}

int lm_license_canonical(const struct lm_license_file *f, const struct lm_license *l, char *buf,
                         size_t size)
{
	struct out o = {.buf = buf, .size = size};
	char value[2 * LM_LICENSE_COMPONENTS_MAX + LM_SIG_TEXT_MAX];
	char raw[LM_LICENSE_COMPONENTS_MAX + LM_SIG_TEXT_MAX];

	if (!size)
		return LMC_ETOOLARGE;
	put(&o, "%s %s %s %s", lm_line_type_name(l->type), l->name, l->vendor, l->version);
	if (l->type != LM_LINE_PACKAGE) {
		lm_date_format(l->expiry, value, sizeof value);
		put(&o, " %s", value);
		if (l->uncounted)
			put(&o, " uncounted");
		else
			put(&o, " %u", (unsigned)l->count);
	}
	for (int k = 0; k < LM_KW_SERVER_CODES; k++) {
		if (k == LM_KW_TS_OK && l->ts_ok)
			put(&o, " TS_OK");
		if (k == LM_KW_SUPERSEDE && l->supersede && !l->supersede_list[0])
			put(&o, " SUPERSEDE");
		if (k == LM_KW_USER_BASED && l->user_based.bare)
			put(&o, " USER_BASED");
		if (k == LM_KW_HOST_BASED && l->host_based.bare)
			put(&o, " HOST_BASED");
		for (int a = 0; k == LM_KW_ATTRIBUTES && a < l->nattrs; a++) {
			lm_license_escape(l->attrs[a].value, value, sizeof value);
			put(&o, " %s=\"%s\"", l->attrs[a].key, value);
		}
		if (keyword_value(l, (enum lm_keyword)k, raw, sizeof raw)) {
			lm_license_escape(raw, value, sizeof value);
			put(&o, " %s=\"%s\"", lm_keyword_name((enum lm_keyword)k), value);
		}
	}
	if (is_counted(l)) {
		/* A counted line without servers could never be served, and
		 * its canonical form could not be read back. */
		if (f->nservers < 1 || f->nservers > LM_LICENSE_SERVERS_MAX)
			return LMC_EINVAL;
		struct pinned_server codes[LM_LICENSE_SERVERS_MAX];
		for (int i = 0; i < f->nservers; i++) {
			codes[i].server = &f->servers[i];
			if (lm_lockcode_format(&f->servers[i].code, codes[i].code,
			                       sizeof codes[i].code) != 0)
				return LMC_EINVAL;
		}
		qsort(codes, (size_t)f->nservers, sizeof codes[0], compare_codes);
		put(&o, " SERVER_CODES=\"");
		for (int i = 0; i < f->nservers; i++)
			put(&o, "%s%s", i ? " " : "", codes[i].code);
		put(&o, "\"");
		/* Written only when the servers pin keys, so that the lines of
		 * files without KEY= keep the text they were signed over. */
		if (f->servers[0].has_key) {
			put(&o, " SERVER_KEYS=\"");
			for (int i = 0; i < f->nservers; i++) {
				char key[LM_SERVER_KEY_TEXT_MAX];
				if (!codes[i].server->has_key ||
				    lm_server_key_format(codes[i].server->key, key, sizeof key) !=
				            0)
					return LMC_EINVAL;
				put(&o, "%s%s", i ? " " : "", key);
			}
			put(&o, "\"");
		}
	}
	if (o.overflow || o.len > INT32_MAX) {
		buf[0] = '\0';
		return LMC_ETOOLARGE;
	}
	return (int)o.len;
}

int lm_license_parse_canonical(const char *text, struct lm_license *l,
                               struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX], int *ncodes,
                               struct lm_parse_error *err)
{
	struct lm_parse_error scratch;
	char msg[200];
	int rc;

	if (!err)
		err = &scratch;
	memset(err, 0, sizeof *err);
	*ncodes = 0;
	size_t len = strlen(text);
	if (len > LM_LINE_MAX) {
		err->lineno = 1;
		snprintf(err->message, sizeof err->message,
		         "canonical line is longer than %d bytes", LM_LINE_MAX);
		return LMC_ETOOLARGE;
	}
	rc = lm_license_check_text(text, len, msg, sizeof msg);
	if (rc) {
		err->lineno = 1;
		snprintf(err->message, sizeof err->message, "%s", msg);
		return rc;
	}
	char *line = malloc(len + 1);
	char *again = malloc(LM_LINE_MAX + 1);
	if (!line || !again) {
		rc = LMC_ENOMEM;
		goto out;
	}
	memcpy(line, text, len + 1);
	rc = lm_license_parse_line(line, 1, true, l, codes, ncodes, err);
	if (rc)
		goto out;

	/* The signature covers exactly these bytes, so only one spelling of a
	 * line may be accepted: writing the parsed line out again must give
	 * the same text, or a reader could be shown fields that differ from
	 * what was signed. */
	struct lm_license_file f;
	memset(&f, 0, sizeof f);
	if (l->nserver_keys && l->nserver_keys != *ncodes) {
		err->lineno = 1;
		snprintf(err->message, sizeof err->message,
		         "SERVER_KEYS lists %d keys for %d SERVER_CODES", l->nserver_keys, *ncodes);
		rc = LMC_ESYNTAX;
		goto out;
	}
	f.nservers = *ncodes;
	for (int i = 0; i < *ncodes; i++) {
		f.servers[i].code = codes[i];
		f.servers[i].has_key = l->nserver_keys > 0;
		if (l->nserver_keys)
			memcpy(f.servers[i].key, l->server_keys[i], LM_SERVER_KEY_LEN);
	}
	int n = lm_license_canonical(&f, l, again, LM_LINE_MAX + 1);
	if (n < 0 || strcmp(again, text) != 0) {
		err->lineno = 1;
		snprintf(err->message, sizeof err->message,
		         "the line is not in canonical form (field spelling, keyword order, "
		         "quoting or spacing differ)");
		rc = LMC_ESYNTAX;
	}
out:
	if (rc) {
		memset(l, 0, sizeof *l);
		*ncodes = 0;
		if (rc == LMC_ENOMEM) {
			err->lineno = 1;
			snprintf(err->message, sizeof err->message, "out of memory");
		}
	}
	free(line);
	free(again);
	return rc;
}

/* ---- Printing ---------------------------------------------------------- */

/* Quotes are needed around blanks, and around a trailing backslash that
 * would otherwise read as a line continuation. */
static int needs_quotes(const char *v)
{
	size_t n = strlen(v);
	return n == 0 || strpbrk(v, " \t\"") || v[n - 1] == '\\';
}

/* Writes one KEY=value (or a bare flag when value is NULL), starting a
 * continuation line rather than pass PRINT_WIDTH. */
static void print_token(const char *key, const char *value, int *col, FILE *out)
{
	char escaped[2 * LM_LICENSE_COMPONENTS_MAX + LM_SIG_TEXT_MAX];
	char token[sizeof escaped + LM_LICENSE_ATTR_KEY_MAX + 32];
	int n;
	if (!value) {
		n = snprintf(token, sizeof token, "%s", key);
	} else {
		const char *q = needs_quotes(value) ? "\"" : "";
		lm_license_escape(value, escaped, sizeof escaped);
		n = snprintf(token, sizeof token, "%s=%s%s%s", key, q, escaped, q);
	}
	/* Continuations start with a tab, 8 columns wide. */
	if (*col + 1 + n + 2 > PRINT_WIDTH) {
		fputs(" \\\n\t", out);
		*col = 8;
	} else {
		fputc(' ', out);
		(*col)++;
	}
	fputs(token, out);
	*col += n;
}

static void print_license(const struct lm_license *l, FILE *out)
{
	char value[LM_LICENSE_COMPONENTS_MAX + LM_SIG_TEXT_MAX];
	int col;

	col = fprintf(out, "%s %s %s %s", lm_line_type_name(l->type), l->name, l->vendor,
	              l->version);
	if (l->type != LM_LINE_PACKAGE) {
		lm_date_format(l->expiry, value, sizeof value);
		col += fprintf(out, " %s", value);
		if (l->uncounted)
			col += fprintf(out, " uncounted");
		else
			col += fprintf(out, " %u", (unsigned)l->count);
	}
	for (int k = 0; k < LM_KW_COUNT; k++) {
		if (k == LM_KW_TS_OK && l->ts_ok)
			print_token("TS_OK", NULL, &col, out);
		if (k == LM_KW_SUPERSEDE && l->supersede && !l->supersede_list[0])
			print_token("SUPERSEDE", NULL, &col, out);
		if (k == LM_KW_USER_BASED && l->user_based.bare)
			print_token("USER_BASED", NULL, &col, out);
		if (k == LM_KW_HOST_BASED && l->host_based.bare)
			print_token("HOST_BASED", NULL, &col, out);
		for (int a = 0; k == LM_KW_ATTRIBUTES && a < l->nattrs; a++)
			print_token(l->attrs[a].key, l->attrs[a].value, &col, out);
		if (k != LM_KW_SERVER_CODES && k != LM_KW_SERVER_KEYS &&
		    keyword_value(l, (enum lm_keyword)k, value, sizeof value))
			print_token(lm_keyword_name((enum lm_keyword)k), value, &col, out);
	}
	fputc('\n', out);
}

/* The VENDOR line with its optional fields, the options file and the port
 * written with their keywords so that the line reads the same way back
 * without the daemon path. */
static void print_vendor(const struct lm_license_file *f, FILE *out)
{
	fprintf(out, "VENDOR %s", f->vendor);
	if (f->vendor_path[0])
		fprintf(out, " %s", f->vendor_path);
	if (f->vendor_options[0])
		fprintf(out, strpbrk(f->vendor_options, " \t") ? " OPTIONS=\"%s\"" : " OPTIONS=%s",
		        f->vendor_options);
	if (f->vendor_port)
		fprintf(out, " PORT=%u", f->vendor_port);
	fputc('\n', out);
}

static void print_server(const struct lm_license_server *s, FILE *out)
{
	char code[LM_LOCKCODE_TEXT_MAX];
	if (lm_lockcode_format(&s->code, code, sizeof code) != 0)
		snprintf(code, sizeof code, "%s", s->code_text);
	fprintf(out, "SERVER %s %s %u", s->host, code, (unsigned)s->port);
	char key[LM_SERVER_KEY_TEXT_MAX];
	if (s->has_key && lm_server_key_format(s->key, key, sizeof key) == 0)
		fprintf(out, " KEY=%s", key);
	fputc('\n', out);
}

int lm_license_print(const struct lm_license_file *f, FILE *out)
{
	if (f->nitems == 0) {
		/* A file put together in memory rather than parsed: print it
		 * in the usual order. */
		for (int i = 0; i < f->nservers; i++)
			print_server(&f->servers[i], out);
		if (f->vendor[0])
			print_vendor(f, out);
		if (f->use_server)
			fputs("USE_SERVER\n", out);
		for (size_t i = 0; i < f->nlines; i++)
			print_license(&f->lines[i], out);
	}
	for (size_t i = 0; i < f->nitems; i++) {
		const struct lm_license_item *it = &f->items[i];
		switch (it->kind) {
		case LM_ITEM_TEXT: fprintf(out, "%s\n", it->text); break;
		case LM_ITEM_SERVER: print_server(&f->servers[it->index], out); break;
		case LM_ITEM_VENDOR: print_vendor(f, out); break;
		case LM_ITEM_USE_SERVER: fputs("USE_SERVER\n", out); break;
		case LM_ITEM_LICENSE: print_license(&f->lines[it->index], out); break;
		}
	}
	if (fflush(out) != 0 || ferror(out))
		return LMC_EIO;
	return 0;
}
