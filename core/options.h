/* Options files: the administrator's policy, in FlexLM's grammar.
 *
 * FlexLM sites describe who may use what in a per-vendor "options file"
 * (FlexNet Publisher License Administration Guide, "Managing the Options
 * File").  This module reads one, checks it against the license it will be
 * served with, and answers the question the pool will ask on every
 * checkout: may this client take K seats of this pool now?  It depends on
 * nothing but the license parser, so that lmd, lmutil lmoptcheck and the
 * tests share it, and so that every server of a triad, given the same
 * bytes and the same license, builds the same policy.
 *
 * The grammar, one option per logical line:
 *
 *   INCLUDE     feature type name          EXCLUDE     feature type name
 *   INCLUDEALL  type name                  EXCLUDEALL  type name
 *   RESERVE     count feature type name    MAX         count feature type name
 *   INCLUDE_BORROW / EXCLUDE_BORROW  feature type name      (no effect yet)
 *   MAX_BORROW_HOURS feature hours  BORROW_LOWWATER feature count (no effect yet)
 *   MAX_OVERDRAFT feature count   caps the seats a license's OVERDRAFT lends
 *   GROUP group user...                    HOST_GROUP group host...
 *   GROUPCASEINSENSITIVE ON|OFF
 *   TIMEOUT feature seconds                TIMEOUTALL seconds
 *   LINGER  feature seconds
 *   NOLOG   IN|OUT|DENIED|QUEUED|UNSUPPORTED
 *   REPORTLOG [+]path [HIDE_USER]          DEBUGLOG [+]path
 *
 * type is USER, HOST, DISPLAY, INTERNET, PROJECT (the client's LM_PROJECT),
 * GROUP (USER_GROUP is an alias) or HOST_GROUP.  A feature may carry a
 * qualifier selecting some of its license lines: feature:KEYWORD=value, or
 * the older quoted form "feature KEYWORD=value".  Keywords and types are
 * case-insensitive; names are case-sensitive, except the members of GROUP
 * and HOST_GROUP lists under GROUPCASEINSENSITIVE ON.  '#' starts a comment
 * line, a trailing '\' continues a line, a name with spaces is quoted.
 * INTERNET addresses, and HOST names and HOST_GROUP members written as
 * IPv4 addresses, may use '*' for a whole number ("10.1.*.*").
 *
 * Errors make the file unusable (lmreread refuses it and the running policy
 * stays); warnings describe rules that do nothing, or not what they seem
 * to.  Every diagnostic names its line and says what to do.
 *
 * How the replicated pool uses it (lmd/pool_policy.c):
 *   - lmreread proposes one command carrying the license lines and the
 *     options file's name and canonical text (lm_options.canonical), so the
 *     two change together; the leader parses both before proposing, and a
 *     file with errors is refused there with every diagnostic.
 *   - apply parses the canonical text against the lines of the same command
 *     (a struct lm_license_file with only lines and nlines set): the same
 *     bytes and lines give the same policy, line numbers included, on every
 *     server.  The policy is derived state, kept beside the store and
 *     rebuilt from the text a snapshot carries; the local file is never read
 *     inside apply.
 *   - Checkout asks lm_options_decide for each candidate pool in
 *     choose_pool's order and takes the first that allows; when the policy
 *     refused every pool in its dates, the first denial is the answer
 *     (LMC_EDENIED with its message), otherwise the pool's own reason
 *     (LMC_ENOSEATS...).  Holdings come from the feature's handles in
 *     handle order, each with its session's identity, read only when a
 *     RESERVE of the pool or a MAX naming the client needs them.
 *   - INTERNET rules match the client's address as the leader saw its
 *     connection, PROJECT rules its LM_PROJECT (Hello.project); both are
 *     in OpenSession. */
#ifndef LM_OPTIONS_H
#define LM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/license.h"

/* ---- Limits, each refused with a diagnostic naming the line ----------- */

/* The largest file read: LMC_ETOOLARGE.  A real options file is a few
 * kilobytes; 1,000 rules of 100 bytes fit forty times over. */
