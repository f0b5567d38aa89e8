/* Options files: the normal form of each line and the canonical text, in
 * which a file's meaning and its SHA-256 do not depend on spacing, case of
 * keywords, comments or continuations. */
#include "core/options_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/error.h"

void lm_opt_sb_add(struct lm_opt_sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void lm_opt_sb_str(struct lm_opt_sbuf *b, const char *s)
{
	lm_opt_sb_add(b, s, strlen(s));
}

/* A word, quoted when it holds blanks so that it reads back as one word. */
void lm_opt_sb_word(struct lm_opt_sbuf *b, const char *s)
{
	if (b->len)
		lm_opt_sb_add(b, " ", 1);
	/* A final '\\' would read back as a continuation. */
	if (strpbrk(s, " \t") || s[strlen(s) - 1] == '\\') {
		lm_opt_sb_add(b, "\"", 1);
		lm_opt_sb_str(b, s);
		lm_opt_sb_add(b, "\"", 1);
	} else {
		lm_opt_sb_str(b, s);
	}
}

static void sb_feature(struct lm_opt_sbuf *b, const struct lm_opt_rule *r)
{
	if (!r->qual_value) {
		lm_opt_sb_word(b, r->feature);
		return;
	}
	if (b->len)
		lm_opt_sb_add(b, " ", 1);
	lm_opt_sb_str(b, r->feature);
	lm_opt_sb_add(b, ":", 1);
	lm_opt_sb_str(b, r->qual_key);
	lm_opt_sb_add(b, "=", 1);
	if (strpbrk(r->qual_value, " \t")) {
		lm_opt_sb_add(b, "\"", 1);
		lm_opt_sb_str(b, r->qual_value);
		lm_opt_sb_add(b, "\"", 1);
	} else {
		lm_opt_sb_str(b, r->qual_value);
	}
}

void lm_opt_sb_number(struct lm_opt_sbuf *b, uint32_t n)
{
	char num[16];
	snprintf(num, sizeof num, "%u", n);
	lm_opt_sb_word(b, num);
}

void lm_opt_canon_add(struct lm_opt_state *st, char *text)
{
	if (!text) {
		st->nomem = true;
		return;
	}
	struct lm_opt_canon_line *c =
	        lm_opt_grow(st, st->canon, &st->cap_canon, st->ncanon, sizeof *c);
	if (!c) {
		free(text);
		return;
	}
	st->canon = c;
	c[st->ncanon].lineno = st->lineno;
	c[st->ncanon].text = text;
	st->ncanon++;
}

/* The normal form of a rule. */
char *lm_opt_rule_text(const struct lm_opt_rule *r)
{
	struct lm_opt_sbuf b = {0};
	lm_opt_sb_str(&b, lm_opt_keyword_name(r->kw));
	if (r->kw == LM_OPT_RESERVE || r->kw == LM_OPT_MAX)
		lm_opt_sb_number(&b, r->number);
	if (r->has_feature)
		sb_feature(&b, r);
	if (r->has_who) {
		lm_opt_sb_word(&b, lm_opt_type_name(r->type));
		lm_opt_sb_word(&b, r->who);
	}
	if (r->kw == LM_OPT_TIMEOUT || r->kw == LM_OPT_TIMEOUTALL || r->kw == LM_OPT_LINGER ||
	    r->kw == LM_OPT_MAX_OVERDRAFT || r->kw == LM_OPT_MAX_BORROW_HOURS ||
	    r->kw == LM_OPT_BORROW_LOWWATER)
		lm_opt_sb_number(&b, r->number);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int lm_opt_build_canonical(struct lm_opt_state *st)
{
	struct lm_options *o = st->o;
	struct lm_opt_sbuf b = {0};
	int line = 1;
	lm_opt_sb_add(&b, "", 0);
	for (size_t i = 0; i < st->ncanon; i++) {
		for (; line < st->canon[i].lineno; line++)
			lm_opt_sb_add(&b, "\n", 1);
		lm_opt_sb_str(&b, st->canon[i].text);
		lm_opt_sb_add(&b, "\n", 1);
		line++;
	}
	if (b.failed) {
		free(b.p);
		return LMC_ENOMEM;
	}
	o->canonical = b.p;
	o->canonical_len = b.len;
	SHA256((const unsigned char *)b.p, b.len, o->sha256);
	return 0;
}
