/* The license file parser: the file as a whole (continuations, comments,
 * the order of lines, reading from disk).  SERVER and VENDOR lines are
 * parsed by license_servers.c, license lines by license_line.c, both with
 * the words of license_words.c.
 *
 * A license file arrives from a vendor by mail, is edited by administrators
 * and is read by lmd and by every application, so the parser trusts
 * nothing: every limit of core/limits.h is checked where the text is read, and
 * every refusal names the line and says what was expected there.  The
 * parser never stops at the first doubt with a partial result: either the
 * whole file is understood or nothing is returned, except that a server
 * (and an application) reads with lm_license_parse_skipping, which leaves a
 * license line it cannot read out of the file and says so, as FlexLM does. */
#include "core/license.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/code32.h"
#include "core/date.h"
#include "core/error.h"
#include "core/license_internal.h"

static int add_item(struct lm_license_parser *ps, enum lm_item_kind kind, size_t index,
                    const char *text, int lineno)
{
	struct lm_license_file *f = ps->f;
	if (f->nitems >= LM_LICENSE_LINES_MAX)
		return lm_license_fail(
		        ps->err, lineno, LMC_ETOOLARGE,
		        "the file has more than %d lines (comments and blank lines included); "
		        "split it",
		        LM_LICENSE_LINES_MAX);
	if (f->nitems == ps->items_cap) {
		size_t cap = ps->items_cap ? ps->items_cap * 2 : 16;
		struct lm_license_item *items = realloc(f->items, cap * sizeof *items);
		if (!items)
			return lm_license_fail(ps->err, lineno, LMC_ENOMEM, "out of memory");
		f->items = items;
		ps->items_cap = cap;
	}
	struct lm_license_item *it = &f->items[f->nitems];
	it->kind = kind;
	it->index = index;
	it->text = NULL;
	if (text) {
		it->text = strdup(text);
		if (!it->text)
			return lm_license_fail(ps->err, lineno, LMC_ENOMEM, "out of memory");
	}
	f->nitems++;
	return 0;
}

/* Lists a line left out in f->skipped, keeping file order. */
static int add_skipped(struct lm_license_file *f, int lineno, int code, const char *type,
                       const char *name, const char *message)
{
	struct lm_license_skipped *more = realloc(f->skipped, (f->nskipped + 1) * sizeof *more);
	if (!more)
		return LMC_ENOMEM;
	f->skipped = more;
	size_t at = f->nskipped;
	while (at > 0 && more[at - 1].lineno > lineno)
		at--;
	memmove(&more[at + 1], &more[at], (f->nskipped - at) * sizeof *more);
	struct lm_license_skipped *s = &more[at];
	memset(s, 0, sizeof *s);
	s->lineno = lineno;
	s->code = code;
	snprintf(s->type, sizeof s->type, "%s", type);
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->message, sizeof s->message, "%s", message);
	f->nskipped++;
	return 0;
}

int lm_license_skip(struct lm_license_file *f, size_t index, int code, const char *fmt, ...)
{
	if (index >= f->nlines)
		return LMC_EINVAL;
	const struct lm_license *l = &f->lines[index];
	char message[sizeof f->skipped->message];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	int rc = add_skipped(f, l->lineno, code, lm_line_type_name(l->type), l->name, message);
	if (rc)
		return rc;
	memmove(&f->lines[index], &f->lines[index + 1], (f->nlines - index - 1) * sizeof *l);
	f->nlines--;
	/* Its item goes too (the printer writes what is served), and the items
	 * after it name the lines by their new places. */
	size_t out = 0;
	for (size_t i = 0; i < f->nitems; i++) {
		struct lm_license_item it = f->items[i];
		if (it.kind == LM_ITEM_LICENSE && it.index == index)
			continue;
		if (it.kind == LM_ITEM_LICENSE && it.index > index)
			it.index--;
		f->items[out++] = it;
	}
	f->nitems = out;
	return 0;
}

/* 1 when name is among the blank-separated names of list. */
static bool names_include(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, " ");
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

bool lm_license_supersedes(const struct lm_license *newer, const struct lm_license *old)
{
	if (newer == old || !newer->supersede || newer->type == LM_LINE_PACKAGE)
		return false;
	if (old->issued != LM_DATE_NONE && old->issued >= newer->issued)
		return false;
	return newer->supersede_list[0] ? names_include(newer->supersede_list, old->name)
	                                : strcmp(newer->name, old->name) == 0;
}

/* The first two words of a line that could not be read ("FEATURE",
 * "stats"), cut to what the skipped record holds. */
