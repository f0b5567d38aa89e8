/* Options files: diagnostics, the file's bytes and lines, and the whole
 * parse.  The grammar and the decision rules are stated in options.h; how
 * the parser's files divide the work is in options_internal.h. */
#include "core/options_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

void lm_opt_diags_init(struct lm_opt_diags *d)
{
	memset(d, 0, sizeof *d);
}

void lm_opt_diags_free(struct lm_opt_diags *d)
{
	free(d->items);
	memset(d, 0, sizeof *d);
}

void lm_opt_diag_add(struct lm_opt_diags *d, int lineno, enum lm_opt_severity sev, const char *fmt,
                     ...)
{
	va_list ap;

	if (sev == LM_OPT_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
	if (d->n == LM_OPTIONS_DIAGS_MAX) {
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct lm_opt_diag *items = realloc(d->items, cap * sizeof *items);
		if (!items) {
			d->dropped++;
			return;
		}
		d->items = items;
		d->cap = cap;
	}
	struct lm_opt_diag *x = &d->items[d->n++];
	x->lineno = lineno;
	x->severity = sev;
	va_start(ap, fmt);
	vsnprintf(x->message, sizeof x->message, fmt, ap);
	va_end(ap);
}

void *lm_opt_grow(struct lm_opt_state *st, void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *q = realloc(p, ncap * size);
	if (!q) {
		st->nomem = true;
		return NULL;
	}
	*cap = ncap;
	return q;
}

char *lm_opt_strdup(struct lm_opt_state *st, const char *s)
{
	char *d = strdup(s);
	if (!d)
		st->nomem = true;
	return d;
}

void lm_options_free(struct lm_options *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nrules; i++)
		lm_opt_rule_free(&o->rules[i]);
	free(o->rules);
	for (size_t i = 0; i < o->ngroups; i++) {
		for (size_t k = 0; k < o->groups[i].nmembers; k++)
			free(o->groups[i].members[k]);
		free(o->groups[i].members);
		free(o->groups[i].name);
	}
	free(o->groups);
	free(o->name);
	free(o->reportlog);
	free(o->debuglog);
	free(o->canonical);
	free(o);
}

/* Refuses what is not text: a NUL or a control byte (tab, CR, LF and form
 * feed aside).  Bytes from 0x80 pass: names in Latin-1 or UTF-8. */
static bool check_bytes(const char *text, size_t len, struct lm_opt_diags *d)
{
	int lineno = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			lineno++;
		} else if (c == 0) {
			lm_opt_diag_add(
			        d, lineno, LM_OPT_ERROR,
			        "a NUL byte: an options file is text; is this the right file?");
			return false;
		} else if (c == '\r' && i + 1 < len && text[i + 1] != '\n') {
			lm_opt_diag_add(
			        d, lineno, LM_OPT_ERROR,
			        "a carriage return inside a line: save the file with Unix (LF) or "
			        "Windows (CR LF) line ends");
			return false;
		} else if ((c < 0x20 && c != '\t' && c != '\r' && c != '\f') || c == 0x7f) {
			lm_opt_diag_add(
			        d, lineno, LM_OPT_ERROR,
			        "control byte 0x%02x: an options file is text; is this the right "
			        "file?",
			        c);
			return false;
		}
	}
	return true;
}

/* Diagnostics from index first on in line order (a stable insertion sort:
 * at most LM_OPTIONS_DIAGS_MAX of them), those about the whole file last. */
static void sort_diags(struct lm_opt_diags *d, size_t first)
{
	for (size_t i = first + 1; i < d->n; i++) {
		struct lm_opt_diag x = d->items[i];
		unsigned key = x.lineno > 0 ? (unsigned)x.lineno : UINT32_MAX;
		size_t k = i;
		while (k > first) {
			int prev = d->items[k - 1].lineno;
			if ((prev > 0 ? (unsigned)prev : UINT32_MAX) <= key)
				break;
			d->items[k] = d->items[k - 1];
			k--;
		}
		d->items[k] = x;
	}
}

int lm_options_parse(const char *name, const char *text, size_t len,
                     const struct lm_license_file *lic, struct lm_options **out,
                     struct lm_opt_diags *diags)
{
	struct lm_opt_state st = {.diags = diags, .lic = lic};
	char *line = NULL, **words = NULL;
	size_t nwords_cap = 0, nerrors = diags->nerrors, first_diag = diags->n;
	int rc = 0;

	*out = NULL;
	if (len > LM_OPTIONS_FILE_MAX) {
		lm_opt_diag_add(diags, 0, LM_OPT_ERROR,
		                "the file has %zu bytes, more than any options file "
		                "can (%d): is this the right file?",
		                len, LM_OPTIONS_FILE_MAX);
		return LMC_ETOOLARGE;
	}
	if (!check_bytes(text, len, diags))
		return LMC_ESYNTAX;
	size_t nlines = 0;
	for (size_t i = 0; i < len; i++)
		nlines += text[i] == '\n';
	if (nlines + (len && text[len - 1] != '\n') > LM_OPTIONS_LINES_MAX) {
		lm_opt_diag_add(
		        diags, LM_OPTIONS_LINES_MAX + 1, LM_OPT_ERROR,
		        "the file has more than %d lines, lmd's limit: merge GROUP lines or split "
		        "the policy",
		        LM_OPTIONS_LINES_MAX);
		return LMC_ETOOLARGE;
	}

