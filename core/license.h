/* License files: parsing, the canonical form each line is signed over, and
 * printing.
 *
 *   SERVER <host> <lockcode> [<port>] [KEY=<server key>] (0, 1 or 3 lines)
 *   VENDOR <vendor>
 *   FEATURE   <name> <vendor> <version> <expiry> <count> [KEY=VALUE ...] SIGN=...
 *   INCREMENT <name> <vendor> <version> <expiry> <count> [KEY=VALUE ...] SIGN=...
 *   PACKAGE   <name> <vendor> <version> COMPONENTS="a b:2.0" [OPTIONS=SUITE] SIGN=...
 *   USE_SERVER
 *
 * FlexLM's spellings are read too: a count of 0 for uncounted, a
 * positional license key (12 or 20 hex digits) after the count or, on
 * PACKAGE, after the version, which is ignored (SIGN= is what counts), and
 * ck= (FlexLM's checksum, which SIGN= makes useless), also ignored.
 *
 * One license per line, '#' starts a comment line, a trailing '\' continues
 * a line.  Each FEATURE, INCREMENT and PACKAGE line is signed on its own
 * (Ed25519) over its canonical form (lm_license_canonical), which includes
 * the lock codes of the file's SERVER lines for counted lines, so that
 * whitespace, comments and line order do not matter but any change to a
 * field does, and a counted line moved to other servers is invalid.  When
 * the SERVER lines pin the servers' identity keys (KEY=, all of them or
 * none), counted lines also sign SERVER_KEYS, so that the keys cannot be
 * changed without the vendor. */
#ifndef LM_LICENSE_H
#define LM_LICENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/limits.h"
#include "core/hostid.h"
#include "core/lockcode.h"

enum lm_line_type {
	LM_LINE_FEATURE,
	LM_LINE_INCREMENT,
	LM_LINE_PACKAGE,
};

struct lm_license_server {
	char host[LM_HOST_MAX + 1];
	struct lm_lockcode code;
	char code_text[LM_LOCKCODE_TEXT_MAX]; /* normalised */
	uint16_t port;
	int lineno;
	/* KEY=: the server's identity key (core/server_key.h), pinned. */
	bool has_key;
	uint8_t key[LM_SERVER_KEY_LEN];
};

/* The port of a SERVER line that writes none, as FlexLM's first default. */
#define LM_LICENSE_PORT_DEFAULT 27000

/* A vendor-defined attribute: a lower-case KEY=value such as MathWorks'
 * asset_info=, kept and signed, meaning whatever the vendor's application
 * makes of it. */
/* USER_BASED[=n] or HOST_BASED[=n]: at most max named users (hosts) may
 * use the feature; bare, max is the line's count. */
struct lm_license_named {
	uint32_t max; /* 0: absent */
	bool bare;
};

/* What a line's named-user keywords ask for (lm_license_named_rule). */
enum lm_named_kind {
	LM_NAMED_NONE,
	LM_NAMED_USERS, /* USER_BASED or NAMED_USERS */
	LM_NAMED_HOSTS, /* HOST_BASED */
};

struct lm_license_attr {
	char key[LM_LICENSE_ATTR_KEY_MAX + 1];
	char value[LM_TEXT_MAX];
};

/* One FEATURE, INCREMENT or PACKAGE line. */
struct lm_license {
	enum lm_line_type type;
	int lineno; /* first physical line, 1-based */
	char name[LM_NAME_MAX + 1];
	char vendor[LM_NAME_MAX + 1];
	char version[LM_VERSION_MAX + 1];
	int32_t expiry; /* days; LM_DATE_PERMANENT */
	bool uncounted;
	uint32_t count; /* when counted */