static void first_words(const char *line, struct lm_license_skipped *out)
{
	size_t n = strcspn(line, " \t");
	const char *second = line + n;
	while (lm_license_is_blank(*second))
		second++;
	size_t m = strcspn(second, " \t");
	snprintf(out->type, sizeof out->type, "%.*s", (int)n, line);
	snprintf(out->name, sizeof out->name, "%.*s", (int)m, second);
}

static int parse_license(struct lm_license_parser *ps, char *line, int lineno)
{
	struct lm_license_file *f = ps->f;
	if (f->nlines == ps->lines_cap) {
		size_t cap = ps->lines_cap ? ps->lines_cap * 2 : 8;
		struct lm_license *lines = realloc(f->lines, cap * sizeof *lines);
		if (!lines)
			return lm_license_fail(ps->err, lineno, LMC_ENOMEM, "out of memory");
		f->lines = lines;
		ps->lines_cap = cap;
	}
	struct lm_license_skipped words = {0};
	if (ps->skip_bad_lines)
		first_words(line, &words); /* the parser cuts line into words */
	int rc = lm_license_parse_line(line, lineno, false, &f->lines[f->nlines], NULL, NULL,
	                               ps->err);
	if (rc && ps->skip_bad_lines && rc != LMC_ENOMEM) {
		rc = add_skipped(f, lineno, rc, words.type, words.name, ps->err->message);
		memset(ps->err, 0, sizeof *ps->err);
		return rc ? lm_license_fail(ps->err, lineno, rc, "out of memory") : 0;
	}
	if (rc)
		return rc;
	f->nlines++;
	return add_item(ps, LM_ITEM_LICENSE, f->nlines - 1, NULL, lineno);
}

static int parse_logical(struct lm_license_parser *ps, char *line, int lineno)
{
	char *p = line;
	while (lm_license_is_blank(*p))
		p++;
	if (!*p)
		return add_item(ps, LM_ITEM_TEXT, 0, "", lineno);
	size_t wlen = strcspn(p, " \t");
	char word[16];
	enum lm_line_type type;
	int rc;
	snprintf(word, sizeof word, "%.*s", (int)(wlen < 15 ? wlen : 15), p);
	if (wlen < sizeof word && strcasecmp(word, "SERVER") == 0) {
		rc = lm_license_parse_server(ps, p, lineno);
		return rc ? rc
		          : add_item(ps, LM_ITEM_SERVER, (size_t)ps->f->nservers - 1, NULL, lineno);
	}
	/* DAEMON is FlexLM's older name for the VENDOR line. */
	if (wlen < sizeof word &&
	    (strcasecmp(word, "VENDOR") == 0 || strcasecmp(word, "DAEMON") == 0)) {
		rc = lm_license_parse_vendor(ps, p, lineno);
		return rc ? rc : add_item(ps, LM_ITEM_VENDOR, 0, NULL, lineno);
	}
	/* USE_SERVER tells FlexLM clients to ask the servers; liblmc always
	 * does for counted lines, so it is kept for the printer only. */
	if (wlen < sizeof word && strcasecmp(word, "USE_SERVER") == 0) {
		if (p[wlen])
			return lm_license_fail(ps->err, lineno, LMC_ESYNTAX,
			                       "USE_SERVER takes nothing after it");
		ps->f->use_server = true;
		return add_item(ps, LM_ITEM_USE_SERVER, 0, NULL, lineno);
	}
	if (wlen < sizeof word && lm_license_parse_type(word, &type) == 0)
		return parse_license(ps, p, lineno);
	return lm_license_fail(
	        ps->err, lineno, LMC_ESYNTAX,
	        "unknown line type '%.*s'; expected SERVER, VENDOR, USE_SERVER, FEATURE, "
	        "INCREMENT or PACKAGE (comment lines start with #)",
	        (int)(wlen < 40 ? wlen : 40), p);
}

/* A line that breaks a rule of the file: refused, or left out when
 * reading with lm_license_parse_skipping (*i then stays on the next item). */
static int refuse_line(struct lm_license_parser *ps, size_t *i, const char *message)
{
	struct lm_license_file *f = ps->f;
	const struct lm_license_item *it = &f->items[*i];
	if (!ps->skip_bad_lines)
		return lm_license_fail(ps->err, f->lines[it->index].lineno, LMC_ESYNTAX, "%s",
		                       message);
	int rc = lm_license_skip(f, it->index, LMC_ESYNTAX, "%s", message);
	if (rc)
		return lm_license_fail(ps->err, 0, rc, "out of memory");
	(*i)--;
	return 0;
}

