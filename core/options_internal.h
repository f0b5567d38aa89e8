/* What the files of the options parser share.  Private to core/options*.c;
 * the API is core/options.h.
 *
 *   options.c            diagnostics, physical lines to logical lines, the
 *                        whole file (parse, load, free)
 *   options_line.c       one logical line: its words, the checks every word
 *                        passes (names, numbers, IP patterns), its keyword
 *   options_feature.c    the feature of a rule: name, qualifier, and what the
 *                        license says about it
 *   options_rules.c      the access rules (INCLUDE, EXCLUDE, RESERVE, MAX,
 *                        TIMEOUT...) and who they name
 *   options_groups.c     GROUP and HOST_GROUP, and the rules that use them
 *   options_settings.c   GROUPCASEINSENSITIVE, NOLOG, REPORTLOG, DEBUGLOG
 *   options_checks.c     checks over the whole file: shadowed rules, counts
 *                        against the license
 *   options_canonical.c  the normal form of each line and the canonical text
 *   options_decide.c     the decisions (a pure function of their arguments)
 *
 * Memory: a parse owns everything it allocates through struct lm_opt_state;
 * a failed allocation sets st->nomem and the parse ends with LMC_ENOMEM. */
#ifndef LM_OPTIONS_INTERNAL_H
#define LM_OPTIONS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/options.h"

/* How the words after a keyword are laid out. */
enum lm_opt_shape {
	SHAPE_FEATURE_WHO,       /* INCLUDE feature type name */
	SHAPE_WHO,               /* INCLUDEALL type name */
	SHAPE_COUNT_FEATURE_WHO, /* RESERVE count feature type name */
	SHAPE_FEATURE_NUMBER,    /* TIMEOUT feature seconds */
	SHAPE_NUMBER,            /* TIMEOUTALL seconds */
	SHAPE_GROUP,             /* GROUP name member... */
	SHAPE_ON_OFF,
	SHAPE_NOLOG,
	SHAPE_PATH,
};

/* A keyword, the shape of its line and how to write it (for messages). */
struct lm_opt_syntax {
	const char *name;
	enum lm_opt_keyword kw;
	enum lm_opt_shape shape;
	const char *usage;
};

/* The normal form of one line, kept until the whole file is read. */
struct lm_opt_canon_line {
	int lineno;
	char *text;
};

/* One parse: the options being built and where its messages go. */
struct lm_opt_state {
	struct lm_options *o;
	struct lm_opt_diags *diags;
	const struct lm_license_file *lic;
	int lineno;
	bool nomem;
	size_t cap_rules, cap_groups;
	struct lm_opt_canon_line *canon;
	size_t ncanon, cap_canon;
};

/* Diagnostics (options.c).  ERR and WARN report at the current line. */
__attribute__((format(printf, 4, 5))) void
lm_opt_diag_add(struct lm_opt_diags *d, int lineno, enum lm_opt_severity sev, const char *fmt, ...);
#define ERR(...)  lm_opt_diag_add(st->diags, st->lineno, LM_OPT_ERROR, __VA_ARGS__)
#define WARN(...) lm_opt_diag_add(st->diags, st->lineno, LM_OPT_WARNING, __VA_ARGS__)

/* Memory of a parse (options.c): p grown to hold at least n + 1 items of
 * size bytes (capacity in *cap), or NULL with st->nomem set and p left
 * alone; a copy of s, or NULL with st->nomem set. */
void *lm_opt_grow(struct lm_opt_state *st, void *p, size_t *cap, size_t n, size_t size);
char *lm_opt_strdup(struct lm_opt_state *st, const char *s);

/* One logical line (options_line.c), changed in place: *words and *cap are
 * the caller's scratch array, reused from line to line. */
void lm_opt_parse_line(struct lm_opt_state *st, char *line, char ***words, size_t *cap);

/* Checks of single words (options_line.c): false with an error reported. */
bool lm_opt_parse_number(struct lm_opt_state *st, const char *w, const char *what, uint32_t *out);
bool lm_opt_check_name(struct lm_opt_state *st, const char *w, const char *what);
/* "a.b.c.d" where each part is 0..255 or '*'. */
bool lm_opt_ip_pattern_valid(const char *s);
/* Meant as an IPv4 address or address pattern (so it must be a valid one). */
bool lm_opt_attempts_ip(const char *s);

/* The directive families, each given the words after its keyword. */
void lm_opt_parse_rule(struct lm_opt_state *st, const struct lm_opt_syntax *k, char **w, int nw);
void lm_opt_parse_group(struct lm_opt_state *st, const struct lm_opt_syntax *k, char **w, int nw);
void lm_opt_parse_setting(struct lm_opt_state *st, const struct lm_opt_syntax *k, char **w, int nw);
void lm_opt_rule_free(struct lm_opt_rule *r);

/* Features (options_feature.c). */
bool lm_opt_parse_feature(struct lm_opt_state *st, const char *w, struct lm_opt_rule *r);
void lm_opt_check_feature_in_license(struct lm_opt_state *st, const struct lm_opt_rule *r);
/* Whether the license has a FEATURE or INCREMENT line of that name
 * (counted ones only, if counted). */
bool lm_opt_name_in_license(const struct lm_license_file *lic, const char *name, bool counted);

/* Checks once every line is read (options_groups.c, options_checks.c). */
void lm_opt_resolve_groups(struct lm_opt_state *st);
void lm_opt_check_shadowed(struct lm_opt_state *st);
void lm_opt_check_counts(struct lm_opt_state *st);
void lm_opt_check_named(struct lm_opt_state *st);

/* A growing string for normal forms (options_canonical.c): after a failed
 * allocation it stays failed and keeps nothing more; the caller frees p. */
struct lm_opt_sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};
void lm_opt_sb_add(struct lm_opt_sbuf *b, const char *s, size_t n);
void lm_opt_sb_str(struct lm_opt_sbuf *b, const char *s);
/* A word after a blank, quoted when it holds blanks. */
void lm_opt_sb_word(struct lm_opt_sbuf *b, const char *s);
void lm_opt_sb_number(struct lm_opt_sbuf *b, uint32_t n);

/* The canonical text (options_canonical.c): the normal form of a rule
 * (malloc'd, NULL when out of memory); a line's normal form kept for the
 * canonical text (text is taken; NULL sets st->nomem); the text itself
 * and its SHA-256 into st->o, or LMC_ENOMEM. */
char *lm_opt_rule_text(const struct lm_opt_rule *r);
void lm_opt_canon_add(struct lm_opt_state *st, char *text);
int lm_opt_build_canonical(struct lm_opt_state *st);

#endif