	/* Keywords (LM_DATE_NONE / 0 / "" / false when absent). */
	bool has_hostid;
	struct lm_hostid_list hostid;               /* HOSTID=: node-locked to any of these */
	char auth[LM_TEXT_MAX];                     /* AUTH=, authorization code, normalised */
	int32_t start;                              /* START= */
	int32_t issued;                             /* ISSUED= */
	char notice[LM_TEXT_MAX];                   /* NOTICE= */
	uint32_t named_users;                       /* NAMED_USERS= */
	uint32_t borrow_hours;                      /* BORROW= */
	char host_desc[LM_TEXT_MAX];                /* HOST_DESC= */
	char sn[LM_TEXT_MAX];                       /* SN= */
	int tolerance;                              /* TOLERANCE=, or LM_LOCK_TOLERANCE_DEFAULT */
	char components[LM_LICENSE_COMPONENTS_MAX]; /* PACKAGE: COMPONENTS= */
	bool suite;                                 /* PACKAGE: OPTIONS=SUITE */
	/* PACKAGE: OPTIONS=SUITE_RESERVED (suite is set too): a suite seat
	 * reserves its holder one of each component. */
	bool suite_reserved;
	char vendor_string[LM_TEXT_MAX]; /* VENDOR_STRING= */
	char issuer[LM_TEXT_MAX];        /* ISSUER= */
	bool ts_ok;                      /* TS_OK: lmd never refuses terminal servers */
	uint32_t overdraft;              /* OVERDRAFT=: seats lent beyond count */
	/* SUPERSEDE: this line replaces the older lines (by ISSUED) of the
	 * features it names, or of its own feature when bare
	 * (supersede_list ""); names separated by single spaces. */
	bool supersede;
	char supersede_list[LM_TEXT_MAX];
	struct lm_license_named user_based; /* USER_BASED[=n] */
	struct lm_license_named host_based; /* HOST_BASED[=n] */
	/* DUP_GROUP: which checkouts of the feature share one seat (LM_DUP_*
	 * bits), 0 when absent. */
	unsigned dup_group;
	/* SUITE_DUP_GROUP, on the line enabling a suite PACKAGE: which
	 * component checkouts share one suite seat (LM_DUP_* bits); 0 when
	 * absent (the suite's default, UHD). */
	unsigned suite_dup_group;
	/* Lower-case vendor attributes, sorted by key. */
	struct lm_license_attr attrs[LM_LICENSE_ATTRS_MAX];
	int nattrs;

	bool has_sig;
	uint8_t sig[LM_SIG_LEN]; /* SIGN= */

	/* Canonical form only: SERVER_KEYS, the identity keys pinned by the
	 * file's SERVER lines, in the order of the SERVER_CODES read with
	 * them (lm_license_parse_canonical); 0 when the file pins none. */
	uint8_t server_keys[LM_LICENSE_SERVERS_MAX][LM_SERVER_KEY_LEN];
	int nserver_keys;
};

/* DUP_GROUP=: checkouts whose user (U), host (H), display (D) or vendor
 * data (V), in any combination, are the same share one seat; SITE: every
 * checkout shares one seat; NONE: none share (FlexLM's default). */
#define LM_DUP_USER    1u
#define LM_DUP_HOST    2u
#define LM_DUP_DISPLAY 4u
#define LM_DUP_VENDOR  8u
#define LM_DUP_SITE    16u
#define LM_DUP_NONE    32u
/* "UHD", "SITE" or "NONE" for a DUP_GROUP value (its letters in the order
 * U, H, D, V); "" for 0. */
void lm_license_dup_group_format(unsigned dup_group, char *buf, size_t size);

struct lm_license_file {
	struct lm_license_server servers[LM_LICENSE_SERVERS_MAX];
	int nservers;                 /* 0, 1 or 3 */
	char vendor[LM_NAME_MAX + 1]; /* VENDOR line, "" if none */
	/* The VENDOR (or DAEMON) line's optional fields, as FlexLM writes
	 * them: VENDOR name [daemon_path] [[OPTIONS=]options_path] [[PORT=]port].
	 * lmd is its own vendor daemon: the path is kept and ignored; the
	 * options path names the options file (lmd --options wins); the port is
	 * kept and ignored (clients reach lmd at the SERVER line's port). */
	char vendor_path[LM_TEXT_MAX];    /* "" if none */
	char vendor_options[LM_TEXT_MAX]; /* "" if none */
	unsigned vendor_port;             /* 0 if none */
	/* USE_SERVER: FlexLM's word to clients that they should ask the
	 * SERVER lines rather than read the rest of the file; kept and
	 * printed, liblmc always asks the servers for counted lines. */
	bool use_server;
	struct lm_license *lines;
	size_t nlines;
	/* Read with lm_license_parse_skipping or lm_license_load_skipping (or
	 * left out by lm_license_skip): the license lines that are not in
	 * lines, in file order, each with why.  Always empty otherwise. */
	struct lm_license_skipped *skipped;
	size_t nskipped;
	/* What the printer needs to reproduce the file: comments and blank
	 * lines, in order, interleaved with the lines above. Private. */
	struct lm_license_item *items;
	size_t nitems;
};

/* A license line left out of a file, at lineno, and why: its first two
 * words as written (type "FEATURE", name "stats"), since a line that could
 * not be read has no parsed type; printed "FEATURE stats". */
struct lm_license_skipped {
	int lineno;
	int code; /* the LMC_E* that reading (or checking) the line gave */
	char type[21];
	char name[LM_NAME_MAX + 1];
	char message[LM_MESSAGE_MAX];
};

/* Where a parse failed: a 1-based line number and a sentence. */
struct lm_parse_error {
	int lineno;
	char message[LM_MESSAGE_MAX];
};

