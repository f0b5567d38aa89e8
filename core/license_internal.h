/* What the license parser (license.c) shares with the canonical form and
 * the printer (license_canon.c).  Private to those two files. */
#ifndef LM_LICENSE_INTERNAL_H
#define LM_LICENSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/license.h"

/* One logical line of the file, in file order, so that the printer writes
 * comments and blank lines back where they were. */
enum lm_item_kind {
	LM_ITEM_TEXT,    /* a comment or a blank line, kept verbatim in text */
	LM_ITEM_SERVER,  /* f->servers[index] */
	LM_ITEM_VENDOR,  /* f->vendor */
	LM_ITEM_LICENSE, /* f->lines[index] */
};

struct lm_license_item {
	enum lm_item_kind kind;
	size_t index;
	char *text; /* LM_ITEM_TEXT only, owned by the item */
};

/* The keywords of license lines.  The enum order is the order of the
 * canonical form (and of the printer), SIGN excepted, with SERVER_CODES
 * last; it follows the field order of struct lm_license.  Never reorder:
 * every signature ever made depends on it. */
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
	LM_KW_SERVER_CODES, /* canonical form only */
	LM_KW_SIGN,         /* license files only */
	LM_KW_COUNT
};

/* "HOSTID", "AUTH", ... */
const char *lm_keyword_name(enum lm_keyword k);

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
                          struct lm_lockcode codes[3], int *ncodes, struct lm_parse_error *err);

/* Checks that len bytes are printable UTF-8 text: no NUL, no control
 * character but tab.  Returns 0, or LMC_ESYNTAX with a sentence in msg. */
int lm_license_check_text(const char *s, size_t len, char *msg, size_t size);

#endif