/* Rules that involve several lines, checked in file order once every line
 * is read, so that SERVER and VENDOR lines may come anywhere. */
static int check_file(struct lm_license_parser *ps)
{
	struct lm_license_file *f = ps->f;
	char msg[LM_MESSAGE_MAX];
	int rc = 0;
	for (size_t i = 0; i < f->nitems && rc == 0; i++) {
		const struct lm_license_item *it = &f->items[i];
		if (it->kind == LM_ITEM_SERVER && it->index == 1 && f->nservers == 2)
			return lm_license_fail(
			        ps->err, f->servers[1].lineno, LMC_ESYNTAX,
			        "the file has 2 SERVER lines; a license names one server, or "
			        "three redundant servers (a majority of two must agree)");
		if (it->kind != LM_ITEM_LICENSE)
			continue;
		const struct lm_license *l = &f->lines[it->index];
		const char *tname = lm_line_type_name(l->type);
		if (f->vendor[0] && strcmp(l->vendor, f->vendor) != 0) {
			snprintf(msg, sizeof msg,
			         "%s %s names vendor '%s' but the VENDOR line (line %d) names '%s'",
			         tname, l->name, l->vendor, ps->vendor_lineno, f->vendor);
			rc = refuse_line(ps, &i, msg);
		} else if (l->type != LM_LINE_PACKAGE && !l->uncounted && f->nservers == 0) {
			snprintf(msg, sizeof msg,
			         "%s %s is counted (%u seats) but the file has no SERVER line; "
			         "counted licenses are served by lmd: add SERVER lines, or make "
			         "it uncounted with a HOSTID",
			         tname, l->name, (unsigned)l->count);
			rc = refuse_line(ps, &i, msg);
		}
	}
	return rc;
}

void lm_license_free(struct lm_license_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nitems; i++)
		free(f->items[i].text);
	free(f->items);
	free(f->lines);
	free(f->skipped);
	memset(f, 0, sizeof *f);
}

/* Trailing blanks never matter, and removing them lets a `\` followed by a
 * stray space still continue the line, as people expect. */
static size_t trim_right(const char *s, size_t n)
{
	while (n && lm_license_is_blank(s[n - 1]))
		n--;
	return n;
}

static int parse_text(const char *text, size_t len, struct lm_license_file *f,
                      struct lm_parse_error *err, bool skip_bad_lines)
{
	struct lm_parse_error scratch;
	struct lm_license_parser ps = {
	        .f = f, .err = err ? err : &scratch, .skip_bad_lines = skip_bad_lines};
	char msg[200];
	int rc = 0;

	memset(f, 0, sizeof *f);
	memset(ps.err, 0, sizeof *ps.err);
	if (!text && len)
		return lm_license_fail(ps.err, 0, LMC_EINVAL, "no text to parse");
	/* Room for the longest logical line, the space that replaces a
	 * continuation, and the NUL. */
	char *line = malloc(LM_LINE_MAX + 2);
	if (!line)
		return lm_license_fail(ps.err, 0, LMC_ENOMEM, "out of memory");

	size_t pos = 0;
	int phys = 0;
	/* Editors on Windows start UTF-8 files with a byte order mark. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len && rc == 0) {
		int first = phys + 1;
		size_t ll = 0;
		bool more = false, comment = false;
		do {
			const char *start = text + pos;
			const char *nl = memchr(start, '\n', len - pos);
			size_t plen = nl ? (size_t)(nl - start) : len - pos;
			pos += plen + (nl != NULL);
			phys++;
			if (plen && start[plen - 1] == '\r')
				plen--;
			plen = trim_right(start, plen);
			if (ll + plen > LM_LINE_MAX) {
				rc = lm_license_fail(
				        ps.err, first, LMC_ETOOLARGE,
				        "line is longer than %d bytes (continuation lines "
				        "included); a license line is much shorter, is this a "
				        "license file?",
				        LM_LINE_MAX);
				break;
			}
			rc = lm_license_check_text(start, plen, msg, sizeof msg);
			if (rc) {
				lm_license_fail(ps.err, phys, rc, "%s", msg);
				break;
			}
			size_t lead = 0;
			while (lead < plen && lm_license_is_blank(start[lead]))
				lead++;
			/* A comment is one physical line: a backslash ending a
			 * sentence does not swallow the next line. */
			comment = ll == 0 && lead < plen && start[lead] == '#';
			more = !comment && plen && start[plen - 1] == '\\';
			if (more)
				plen--;
			memcpy(line + ll, start, plen);
			ll += plen;
			if (more)
				line[ll++] = ' ';
		} while (more && pos < len);
		if (rc)
			break;
		line[ll] = '\0';
		if (comment)
			rc = add_item(&ps, LM_ITEM_TEXT, 0, line, first);
		else
			rc = parse_logical(&ps, line, first);
	}
	free(line);
	if (rc == 0)
		rc = check_file(&ps);
	if (rc) {
		lm_license_free(f);
		return rc;
	}
	return 0;
}