#define LM_OPTIONS_FILE_MAX (4 * 1024 * 1024)
/* Physical lines: LMC_ETOOLARGE (a 100,000-line file is refused whole). */
#define LM_OPTIONS_LINES_MAX 20000
/* One logical line, continuations joined: FlexLM's own limit (an error on
 * that line). */
#define LM_OPTIONS_LINE_MAX 4000
/* A user, host, display, project, group name or qualifier value. */
#define LM_OPTIONS_NAME_MAX 255
/* Counts (RESERVE, MAX...) and durations, in their unit. */
#define LM_OPTIONS_NUMBER_MAX 1000000000u
/* Diagnostics kept; later ones are counted in `dropped`. */
#define LM_OPTIONS_DIAGS_MAX 1000
/* FlexLM vendor daemons refuse TIMEOUT below a vendor minimum, 900 s by
 * default (ls_vendor.c); lmd raises lower values to it, with a warning. */
#define LM_OPTIONS_TIMEOUT_MIN 900

enum lm_opt_keyword {
	/* Rules about features (kept in lm_options.rules). */
	LM_OPT_INCLUDE,
	LM_OPT_INCLUDEALL,
	LM_OPT_EXCLUDE,
	LM_OPT_EXCLUDEALL,
	LM_OPT_RESERVE,
	LM_OPT_MAX,
	LM_OPT_INCLUDE_BORROW,
	LM_OPT_EXCLUDE_BORROW,
	LM_OPT_TIMEOUT,
	LM_OPT_TIMEOUTALL,
	LM_OPT_LINGER,
	LM_OPT_MAX_OVERDRAFT,
	LM_OPT_MAX_BORROW_HOURS,
	LM_OPT_BORROW_LOWWATER,
	/* Definitions and settings. */
	LM_OPT_GROUP,
	LM_OPT_HOST_GROUP,
	LM_OPT_GROUPCASEINSENSITIVE,
	LM_OPT_NOLOG,
	LM_OPT_REPORTLOG,
	LM_OPT_DEBUGLOG,
	LM_OPT_KEYWORD_COUNT
};

enum lm_opt_type {
	LM_OPT_USER,
	LM_OPT_HOST,
	LM_OPT_DISPLAY,
	LM_OPT_INTERNET,
	LM_OPT_PROJECT,
	LM_OPT_TYPE_GROUP,
	LM_OPT_TYPE_HOST_GROUP,
};

/* NOLOG bits. */
#define LM_OPT_NOLOG_IN          0x01u
#define LM_OPT_NOLOG_OUT         0x02u
#define LM_OPT_NOLOG_DENIED      0x04u
#define LM_OPT_NOLOG_QUEUED      0x08u
#define LM_OPT_NOLOG_UNSUPPORTED 0x10u

/* A GROUP or HOST_GROUP: all the lines of that name, members in order. */
struct lm_opt_group {
	char *name;
	bool host;  /* HOST_GROUP */
	int lineno; /* first definition */
	char **members;
	size_t nmembers, cap;
	bool used;
};

/* One rule.  Which fields mean something depends on kw:
 *   feature: all but INCLUDEALL, EXCLUDEALL and TIMEOUTALL;
 *   type/who: the access rules (INCLUDE..EXCLUDE_BORROW);
 *   number: RESERVE/MAX/BORROW_LOWWATER/MAX_OVERDRAFT count, TIMEOUT and
 *   LINGER seconds, MAX_BORROW_HOURS hours. */
struct lm_opt_rule {
	enum lm_opt_keyword kw;
	int lineno;
	char *text; /* its normal form, for messages: "EXCLUDE f1 USER bob" */

	bool has_feature;
	char feature[LM_NAME_MAX + 1];
	char qual_key[20]; /* "" or the qualifier keyword, upper case */
	char *qual_value;  /* NULL when no qualifier */
	/* With a qualifier: the versions of the pools it selects, resolved
	 * against the license at parse time (pools are per feature and
	 * version in lmd, so a qualifier selects whole pools). */
	char (*versions)[LM_VERSION_MAX + 1];
	size_t nversions;

