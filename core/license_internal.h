/* What the files of the license parser share: the file parser (license.c)
 * and its SERVER and VENDOR lines (license_servers.c), the line parser
 * (license_line.c), the words they read (license_words.c), and the
 * canonical form and the printer (license_canon.c).  Private to core/license*.c. */
#ifndef LM_LICENSE_INTERNAL_H
#define LM_LICENSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/license.h"

/* One logical line of the file, in file order, so that the printer writes
 * comments and blank lines back where they were. */
enum lm_item_kind {
	LM_ITEM_TEXT,   /* a comment or a blank line, kept verbatim in text */
	LM_ITEM_SERVER, /* f->servers[index] */
	LM_ITEM_VENDOR, /* f->vendor */
	LM_ITEM_USE_SERVER,
	LM_ITEM_LICENSE, /* f->lines[index] */
};

struct lm_license_item {
	enum lm_item_kind kind;
	size_t index;
	char *text; /* LM_ITEM_TEXT only, owned by the item */
};

/* The keywords of license lines.  The enum order is the order of the
 * canonical form (and of the printer), SIGN excepted, with SERVER_CODES
 * and SERVER_KEYS last; it follows the field order of struct lm_license.  Never reorder:
 * every signature ever made depends on it.  Keywords are only ever added
 * just before SERVER_CODES, and only written when a line has them, so the
 * canonical text of older lines stays what it was. */
enum lm_keyword {
	LM_KW_HOSTID,
	LM_KW_AUTH,
	LM_KW_START,
	LM_KW_ISSUED,
	LM_KW_NOTICE,
	LM_KW_NAMED_USERS,
	LM_KW_BORROW,
	LM_KW_HOST_DESC,
	LM_KW_SN,
	LM_KW_TOLERANCE,
	LM_KW_COMPONENTS,
	LM_KW_OPTIONS,
	LM_KW_VENDOR_STRING,
	LM_KW_ISSUER,
	LM_KW_TS_OK,           /* a flag, written bare */
	LM_KW_ATTRIBUTES,      /* the lower-case vendor attributes, sorted by key */
	LM_KW_OVERDRAFT,       /* seats granted beyond the count */
	LM_KW_SUPERSEDE,       /* bare (the line's own feature) or a list of features */
	LM_KW_USER_BASED,      /* bare (the count) or a number of named users */
	LM_KW_HOST_BASED,      /* bare (the count) or a number of named hosts */
	LM_KW_DUP_GROUP,       /* which checkouts share one seat */
	LM_KW_SUITE_DUP_GROUP, /* which component checkouts share one suite seat */
	LM_KW_SERVER_CODES,    /* canonical form only */
	LM_KW_SERVER_KEYS,     /* canonical form only, after SERVER_CODES */
	LM_KW_SIGN,            /* license files only */
	LM_KW_COUNT
};

/* "HOSTID", "AUTH", ... */
const char *lm_keyword_name(enum lm_keyword k);

/* ---- license_keywords.c: the values of keywords ---- */

/* The keyword named word (any case), or -1; never LM_KW_ATTRIBUTES. */
int lm_license_keyword_lookup(const char *word);
/* 1 when a line of this type takes keyword k. */
int lm_license_keyword_allowed(enum lm_line_type type, bool canonical, int k);
/* "HOSTID, AUTH, ... and SIGN": what a line of this type takes. */
void lm_license_allowed_list(enum lm_line_type type, bool canonical, char *buf, size_t size);
/* FlexLM keywords whose meaning lmd does not implement: NULL, or what the
 * refusal should say the keyword does. */
const char *lm_license_unsupported(const char *word);
/* 1 for a name of a vendor attribute: a lower-case letter, then lower-case
 * letters, digits and '_', at most LM_LICENSE_ATTR_KEY_MAX. */
int lm_license_attribute_key(const char *word);
/* Sets keyword k (or, for LM_KW_ATTRIBUTES, the attribute named key) of l
 * from value; SERVER_CODES go to codes/ncodes.  0 or LMC_E* with err. */