	st.o = calloc(1, sizeof *st.o);
	line = malloc(LM_OPTIONS_LINE_MAX + 2);
	if (!st.o || !line) {
		rc = LMC_ENOMEM;
		goto done;
	}
	st.o->name = strdup(name ? name : "options");
	if (!st.o->name) {
		rc = LMC_ENOMEM;
		goto done;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		lm_opt_diag_add(diags, 1, LM_OPT_WARNING,
		                "the file starts with a byte order mark, which FlexLM does not "
		                "read: save it "
		                "as plain text without BOM");
		text += 3;
		len -= 3;
	}

	/* Physical lines to logical lines: a trailing '\' joins the next. */
	size_t pos = 0, llen = 0;
	int physical = 0, start = 0;
	bool too_long = false, continuing = false;
	while (pos < len && !st.nomem) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *p = text + pos;
		pos += n + (nl != NULL);
		physical++;
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t' ||
		             p[n - 1] == '\f'))
			n--;
		if (!continuing) {
			start = physical;
			llen = 0;
			too_long = false;
			size_t k = 0;
			while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\f'))
				k++;
			if (k == n || p[k] == '#')
				continue; /* blank or comment */
		}
		bool more = n && p[n - 1] == '\\';
		if (more)
			n--;
		if (llen + n + 1 > LM_OPTIONS_LINE_MAX)
			too_long = true;
		else {
			memcpy(line + llen, p, n);
			llen += n;
			line[llen++] = ' ';
		}
		continuing = more && pos < len;
		if (continuing)
			continue;
		line[llen] = '\0';
		st.lineno = start;
		if (too_long) {
			lm_opt_diag_add(diags, start, LM_OPT_ERROR,
			                "this line is longer than %d characters, FlexLM's limit: "
			                "split a long "
			                "GROUP into several GROUP lines of the same name",
			                LM_OPTIONS_LINE_MAX);
			continue;
		}
		for (size_t k = 0; k < llen; k++)
			if (line[k] == '\f')
				line[k] = ' ';
		lm_opt_parse_line(&st, line, &words, &nwords_cap);
	}
	if (st.nomem) {
		rc = LMC_ENOMEM;
		goto done;
	}
	lm_opt_resolve_groups(&st);
	lm_opt_check_shadowed(&st);
	lm_opt_check_counts(&st);
	lm_opt_check_named(&st);
	if (st.nomem) {
		rc = LMC_ENOMEM;
		goto done;
	}
	sort_diags(diags, first_diag);
	if (diags->nerrors > nerrors) {
		rc = LMC_ESYNTAX;
		goto done;
	}
	rc = lm_opt_build_canonical(&st);
done:
	if (rc == LMC_ENOMEM)
		lm_opt_diag_add(diags, 0, LM_OPT_ERROR,
		                "out of memory while reading the options file");
	for (size_t i = 0; i < st.ncanon; i++)
		free(st.canon[i].text);
	free(st.canon);
	free(words);
	free(line);
	if (rc) {
		lm_options_free(st.o);
		return rc;
	}
	*out = st.o;
	return 0;
}

int lm_options_load(const char *path, const struct lm_license_file *lic, struct lm_options **out,
                    struct lm_opt_diags *diags)
{
	struct stat sb;
	const char *base = strrchr(path, '/');
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	base = base ? base + 1 : path;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		lm_opt_diag_add(diags, 0, LM_OPT_ERROR, "cannot read %s: %s", path,
		                fd < 0 || errno ? strerror(errno ? errno : EINVAL)
		                                : "not a regular file");
		if (fd >= 0)
			close(fd);
		return LMC_EIO;
	}
	if (sb.st_size > LM_OPTIONS_FILE_MAX) {
		lm_opt_diag_add(
		        diags, 0, LM_OPT_ERROR,
		        "%s has %lld bytes, more than any options file can (%d): is this the right "
		        "file?",
		        path, (long long)sb.st_size, LM_OPTIONS_FILE_MAX);
		close(fd);
		return LMC_ETOOLARGE;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		lm_opt_diag_add(diags, 0, LM_OPT_ERROR, "out of memory reading %s", path);
		return LMC_ENOMEM;
	}
	while (len <= (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lm_opt_diag_add(diags, 0, LM_OPT_ERROR, "cannot read %s: %s", path,
			                strerror(errno));
			free(buf);
			close(fd);
			return LMC_EIO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > (size_t)sb.st_size) {
		lm_opt_diag_add(diags, 0, LM_OPT_ERROR, "%s grew while being read: try again",
		                path);
		free(buf);
		return LMC_EIO;
	}
	rc = lm_options_parse(base, buf, len, lic, out, diags);
	free(buf);
	return rc;
}