	bool has_who;
	enum lm_opt_type type;
	char *who;       /* name, address pattern or group name */
	int group;       /* index into groups for GROUP/HOST_GROUP types, else -1 */
	bool all_users;  /* MAX ... USER ALL_USERS: a cap per user */
	bool all_groups; /* MAX ... GROUP ALL_GROUPS: a cap per group */

	uint32_t number;
	bool no_effect; /* parsed, shown, not enforced (borrowing, overdraft) */
	/* Set in a copy of the rule kept for the decisions of its own feature
	 * only (lmd's per-feature views): lm_opt_rule_applies then skips the
	 * name comparison, which every checkout would repeat for nothing. */
	bool feature_matched;
};

struct lm_options {
	char *name; /* the file's name in messages, "acme.opt" */
	struct lm_opt_rule *rules;
	size_t nrules;
	struct lm_opt_group *groups;
	size_t ngroups;
	bool case_insensitive; /* GROUPCASEINSENSITIVE ON */
	unsigned nolog;        /* LM_OPT_NOLOG_* */
	char *reportlog;       /* NULL when none */
	bool reportlog_append, reportlog_hide_user;
	char *debuglog;
	bool debuglog_append;

	/* The canonical text: one line per physical line of the file, each
	 * logical line in its normal form at the line where it started,
	 * comments and continuations left empty, trailing empty lines cut.
	 * Parsing it again gives the same policy with the same line numbers,
	 * so it is what travels through the raft log; its SHA-256 names the
	 * policy in lmstat. */
	char *canonical;
	size_t canonical_len;
	uint8_t sha256[32];
};

enum lm_opt_severity {
	LM_OPT_ERROR,
	LM_OPT_WARNING,
};

struct lm_opt_diag {
	int lineno; /* 0: the whole file */
	enum lm_opt_severity severity;
	char message[400];
};

struct lm_opt_diags {
	struct lm_opt_diag *items;
	size_t n, cap;
	size_t nerrors, nwarnings, dropped;
};

void lm_opt_diags_init(struct lm_opt_diags *d);
void lm_opt_diags_free(struct lm_opt_diags *d);

/* Parses len bytes of an options file named name (used in messages), and
 * checks it against lic when not NULL (only lic->lines and lic->nlines are
 * read: the pool can hand over the lines of its replicated license set).
 * Every diagnostic goes to diags, in line order.  Returns 0 with *out set
 * (free with lm_options_free) when there is no error, warnings or not;
 * otherwise LMC_ESYNTAX, LMC_ETOOLARGE (a limit of the whole file) or
 * LMC_ENOMEM, with *out NULL and at least one error in diags. */
int lm_options_parse(const char *name, const char *text, size_t len,
                     const struct lm_license_file *lic, struct lm_options **out,
                     struct lm_opt_diags *diags);
/* Reads path (a regular file of at most LM_OPTIONS_FILE_MAX bytes) and
 * parses it under its base name; LMC_EIO with a diagnostic when it cannot
 * be read. */
int lm_options_load(const char *path, const struct lm_license_file *lic, struct lm_options **out,
                    struct lm_opt_diags *diags);
void lm_options_free(struct lm_options *o);

const char *lm_opt_keyword_name(enum lm_opt_keyword kw);
const char *lm_opt_type_name(enum lm_opt_type t);

/* ---- Decisions ---------------------------------------------------------- */

/* Who asks, as the client reported itself (NULL or "" when unknown: an
 * unknown field matches no rule naming it). */
struct lm_opt_client {
	const char *user, *host, *display, *ip, *project;
};

/* Seats held now of the feature asked for, one entry per handle, in
 * handle order, with the version of the pool each is charged to. */
struct lm_opt_holding {
	struct lm_opt_client who;
	const char *version;
	uint32_t count;
};

enum lm_opt_outcome {
	LM_OPT_ALLOW,
	LM_OPT_DENY,    /* the policy refuses: message names the rule */
	LM_OPT_NOSEATS, /* the pool has fewer than count seats free at all */
};