int lm_license_parse(const char *text, size_t len, struct lm_license_file *f,
                     struct lm_parse_error *err)
{
	return parse_text(text, len, f, err, false);
}

int lm_license_parse_skipping(const char *text, size_t len, struct lm_license_file *f,
                              struct lm_parse_error *err)
{
	return parse_text(text, len, f, err, true);
}

static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "a special file";
}

static int load_file(const char *path, struct lm_license_file *f, struct lm_parse_error *err,
                     bool skip_bad_lines)
{
	struct lm_parse_error scratch;
	if (!err)
		err = &scratch;
	memset(f, 0, sizeof *f);
	memset(err, 0, sizeof *err);
	/* O_NONBLOCK so that opening a FIFO returns at once instead of
	 * waiting for a writer; symbolic links are followed, since
	 * administrators link license files into place. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return lm_license_fail(err, 0, LMC_EIO, "cannot open %.200s: %s", path,
		                       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return lm_license_fail(err, 0, LMC_EIO, "cannot stat %.200s: %s", path,
		                       strerror(e));
	}
	/* Checked on what was opened, not on the name, so that the file cannot
	 * be swapped between a check and the read.  A FIFO or a device would
	 * block the reader or never end. */
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return lm_license_fail(
		        err, 0, LMC_EIO,
		        "%.200s is %s, not a regular file; a license file must be a regular "
		        "file",
		        path, file_kind(st.st_mode));
	}
	if ((uintmax_t)st.st_size > LM_LICENSE_FILE_MAX) {
		close(fd);
		return lm_license_fail(err, 0, LMC_ETOOLARGE,
		                       "%.200s is larger than %zu bytes; it is not a license file",
		                       path, LM_LICENSE_FILE_MAX);
	}
	FILE *in = fdopen(fd, "rb");
	if (!in) {
		int e = errno;
		close(fd);
		return lm_license_fail(err, 0, LMC_ENOMEM, "cannot read %.200s: %s", path,
		                       strerror(e));
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int rc = 0;
	if (!buf) {
		fclose(in);
		return lm_license_fail(err, 0, LMC_ENOMEM, "out of memory");
	}
	for (;;) {
		if (len == cap) {
			if (cap > LM_LICENSE_FILE_MAX) {
				rc = lm_license_fail(
				        err, 0, LMC_ETOOLARGE,
				        "%.200s is larger than %zu bytes; it is not a license file",
				        path, LM_LICENSE_FILE_MAX);
				break;
			}
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				rc = lm_license_fail(err, 0, LMC_ENOMEM, "out of memory");
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, in);
		len += got;
		if (got == 0) {
			if (ferror(in))
				rc = lm_license_fail(err, 0, LMC_EIO, "cannot read %.200s: %s",
				                     path, strerror(errno));
			break;
		}
	}
	fclose(in);
	if (rc == 0)
		rc = parse_text(buf, len, f, err, skip_bad_lines);
	free(buf);
	return rc;
}

int lm_license_load(const char *path, struct lm_license_file *f, struct lm_parse_error *err)
{
	return load_file(path, f, err, false);
}

int lm_license_load_skipping(const char *path, struct lm_license_file *f,
                             struct lm_parse_error *err)
{
	return load_file(path, f, err, true);
}

bool lm_license_component(const struct lm_license *pkg, const char *component, char *version,
                          size_t size)
{
	size_t want = strlen(component);
	if (pkg->type != LM_LINE_PACKAGE || want == 0)
		return false;
	for (const char *q = pkg->components; *q;) {
		size_t item = strcspn(q, " "), name = strcspn(q, " :");
		if (name == want && memcmp(q, component, want) == 0) {
			if (name < item)
				snprintf(version, size, "%.*s", (int)(item - name - 1),
				         q + name + 1);
			else
				snprintf(version, size, "%s", pkg->version);
			return true;
		}
		q += item;
		if (*q == ' ')
			q++;
	}
	return false;
}