int lm_license_set_keyword(struct lm_license *l, enum lm_keyword k, const char *key,
                           const char *value, struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX],
                           int *ncodes, int lineno, struct lm_parse_error *err);
/* Writes value into buf with each '"' as \", as it stands between quotes
 * in the canonical form and in printed files. */
void lm_license_escape(const char *value, char *buf, size_t size);

/* Signatures are written as two code32 codes of 32 bytes each (52 symbols
 * and a check symbol each: a single code is limited to
 * LM_CODE32_MAX_SYMBOLS), concatenated and printed in groups of 8.  The
 * text fits in LM_SIG_TEXT_MAX bytes with its NUL. */
#define LM_SIG_HALF_SYMBOLS 53
#define LM_SIG_TEXT_MAX     128
void lm_license_sig_format(const uint8_t sig[LM_SIG_LEN], char *buf, size_t size);
/* Returns 0 or LMC_EBADCODE with a sentence in msg. */
int lm_license_sig_parse(const char *text, uint8_t sig[LM_SIG_LEN], char *msg, size_t size);

/* Parses one logical line (NUL-terminated, at most LM_LINE_MAX bytes,
 * already checked for control characters) whose first word is FEATURE,
 * INCREMENT or PACKAGE.  The line is modified.  In canonical mode SIGN is
 * refused and SERVER_CODES accepted into codes/ncodes; otherwise the
 * reverse.  Errors fill err with lineno. */
int lm_license_parse_line(char *line, int lineno, bool canonical, struct lm_license *l,
                          struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX], int *ncodes,
                          struct lm_parse_error *err);

/* Checks that len bytes are printable UTF-8 text: no NUL, no control
 * character but tab.  Returns 0, or LMC_ESYNTAX with a sentence in msg. */
int lm_license_check_text(const char *s, size_t len, char *msg, size_t size);

/* ---- license_words.c: what the line and file parsers share ---- */

/* Fills err (when non-NULL) with lineno and the sentence, and returns
 * code. */
__attribute__((format(printf, 4, 5))) int lm_license_fail(struct lm_parse_error *err, int lineno,
                                                          int code, const char *fmt, ...);

/* 1 when s is a feature, vendor or package name: 1..LM_NAME_MAX letters,
 * digits, '_', '-' or '.'. */
int lm_license_valid_name(const char *s);
/* lm_license_valid_name, '/' also allowed (not first): feature names. */
int lm_license_valid_feature_name(const char *s);
/* 1 when s is a SERVER host: 1..LM_HOST_MAX characters of a DNS name or
 * an IP address. */
int lm_license_valid_host(const char *s);
/* Reads a decimal number from 1 to max into *out.  Returns 0 or -1. */
int lm_license_parse_number(const char *s, unsigned long max, unsigned long *out);

/* FEATURE, INCREMENT or PACKAGE (any case) into *type: 0, or -1 for any
 * other word. */
int lm_license_parse_type(const char *word, enum lm_line_type *type);

/* A space or a tab: what separates words. */
int lm_license_is_blank(char c);

/* A bare word (value NULL) or KEY=value, pointing into the line. */
struct lm_license_token {
	char *word;
	char *value;
};

/* Cuts s in place into at most LM_LICENSE_TOKENS_MAX tokens (values may be
 * quoted).  Returns 0 with *ntok set, or LMC_ESYNTAX / LMC_ETOOLARGE with a
 * sentence in msg. */
int lm_license_tokenize(char *s, struct lm_license_token *tok, int *ntok, char *msg, size_t size);

/* One parse of a file (license.c), and the SERVER and VENDOR lines it
 * hands to license_servers.c: each returns 0 with the line added to ps->f,
 * or an LMC_E* code with ps->err set. */
struct lm_license_parser {
	struct lm_license_file *f;
	struct lm_parse_error *err;
	size_t lines_cap;
	size_t items_cap;
	int vendor_lineno;
	bool skip_bad_lines; /* lm_license_parse_skipping */
};
int lm_license_parse_server(struct lm_license_parser *ps, char *line, int lineno);
int lm_license_parse_vendor(struct lm_license_parser *ps, char *line, int lineno);

#endif