struct lm_opt_decision {
	enum lm_opt_outcome outcome;
	const struct lm_opt_rule *rule; /* the deciding rule, or NULL */
	uint32_t available;             /* seats this client could take now */
	char message[512];              /* "denied: EXCLUDE f1 USER bob (acme.opt line 7)" */
};

/* May who take count seats of the pool (feature, version) that issues
 * issued seats, given the holdings of that feature?  A pure function of
 * its arguments: the pool calls it inside apply.
 *
 * The rules, in the order FlexLM applies them (EXCLUDE, then the INCLUDE
 * lists, then MAX, then RESERVE):
 *
 * 1. EXCLUDE and EXCLUDEALL: a rule of this pool that names who denies,
 *    whatever else the file says (EXCLUDE beats INCLUDE).
 * 2. INCLUDE lists: when INCLUDE rules of this pool or INCLUDEALL rules
 *    exist, who must be named by one of them.
 * 3. MAX: each MAX rule of this pool naming who caps the seats held by
 *    what it names (a user, a host, a whole GROUP together...), counted
 *    over every pool the rule selects: held + count must not exceed it.
 *    "USER ALL_USERS" caps each user, "GROUP ALL_GROUPS" each group who
 *    belongs to; a rule naming the user himself comes first in file order
 *    to replace ALL_USERS for him (FlexLM: never put a MAX USER line after
 *    the ALL_USERS one).
 * 4. RESERVE.  The pool's issued seats N are split: each RESERVE rule of
 *    the pool, in file order, sets aside min(its count, what is left of
 *    N) seats for what it names (FlexLM: "only the first set of
 *    reservations, up to the license limit, is used"); the rest are
 *    unreserved.  Holdings are charged in handle order: a holding whose
 *    holder a reservation names uses that reservation's seats first
 *    (reservations in file order), and unreserved seats for the rest.
 *    who may take the unreserved seats left plus the seats left of every
 *    reservation naming who: so a reserved party can still use unreserved
 *    seats, and nobody else can use reserved ones, even idle.
 *
 * NOSEATS when count exceeds the seats free at all (issued minus held in
 * this pool): the ordinary "all seats in use", not a policy decision.
 * DENY when the policy is why (including reserved seats blocking).
 * Returns 0 with *out filled, or LMC_ENOMEM (a local failure). */
int lm_options_decide(const struct lm_options *o, const struct lm_opt_client *who,
                      const char *feature, const char *version, uint32_t count, uint32_t issued,
                      const struct lm_opt_holding *held, size_t nheld, struct lm_opt_decision *out);

/* One RESERVE rule of a pool as the seats held now use it: how FlexLM's
 * lmstat shows reservations ("2 RESERVATIONs for USER carol"), the idle
 * ones counted among the seats in use. */
struct lm_opt_reservation {
	const struct lm_opt_rule *rule;
	uint32_t seats; /* set aside: its count, cut to what is left of issued */
	uint32_t idle;  /* of those, not used by a holding the rule names */
};

/* Step 4 of lm_options_decide on its own: the RESERVE rules of the pool
 * (feature, version) in file order, with the holdings charged to them.
 * *out (free it; NULL when *n is 0) points into o's rules;
 * *unreserved_used is the seats held beyond the reservations.  Returns 0
 * or LMC_ENOMEM. */
int lm_options_reservations(const struct lm_options *o, const char *feature, const char *version,
                            uint32_t issued, const struct lm_opt_holding *held, size_t nheld,
                            struct lm_opt_reservation **out, size_t *n, uint64_t *unreserved_used);

/* The idle timeout of a pool in seconds (TIMEOUT of the feature, else
 * TIMEOUTALL), 0 for none; LINGER seconds likewise (0 for none). */
uint32_t lm_options_timeout(const struct lm_options *o, const char *feature, const char *version);
uint32_t lm_options_linger(const struct lm_options *o, const char *feature, const char *version);

/* Whether rule r applies to the pool (feature, version). */
bool lm_opt_rule_applies(const struct lm_opt_rule *r, const char *feature, const char *version);
/* Whether rule r's type/name matches who. */
bool lm_opt_rule_names(const struct lm_options *o, const struct lm_opt_rule *r,
                       const struct lm_opt_client *who);

#endif