/* Parses text (len bytes, need not be NUL-terminated).  Returns 0, or a
 * negative LMC_E* (LMC_ESYNTAX, LMC_EBADCODE, LMC_ETOOLARGE, LMC_ENOMEM)
 * with err filled in; on error *f is left empty and needs no free. */
int lm_license_parse(const char *text, size_t len, struct lm_license_file *f,
                     struct lm_parse_error *err);
/* As lm_license_parse, but as FlexLM reads a file it serves: a FEATURE,
 * INCREMENT or PACKAGE line that cannot be read (a bad keyword, date,
 * count or host id; another vendor's name; counted with no SERVER line) is
 * left out and listed in f->skipped instead of refusing the file, so that
 * one mistyped line does not stop every other license.  What makes the
 * whole file unreadable is still refused: SERVER and VENDOR lines, lines of
 * unknown type, a file too large, binary text. */
int lm_license_parse_skipping(const char *text, size_t len, struct lm_license_file *f,
                              struct lm_parse_error *err);
/* Leaves license line index out of f (lines after it move down one) and
 * lists it in f->skipped with code and a sentence: for what a caller checks
 * after parsing, such as a signature.  0, or LMC_ENOMEM (f unchanged). */
int lm_license_skip(struct lm_license_file *f, size_t index, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* SUPERSEDE: true when newer (a FEATURE or INCREMENT line with SUPERSEDE)
 * replaces old, a line of a feature it names (its own when bare) issued
 * before it.  A line without ISSUED is older than any line with it; lines
 * issued the same day do not replace each other.  lmd's pool and liblmc's
 * node-locked lines both judge by it. */
bool lm_license_supersedes(const struct lm_license *newer, const struct lm_license *old);
/* PACKAGE: true when pkg's COMPONENTS names component; version (size
 * bytes) gets the component's version, b:2.0's "2.0", or the package's own
 * when the component gives none.  A checkout of the component asks for a
 * version no newer than it. */
bool lm_license_component(const struct lm_license *pkg, const char *component, char *version,
                          size_t size);
/* Reads and parses a file: LMC_EIO when it cannot be read or is not a
 * regular file (a FIFO, a device, a directory: symbolic links to a regular
 * file are followed), LMC_ETOOLARGE when it is larger than any license file
 * can be. */
int lm_license_load(const char *path, struct lm_license_file *f, struct lm_parse_error *err);
/* lm_license_load, parsing with lm_license_parse_skipping. */
int lm_license_load_skipping(const char *path, struct lm_license_file *f,
                             struct lm_parse_error *err);
void lm_license_free(struct lm_license_file *f);

/* The exact bytes the signature of l covers, NUL-terminated.  The canonical
 * form is itself a valid license line that lm_license_parse_canonical reads
 * back: type, positional fields with dates as YYYY-MM-DD, keywords in a
 * fixed order each as KEY="value" (a quote inside written \"; TS_OK
 * bare), vendor attributes sorted by key, and for counted lines a final
 * SERVER_CODES="c1 c2 c3" listing the SERVER lock codes, sorted, followed,
 * when the SERVER lines pin keys, by SERVER_KEYS="k1 k2 k3", each the key of
 * the server whose code stands at the same place.  Returns
 * the length, or LMC_ETOOLARGE. */
int lm_license_canonical(const struct lm_license_file *f, const struct lm_license *l, char *buf,
                         size_t size);

/* Parses one canonical line (as sent by a server with the signature) into
 * l; the server codes it names are written to codes (up to 3). */
int lm_license_parse_canonical(const char *text, struct lm_license *l,
                               struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX], int *ncodes,
                               struct lm_parse_error *err);

/* Prints the file as text: comments and blank lines kept, each license
 * line written in a normal form with its SIGN= (if any). */
int lm_license_print(const struct lm_license_file *f, FILE *out);

const char *lm_line_type_name(enum lm_line_type t);

/* The named-user rule of a line: LM_NAMED_USERS for USER_BASED[=n] and
 * lmd's NAMED_USERS=n, LM_NAMED_HOSTS for HOST_BASED[=n], each with *max
 * names at most; LM_NAMED_NONE (and *max 0) otherwise.  The parser lets a
 * line have at most one of the three. */
enum lm_named_kind lm_license_named_rule(const struct lm_license *l, uint32_t *max);

/* Versions are 1 to 4 dot-separated decimal numbers ("29", "29.0.1"), each
 * at most 9 digits; the parser refuses anything else.  Compares them
 * numerically, missing parts as 0 ("29" == "29.0"): <0, 0 or >0. */
int lm_version_compare(const char *a, const char *b);
/* 1 if text is a valid version. */
int lm_version_valid(const char *text);

#endif
