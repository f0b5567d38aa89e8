/* Options files: what each keyword means once parsed, which diagnostics a
 * file earns and on which line, the canonical text, and the decisions the
 * pool will ask for (EXCLUDE beats INCLUDE, INCLUDE lists, MAX, RESERVE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/date.h"
#include "core/license.h"
#include "client/lmc.h"
#include "core/options.h"

/* ---- Fixtures ---------------------------------------------------------- */

/* A license: stats 29.0 with 4 seats (two lines), stats 30.0 with 2,
 * solver 2.0 with 10, an uncounted viewer and a PACKAGE suite. */
static struct lm_license lines[6];
static struct lm_license_file lic = {.lines = lines, .nlines = 6};

static void line(int i, enum lm_line_type type, const char *name, const char *version,
                 uint32_t count, int32_t expiry)
{
	struct lm_license *l = &lines[i];
	memset(l, 0, sizeof *l);
	l->type = type;
	snprintf(l->name, sizeof l->name, "%s", name);
	snprintf(l->version, sizeof l->version, "%s", version);
	l->count = count;
	l->uncounted = count == 0;
	l->expiry = expiry;
	l->start = LM_DATE_NONE;
	l->issued = LM_DATE_NONE;
}

static int setup(void **state)
{
	line(0, LM_LINE_FEATURE, "stats", "29.0", 3, lm_date_from_ymd(2027, 12, 31));
	line(1, LM_LINE_INCREMENT, "stats", "29.0", 1, lm_date_from_ymd(2026, 12, 31));
	line(2, LM_LINE_INCREMENT, "stats", "30.0", 2, LM_DATE_PERMANENT);
	line(3, LM_LINE_FEATURE, "solver", "2.0", 10, LM_DATE_PERMANENT);
	line(4, LM_LINE_FEATURE, "viewer", "1.0", 0, LM_DATE_PERMANENT);
	line(5, LM_LINE_PACKAGE, "suite", "1.0", 0, LM_DATE_PERMANENT);
	snprintf(lines[5].components, sizeof lines[5].components, "stats solver");
	snprintf(lines[3].sn, sizeof lines[3].sn, "SN-42");
	return 0;
}

static struct lm_opt_diags diags;

/* Parses text against the license; the result must be rc. */
static struct lm_options *parse_rc(const char *text, int rc)
{
	struct lm_options *o = NULL;
	lm_opt_diags_free(&diags);
	lm_opt_diags_init(&diags);
	int got = lm_options_parse("acme.opt", text, strlen(text), &lic, &o, &diags);
	if (got != rc) {
		for (size_t i = 0; i < diags.n; i++)
			fprintf(stderr, "acme.opt:%d: %s\n", diags.items[i].lineno,
			        diags.items[i].message);
	}
	assert_int_equal(got, rc);
	assert_true(rc ? o == NULL : o != NULL);
	/* Diagnostics come in line order, those about the whole file last. */
	for (size_t i = 1; i < diags.n; i++) {
		int a = diags.items[i - 1].lineno, b = diags.items[i].lineno;
		assert_true(b == 0 || (a != 0 && a <= b));
	}
	return o;
}

static struct lm_options *parse(const char *text)
{
	return parse_rc(text, 0);
}

/* The diagnostic of that line and severity holds the fragment. */
static void expect_diag(int lineno, enum lm_opt_severity sev, const char *fragment)
{
	for (size_t i = 0; i < diags.n; i++)
		if (diags.items[i].lineno == lineno && diags.items[i].severity == sev &&
		    strstr(diags.items[i].message, fragment))
			return;
	for (size_t i = 0; i < diags.n; i++)
		fprintf(stderr, "  line %d %s: %s\n", diags.items[i].lineno,
		        diags.items[i].severity == LM_OPT_ERROR ? "error" : "warning",
		        diags.items[i].message);
	fail_msg("no %s on line %d with '%s'", sev == LM_OPT_ERROR ? "error" : "warning", lineno,
	         fragment);
}

static void expect_no_diag(void)
{
	for (size_t i = 0; i < diags.n; i++)
		fprintf(stderr, "  line %d: %s\n", diags.items[i].lineno, diags.items[i].message);
	assert_int_equal(diags.n, 0);
}

static int teardown(void **state)
{
	lm_opt_diags_free(&diags);
	return 0;
}

static const struct lm_opt_client alice = {"alice", "ws1", "ws1:0", "10.1.2.3", "apollo"};
static const struct lm_opt_client bob = {"bob", "ws2", "ws2:0", "10.1.9.9", "gemini"};
static const struct lm_opt_client carol = {"carol", "lab7", "lab7:0", "192.168.0.7", ""};

/* A decision on stats 29.0 (4 seats) with the given holdings. */
static struct lm_opt_decision ask(const struct lm_options *o, const struct lm_opt_client *who,
                                  uint32_t count, const struct lm_opt_holding *held, size_t nheld)
{
	struct lm_opt_decision d;
	assert_int_equal(lm_options_decide(o, who, "stats", "29.0", count, 4, held, nheld, &d), 0);
	return d;
}

static void expect_allow(const struct lm_options *o, const struct lm_opt_client *who,
                         uint32_t count, const struct lm_opt_holding *held, size_t nheld)
{
	struct lm_opt_decision d = ask(o, who, count, held, nheld);
	if (d.outcome != LM_OPT_ALLOW)
		fail_msg("%s refused: %s", who->user, d.message);
}

static void expect_deny(const struct lm_options *o, const struct lm_opt_client *who, uint32_t count,
                        const struct lm_opt_holding *held, size_t nheld, const char *message)
{
	struct lm_opt_decision d = ask(o, who, count, held, nheld);
	assert_int_equal(d.outcome, LM_OPT_DENY);
	if (!strstr(d.message, message))
		fail_msg("'%s' does not hold '%s'", d.message, message);
}

/* ---- Reading: keywords ---------------------------------------------------- */

static void every_keyword_parses(void **state)
{
	struct lm_options *o = parse("GROUP team alice bob\n"
	                             "HOST_GROUP lab lab7 10.1.*.*\n"
	                             "INCLUDE stats GROUP team\n"
	                             "INCLUDEALL USER carol\n"
	                             "EXCLUDE stats USER mallory\n"
	                             "EXCLUDEALL HOST kiosk\n"
	                             "RESERVE 1 stats HOST_GROUP lab\n"
	                             "MAX 2 stats USER bob\n"
	                             "INCLUDE_BORROW solver USER alice\n"
	                             "EXCLUDE_BORROW solver USER bob\n"
	                             "TIMEOUT stats 3600\n"
	                             "TIMEOUTALL 7200\n"
	                             "LINGER solver 30\n"
	                             "MAX_OVERDRAFT solver 2\n"
	                             "MAX_BORROW_HOURS solver 24\n"
	                             "BORROW_LOWWATER solver 3\n"
	                             "GROUPCASEINSENSITIVE ON\n"
	                             "NOLOG QUEUED\n"
	                             "NOLOG denied\n"
	                             "REPORTLOG +/var/log/acme/report.log HIDE_USER\n"
	                             "DEBUGLOG /var/log/acme/debug.log\n");
	assert_int_equal(o->nrules, 14);
	assert_int_equal(o->ngroups, 2);
	assert_string_equal(o->groups[1].name, "lab");
	assert_true(o->groups[1].host);
	assert_int_equal(o->groups[1].nmembers, 2);

	const struct lm_opt_rule *r = &o->rules[0];
	assert_int_equal(r->kw, LM_OPT_INCLUDE);
	assert_int_equal(r->lineno, 3);
	assert_string_equal(r->feature, "stats");
	assert_int_equal(r->type, LM_OPT_TYPE_GROUP);
	assert_int_equal(r->group, 0);
	assert_string_equal(r->text, "INCLUDE stats GROUP team");

	assert_false(o->rules[1].has_feature); /* INCLUDEALL */
	assert_int_equal(o->rules[4].number, 1);
	assert_int_equal(o->rules[4].group, 1);
	assert_int_equal(o->rules[5].number, 2);
	for (size_t i = 6; i < o->nrules; i++) {
		enum lm_opt_keyword kw = o->rules[i].kw;
		bool later = kw == LM_OPT_INCLUDE_BORROW || kw == LM_OPT_EXCLUDE_BORROW ||
		             kw == LM_OPT_MAX_BORROW_HOURS || kw == LM_OPT_BORROW_LOWWATER ||
		             kw == LM_OPT_LINGER;
		assert_int_equal(o->rules[i].no_effect, later);
	}
	expect_diag(9, LM_OPT_WARNING, "INCLUDE_BORROW has no effect yet");
	/* MAX_OVERDRAFT caps a license's OVERDRAFT seats (lmd/pool_seats.c). */
	for (size_t i = 0; i < diags.n; i++)
		assert_int_not_equal(diags.items[i].lineno, 14);
	/* Kept and shown, and said not to work yet. */
	expect_diag(13, LM_OPT_WARNING, "LINGER has no effect yet");
	expect_diag(18, LM_OPT_WARNING, "NOLOG QUEUED has no effect yet");
	/* lmd writes the report log REPORTLOG names (lmd/report_log.h). */
	for (size_t i = 0; i < diags.n; i++)
		assert_int_not_equal(diags.items[i].lineno, 20);
	expect_diag(21, LM_OPT_WARNING, "DEBUGLOG has no effect yet");
	assert_int_equal(lm_options_timeout(o, "stats", "29.0"), 3600);
	assert_int_equal(lm_options_timeout(o, "solver", "2.0"), 7200);
	assert_int_equal(lm_options_linger(o, "solver", "2.0"), 30);
	assert_int_equal(lm_options_linger(o, "stats", "29.0"), 0);
	assert_true(o->case_insensitive);
	assert_int_equal(o->nolog, LM_OPT_NOLOG_QUEUED | LM_OPT_NOLOG_DENIED);
	assert_string_equal(o->reportlog, "/var/log/acme/report.log");
	assert_true(o->reportlog_append && o->reportlog_hide_user);
	assert_string_equal(o->debuglog, "/var/log/acme/debug.log");
	assert_false(o->debuglog_append);
	assert_int_equal(diags.nerrors, 0);
	lm_options_free(o);
}

static void comments_continuations_quotes_and_case(void **state)
{
	struct lm_options *o = parse("# a comment\n"
	                             "\n"
	                             "   # an indented comment\r\n"
	                             "group Team alice \\\n"
	                             "      bob \\\n"
	                             "      \"mary ann\"\n"
	                             "include stats group Team\r\n"
	                             "Exclude \"stats\" User \"john doe\"\n");
	assert_int_equal(o->nrules, 2);
	assert_int_equal(o->groups[0].nmembers, 3);
	assert_string_equal(o->groups[0].members[2], "mary ann");
	assert_int_equal(o->groups[0].lineno, 4);
	assert_int_equal(o->rules[0].lineno, 7);
	assert_int_equal(o->rules[1].lineno, 8);
	assert_string_equal(o->rules[1].who, "john doe");
	assert_string_equal(o->rules[1].text, "EXCLUDE stats USER \"john doe\"");
	expect_no_diag();
	lm_options_free(o);
}

static void several_group_lines_make_one_group(void **state)
{
	struct lm_options *o = parse("GROUP big alice\n"
	                             "USER_GROUP big bob\n"
	                             "GROUP big carol\n"
	                             "INCLUDE stats USER_GROUP big\n");
	assert_int_equal(o->ngroups, 1);
	assert_int_equal(o->groups[0].nmembers, 3);
	expect_allow(o, &carol, 1, NULL, 0);
	lm_options_free(o);
}

static void feature_qualifiers(void **state)
{
	struct lm_options *o = parse("RESERVE 1 stats:VERSION=30 USER alice\n"
	                             "INCLUDE \"stats version=29.0\" USER bob\n"
	                             "MAX 1 stats:EXPDATE=31-dec-2026 USER carol\n"
	                             "TIMEOUT solver:SN=SN-42 1800\n"
	                             "LINGER stats:ASSET_INFO=220668 10\n");
	const struct lm_opt_rule *r = o->rules;
	assert_string_equal(r[0].qual_key, "VERSION");
	assert_int_equal(r[0].nversions, 1);
	assert_string_equal(r[0].versions[0], "30.0");
	assert_true(lm_opt_rule_applies(&r[0], "stats", "30"));
	assert_false(lm_opt_rule_applies(&r[0], "stats", "29.0"));
	assert_string_equal(r[1].text, "INCLUDE stats:VERSION=29.0 USER bob");
	assert_true(lm_opt_rule_applies(&r[1], "stats", "29.0"));
	/* EXPDATE selects the pool one of whose lines expires that day. */
	assert_true(lm_opt_rule_applies(&r[2], "stats", "29.0"));
	assert_false(lm_opt_rule_applies(&r[2], "stats", "30.0"));
	assert_int_equal(lm_options_timeout(o, "solver", "2.0"), 1800);
	/* FlexLM-only qualifiers select nothing in an lmd license. */
	assert_int_equal(r[4].nversions, 0);
	expect_diag(5, LM_OPT_WARNING, "lmd license lines carry no ASSET_INFO");
	assert_int_equal(lm_options_linger(o, "stats", "29.0"), 0);
	lm_options_free(o);

	parse_rc("INCLUDE stats:COLOR=red USER bob\n"
	         "INCLUDE stats:VERSION=x USER bob\n"
	         "INCLUDE stats:EXPDATE=someday USER bob\n"
	         "INCLUDE stats: USER bob\n",
	         LMC_ESYNTAX);
	expect_diag(1, LM_OPT_ERROR, "unknown qualifier COLOR");
	expect_diag(2, LM_OPT_ERROR, "is not a version");
	expect_diag(3, LM_OPT_ERROR, "is not a date");
	expect_diag(4, LM_OPT_ERROR, "is not feature:KEYWORD=value");
}

/* ---- Reading: diagnostics -------------------------------------------------- */

static void unknown_keywords_and_bad_lines(void **state)
{
	parse_rc("INCLUDE stats USER alice\n"
	         "EXLCUDE stats USER bob\n"
	         "RESERVE two stats USER alice\n"
	         "MAX 2 stats\n"
	         "INCLUDE stats TEAM alice\n"
	         "INCLUDE \"stats USER alice\n"
	         "RESERVE 0 stats USER alice\n"
	         "NOLOG EVERYTHING\n"
	         "GROUPCASEINSENSITIVE MAYBE\n"
	         "REPORTLOG\n"
	         "AUTOMATIC_REREAD OFF\n",
	         LMC_ESYNTAX);
	expect_diag(2, LM_OPT_ERROR, "unknown keyword 'EXLCUDE': did you mean EXCLUDE?");
	expect_diag(3, LM_OPT_ERROR, "RESERVE's count must be a whole number, not 'two'");
	expect_diag(4, LM_OPT_ERROR, "MAX takes 4 words after it, this line has 2");
	expect_diag(5, LM_OPT_ERROR, "'TEAM' is not a type");
	expect_diag(6, LM_OPT_ERROR, "a quote is not closed");
	expect_diag(7, LM_OPT_ERROR, "RESERVE 0 reserves nothing");
	expect_diag(8, LM_OPT_ERROR, "NOLOG EVERYTHING");
	expect_diag(9, LM_OPT_ERROR, "GROUPCASEINSENSITIVE ON");
	expect_diag(10, LM_OPT_ERROR, "REPORTLOG [+]path");
	expect_diag(11, LM_OPT_WARNING, "AUTOMATIC_REREAD is a FlexLM option lmd does not have");
	assert_int_equal(diags.nerrors, 9);
}

static void undefined_and_mistyped_groups(void **state)
{
	parse_rc("GROUP TeamA alice\n"
	         "HOST_GROUP Pacific tokyo\n"
	         "INCLUDE stats GROUP TeamB\n"
	         "EXCLUDE stats GROUP Pacific\n"
	         "INCLUDE stats HOST_GROUP TeamA\n"
	         "GROUP Unused carol\n",
	         LMC_ESYNTAX);
	expect_diag(3, LM_OPT_ERROR,
	            "GROUP TeamB is not defined: add a line 'GROUP TeamB member...'");
	expect_diag(3, LM_OPT_ERROR, "GROUPs defined: TeamA, Unused");
	expect_diag(4, LM_OPT_ERROR,
	            "Pacific is a HOST_GROUP, not a GROUP: write HOST_GROUP Pacific");
	expect_diag(5, LM_OPT_ERROR, "TeamA is a GROUP, not a HOST_GROUP");
	expect_diag(6, LM_OPT_WARNING, "GROUP Unused is defined but no rule uses it");

	/* A group may be defined after the rule that uses it. */
	struct lm_options *o = parse("INCLUDE stats GROUP late\nGROUP late alice\n");
	expect_allow(o, &alice, 1, NULL, 0);
	lm_options_free(o);
}

static void features_the_license_does_not_serve(void **state)
{
	struct lm_options *o = parse("INCLUDE Stats USER alice\n"
	                             "INCLUDE nosuch USER alice\n"
	                             "INCLUDE viewer USER alice\n"
	                             "INCLUDE suite USER alice\n");
	expect_diag(1, LM_OPT_WARNING, "did you mean stats? Feature names are case-sensitive");
	expect_diag(2, LM_OPT_WARNING, "feature nosuch is in no FEATURE or INCREMENT line");
	expect_diag(3, LM_OPT_WARNING, "feature viewer is uncounted");
	expect_diag(4, LM_OPT_WARNING, "suite is a PACKAGE");
	assert_int_equal(diags.nerrors, 0);
	lm_options_free(o);

	/* Without a license, nothing is said about features. */
	lm_opt_diags_free(&diags);
	lm_opt_diags_init(&diags);
	const char *text = "INCLUDE nosuch USER alice\n";
	assert_int_equal(lm_options_parse("a.opt", text, strlen(text), NULL, &o, &diags), 0);
	expect_no_diag();
	lm_options_free(o);
}

static void reservations_against_the_seats(void **state)
{
	parse_rc("RESERVE 3 stats USER alice\n"
	         "RESERVE 2 stats USER bob\n"
	         "RESERVE 11 solver USER carol\n",
	         LMC_ESYNTAX);
	expect_diag(2, LM_OPT_ERROR,
	            "RESERVE 2 stats USER bob: with the RESERVE lines before it, 5 seats of stats "
	            "29.0 would be reserved, the license has 4");
	/* The same line counts against each pool it selects: 2 > 30.0's 2?
	 * No: 2 fits 30.0; only 29.0 overflows. */
	expect_diag(3, LM_OPT_ERROR,
	            "RESERVE 11 solver USER carol reserves 11 seats but solver 2.0 has 10");

	struct lm_options *o = parse("RESERVE 2 stats:VERSION=30.0 USER alice\n"
	                             "MAX 9 stats USER bob\n");
	expect_diag(0, LM_OPT_WARNING, "every seat of stats 30.0 is reserved");
	expect_diag(2, LM_OPT_WARNING, "MAX 9 stats USER bob never limits anything: stats has 6");
	lm_options_free(o);
}

static void rules_that_can_never_match(void **state)
{
	struct lm_options *o = parse("EXCLUDE stats USER bob\n"
	                             "INCLUDE stats USER bob\n"
	                             "EXCLUDEALL HOST kiosk\n"
	                             "RESERVE 1 solver HOST kiosk\n"
	                             "INCLUDE solver USER b*\n"
	                             "INCLUDE solver HOST lab*\n"
	                             "GROUP empty\n"
	                             "INCLUDE solver GROUP empty\n"
	                             "TIMEOUT stats 60\n"
	                             "INCLUDE solver USER mary ann\n"
	                             "NOLOG IN OUT\n");
	expect_diag(
	        2, LM_OPT_WARNING,
	        "INCLUDE stats USER bob never admits USER bob: EXCLUDE stats USER bob (line 1)");
	expect_diag(4, LM_OPT_WARNING, "the seats it reserves can never be used");
	expect_diag(5, LM_OPT_WARNING, "user names are matched literally");
	expect_diag(6, LM_OPT_WARNING, "host names are matched literally");
	expect_diag(7, LM_OPT_WARNING, "GROUP empty lists no members");
	expect_diag(9, LM_OPT_WARNING, "below the minimum of 900 s");
	/* Kept as written: lmd applies its --timeout-min when it enforces it. */
	assert_int_equal(lm_options_timeout(o, "stats", "29.0"), 60);
	expect_diag(10, LM_OPT_WARNING, "'ann' and what follows is ignored: INCLUDE takes 3 words");
	expect_diag(11, LM_OPT_WARNING, "only NOLOG IN is read");
	assert_int_equal(o->nolog, LM_OPT_NOLOG_IN);
	lm_options_free(o);
}

static void bad_wildcards(void **state)
{
	parse_rc("EXCLUDEALL INTERNET 192.168.*\n"
	         "INCLUDE stats INTERNET 10.0.0.256\n"
	         "HOST_GROUP lab 10.1.*.x 10.2.*.*\n"
	         "INCLUDE stats HOST 1.2.3.4.5\n"
	         "INCLUDE stats INTERNET ws1\n"
	         "INCLUDE stats HOST_GROUP lab\n"
	         "INCLUDE stats HOST *.example.com\n",
	         LMC_ESYNTAX);
	expect_diag(1, LM_OPT_ERROR, "INTERNET 192.168.* is not an IPv4 address pattern");
	expect_diag(2, LM_OPT_ERROR, "INTERNET 10.0.0.256");
	expect_diag(3, LM_OPT_ERROR, "10.1.*.x is not a valid IPv4 address pattern");
	expect_diag(4, LM_OPT_ERROR, "HOST 1.2.3.4.5 is not a valid IPv4 address pattern");
	expect_diag(5, LM_OPT_ERROR, "INTERNET ws1");
	expect_diag(7, LM_OPT_ERROR, "HOST *.example.com is not a valid IPv4 address pattern");
}

static void limits_and_binary_input(void **state)
{
	static const char nul[] = "INCLUDE stats USER alice\nINCLUDE stats USER b\0b\n";
	struct lm_options *o;
	lm_opt_diags_free(&diags);
	lm_opt_diags_init(&diags);
	assert_int_equal(lm_options_parse("a.opt", nul, sizeof nul - 1, &lic, &o, &diags),
	                 LMC_ESYNTAX);
	assert_null(o);
	expect_diag(2, LM_OPT_ERROR, "a NUL byte");

	parse_rc("GROUP g a\x01\n", LMC_ESYNTAX);
	expect_diag(1, LM_OPT_ERROR, "control byte 0x01");
	parse_rc("GROUP g a\r\nGROUP g b\rGROUP g c\n", LMC_ESYNTAX);
	expect_diag(2, LM_OPT_ERROR, "a carriage return inside a line");

	/* 100,000 lines: refused whole, before anything is parsed. */
	size_t n = 100000, len = n * 12;
	char *big = malloc(len + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		memcpy(big + i * 12, "GROUP g abc\n", 12);
	big[len] = '\0';
	parse_rc(big, LMC_ETOOLARGE);
	expect_diag(LM_OPTIONS_LINES_MAX + 1, LM_OPT_ERROR, "more than 20000 lines");
	/* But 20,000 lines load. */
	big[LM_OPTIONS_LINES_MAX * 12] = '\0';
	o = parse(big);
	assert_int_equal(o->groups[0].nmembers, LM_OPTIONS_LINES_MAX);
	lm_options_free(o);
	free(big);

	char *huge = malloc(LM_OPTIONS_FILE_MAX + 2);
	assert_non_null(huge);
	memset(huge, ' ', LM_OPTIONS_FILE_MAX + 1);
	lm_opt_diags_free(&diags);
	lm_opt_diags_init(&diags);
	assert_int_equal(lm_options_parse("a.opt", huge, LM_OPTIONS_FILE_MAX + 1, &lic, &o, &diags),
	                 LMC_ETOOLARGE);
	free(huge);

	/* A line over 4000 characters, a name over 255. */
	char line[LM_OPTIONS_LINE_MAX + 100], name[300];
	memset(name, 'x', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	snprintf(line, sizeof line, "INCLUDE stats USER ok\nINCLUDE stats USER %s\n", name);
	parse_rc(line, LMC_ESYNTAX);
	expect_diag(2, LM_OPT_ERROR, "is 299 characters long, at most 255");
	strcpy(line, "GROUP g");
	while (strlen(line) < LM_OPTIONS_LINE_MAX + 10)
		strcat(line, " user");
	strcat(line, "\nINCLUDE stats USER alice\n");
	parse_rc(line, LMC_ESYNTAX);
	expect_diag(1, LM_OPT_ERROR, "longer than 4000 characters");
	assert_int_equal(diags.nerrors, 1);

	/* A byte order mark is skipped with a warning. */
	o = parse("\xef\xbb\xbfINCLUDE stats USER alice\n");
	expect_diag(1, LM_OPT_WARNING, "byte order mark");
	lm_options_free(o);
}

/* ---- The canonical text ------------------------------------------------------- */

static void canonical_text_keeps_meaning_and_lines(void **state)
{
	const char *text = "# header\n"
	                   "group   team  alice \\\n"
	                   "   bob\n"
	                   "\n"
	                   "include \"stats version=29.0\"   USER   team   \n"
	                   "Reserve 1 stats group team\n"
	                   "timeoutall 7200\n";
	struct lm_options *o = parse(text), *o2;
	assert_string_equal(o->canonical, "\n"
	                                  "GROUP team alice bob\n"
	                                  "\n"
	                                  "\n"
	                                  "INCLUDE stats:VERSION=29.0 USER team\n"
	                                  "RESERVE 1 stats GROUP team\n"
	                                  "TIMEOUTALL 7200\n");
	struct lm_options *again = parse(o->canonical);
	assert_string_equal(again->canonical, o->canonical);
	assert_memory_equal(again->sha256, o->sha256, 32);
	for (size_t i = 0; i < o->nrules; i++) {
		assert_int_equal(again->rules[i].lineno, o->rules[i].lineno);
		assert_string_equal(again->rules[i].text, o->rules[i].text);
	}
	lm_options_free(again);

	/* Names that need quotes to read back the same. */
	o2 = parse("TIMEOUT solver:SN=\"SN 42\" 1800\n"
	           "GROUP \"two words\" \"a b\" \"ends\\\"\n"
	           "INCLUDE stats GROUP \"two words\"\n");
	assert_string_equal(o2->canonical, "TIMEOUT solver:SN=\"SN 42\" 1800\n"
	                                   "GROUP \"two words\" \"a b\" \"ends\\\"\n"
	                                   "INCLUDE stats GROUP \"two words\"\n");
	again = parse(o2->canonical);
	assert_string_equal(again->canonical, o2->canonical);
	assert_string_equal(again->groups[0].members[1], "ends\\");
	lm_options_free(again);
	lm_options_free(o2);

	/* Comments and spacing do not change the policy's digest; a rule does. */
	struct lm_options *b = parse("\n"
	                             "GROUP team alice bob # not a comment: a member\n");
	assert_memory_not_equal(b->sha256, o->sha256, 32);
	lm_options_free(b);
	b = parse("# other header\n"
	          "GROUP team alice bob\n"
	          "# spacing\n"
	          "# differs\n"
	          "INCLUDE stats:VERSION=29.0 USER team\n"
	          "RESERVE 1 stats GROUP team\n"
	          "TIMEOUTALL 7200\n");
	assert_memory_equal(b->sha256, o->sha256, 32);
	lm_options_free(b);
	lm_options_free(o);
}

/* ---- Decisions ---------------------------------------------------------------- */

static void exclude_beats_include(void **state)
{
	struct lm_options *o = parse("GROUP team alice bob\n"
	                             "INCLUDE stats GROUP team\n"
	                             "\n"
	                             "\n"
	                             "\n"
	                             "\n"
	                             "EXCLUDE stats USER bob\n");
	expect_allow(o, &alice, 1, NULL, 0);
	expect_deny(o, &bob, 1, NULL, 0, "denied: EXCLUDE stats USER bob (acme.opt line 7)");
	lm_options_free(o);

	o = parse("INCLUDEALL USER bob\nEXCLUDEALL INTERNET 10.1.9.*\n");
	expect_deny(o, &bob, 1, NULL, 0, "denied: EXCLUDEALL INTERNET 10.1.9.* (acme.opt line 2)");
	lm_options_free(o);
}

static void include_lists_admit_only_those_listed(void **state)
{
	struct lm_options *o = parse("INCLUDE stats USER alice\n"
	                             "INCLUDE stats:VERSION=30.0 USER bob\n");
	expect_allow(o, &alice, 1, NULL, 0);
	/* bob is listed for the 30.0 pool only. */
	expect_deny(o, &bob, 1, NULL, 0,
	            "denied: user bob is not on the INCLUDE list of stats, which starts with "
	            "INCLUDE stats USER alice (acme.opt line 1)");
	struct lm_opt_decision d;
	/* The list of the 30.0 pool holds both lines: alice and bob. */
	assert_int_equal(lm_options_decide(o, &bob, "stats", "30.0", 1, 2, NULL, 0, &d), 0);
	assert_int_equal(d.outcome, LM_OPT_ALLOW);
	assert_int_equal(lm_options_decide(o, &carol, "stats", "30.0", 1, 2, NULL, 0, &d), 0);
	assert_int_equal(d.outcome, LM_OPT_DENY);
	/* A feature without INCLUDE lines admits everyone. */
	assert_int_equal(lm_options_decide(o, &carol, "solver", "2.0", 1, 10, NULL, 0, &d), 0);
	assert_int_equal(d.outcome, LM_OPT_ALLOW);
	lm_options_free(o);

	/* INCLUDEALL makes a list for every feature. */
	o = parse("INCLUDEALL PROJECT apollo\nINCLUDE solver DISPLAY lab7:0\n");
	expect_allow(o, &alice, 1, NULL, 0);
	expect_deny(o, &bob, 1, NULL, 0, "not on the INCLUDE list of stats");
	assert_int_equal(lm_options_decide(o, &carol, "solver", "2.0", 1, 10, NULL, 0, &d), 0);
	assert_int_equal(d.outcome, LM_OPT_ALLOW);
	lm_options_free(o);
}

static void groups_hosts_and_wildcards(void **state)
{
	struct lm_options *o = parse("HOST_GROUP lab lab7 10.1.2.*\n"
	                             "INCLUDE stats HOST_GROUP lab\n"
	                             "INCLUDE stats INTERNET 10.1.9.9\n");
	expect_allow(o, &alice, 1, NULL, 0); /* 10.1.2.3 */
	expect_allow(o, &carol, 1, NULL, 0); /* lab7 */
	expect_allow(o, &bob, 1, NULL, 0);   /* INTERNET */
	struct lm_opt_client eve = {"eve", "LAB7", "", "10.1.3.1", ""};
	expect_deny(o, &eve, 1, NULL, 0, "not on the INCLUDE list");
	struct lm_opt_client partial = {"eve", "x", "", "10.1.2", ""};
	expect_deny(o, &partial, 1, NULL, 0, "not on the INCLUDE list");
	struct lm_opt_client nobody = {NULL, NULL, NULL, NULL, NULL};
	expect_deny(o, &nobody, 1, NULL, 0, "this client is not on the INCLUDE list");
	lm_options_free(o);

	o = parse("INCLUDE stats HOST 192.168.*.*\n");
	expect_allow(o, &carol, 1, NULL, 0);
	expect_deny(o, &alice, 1, NULL, 0, "not on the INCLUDE list");
	lm_options_free(o);
}

static void case_rules(void **state)
{
	struct lm_opt_client upper = {"ALICE", "WS1", "", "", ""};
	/* Case-sensitive by default. */
	struct lm_options *o = parse("GROUP team alice\nHOST_GROUP hosts ws1\n"
	                             "INCLUDE stats GROUP team\nINCLUDE stats HOST_GROUP hosts\n");
	expect_deny(o, &upper, 1, NULL, 0, "not on the INCLUDE list");
	lm_options_free(o);
	/* GROUPCASEINSENSITIVE ON folds group members, wherever it is... */
	o = parse("GROUP team alice\nINCLUDE stats GROUP team\nGROUPCASEINSENSITIVE ON\n");
	expect_allow(o, &upper, 1, NULL, 0);
	lm_options_free(o);
	o = parse(
	        "HOST_GROUP hosts ws1\nINCLUDE stats HOST_GROUP hosts\nGROUPCASEINSENSITIVE on\n");
	expect_allow(o, &upper, 1, NULL, 0);
	lm_options_free(o);
	/* ...but not names on USER lines. */
	o = parse("GROUPCASEINSENSITIVE ON\nINCLUDE stats USER alice\n");
	expect_deny(o, &upper, 1, NULL, 0, "not on the INCLUDE list");
	lm_options_free(o);
	/* The last switch wins. */
	o = parse("GROUPCASEINSENSITIVE ON\nGROUP team alice\nINCLUDE stats GROUP team\n"
	          "GROUPCASEINSENSITIVE OFF\n");
	expect_deny(o, &upper, 1, NULL, 0, "not on the INCLUDE list");
	lm_options_free(o);
}

static void max_caps_a_user_a_host_and_a_group(void **state)
{
	struct lm_options *o = parse("GROUP team alice bob\n"
	                             "MAX 3 stats GROUP team\n"
	                             "MAX 2 stats USER alice\n"
	                             "MAX 1 solver HOST ws2\n");
	struct lm_opt_holding held[] = {
	        {alice, "29.0", 1},
	        {bob, "30.0", 1}, /* another pool of stats: MAX counts it too */
	        {carol, "29.0", 1},
	};
	expect_allow(o, &alice, 1, held, 3); /* alice 1+1 <= 2; team 2+1 <= 3 */
	/* The first rule in file order that refuses is the one named. */
	expect_deny(o, &alice, 2, held, 3,
	            "denied: MAX 3 stats GROUP team (acme.opt line 2): 2 held, 2 more asked");
	struct lm_opt_holding two[] = {{alice, "29.0", 2}};
	expect_deny(o, &alice, 1, two, 1,
	            "denied: MAX 2 stats USER alice (acme.opt line 3): 2 held, 1 more asked");
	expect_allow(o, &bob, 1, held, 3);
	held[2] = (struct lm_opt_holding){bob, "29.0", 1};
	expect_deny(o, &bob, 1, held, 3,
	            "denied: MAX 3 stats GROUP team (acme.opt line 2): 3 held");
	expect_allow(o, &carol, 1, held, 3); /* not in team */
	struct lm_opt_decision d;
	struct lm_opt_holding on_ws2 = {{"x", "ws2", "", "", ""}, "2.0", 1};
	assert_int_equal(lm_options_decide(o, &bob, "solver", "2.0", 1, 10, &on_ws2, 1, &d), 0);
	assert_int_equal(d.outcome, LM_OPT_DENY);
	lm_options_free(o);
}

static void max_all_users_and_all_groups(void **state)
{
	struct lm_options *o = parse("GROUP red alice\n"
	                             "GROUP blue bob carol\n"
	                             "MAX 3 stats USER alice\n"
	                             "MAX 1 stats USER ALL_USERS\n"
	                             "MAX 1 stats GROUP ALL_GROUPS\n");
	struct lm_opt_holding held[] = {{alice, "29.0", 1}, {bob, "29.0", 1}};
	/* alice's own line comes first and replaces ALL_USERS for her; her
	 * group red is capped at 1 and she holds 1. */
	expect_deny(o, &alice, 1, held, 2, "MAX 1 stats GROUP ALL_GROUPS (acme.opt line 5)");
	/* bob is capped at 1 by ALL_USERS. */
	expect_deny(o, &bob, 1, held, 2, "MAX 1 stats USER ALL_USERS (acme.opt line 4)");
	/* carol holds nothing, but blue (bob) holds its one seat. */
	expect_deny(o, &carol, 1, held, 2, "GROUP ALL_GROUPS");
	struct lm_opt_client dave = {"dave", "", "", "", ""};
	expect_allow(o, &dave, 1, held, 2);
	lm_options_free(o);
}

static void reserve_sets_seats_aside(void **state)
{
	/* 4 seats; 2 reserved for team, so 2 unreserved. */
	struct lm_options *o = parse("GROUP team alice bob\n"
	                             "RESERVE 2 stats GROUP team\n");
	struct lm_opt_decision d;

	/* Others can take the 2 unreserved seats, not more, even with the
	 * reserved ones idle. */
	expect_allow(o, &carol, 2, NULL, 0);
	expect_deny(o, &carol, 3, NULL, 0,
	            "denied: RESERVE 2 stats GROUP team (acme.opt line 2): 2 of the 4 free seats "
	            "of stats 29.0 are reserved for others");
	struct lm_opt_holding held[4] = {{carol, "29.0", 2}};
	expect_deny(o, &carol, 1, held, 1, "RESERVE 2 stats GROUP team");
	d = ask(o, &carol, 1, held, 1);
	assert_int_equal(d.available, 0);

	/* The reserved party uses its reserved seats, and the unreserved
	 * ones too. */
	expect_allow(o, &alice, 4, NULL, 0);
	held[0] = (struct lm_opt_holding){alice, "29.0", 2}; /* charged to the reservation */
	expect_allow(o, &carol, 2, held, 1);
	expect_allow(o, &bob, 2, held, 1);
	d = ask(o, &bob, 3, held, 1);
	assert_int_equal(d.outcome, LM_OPT_NOSEATS);
	assert_int_equal(d.available, 2);

	/* Holdings fill the reservation before unreserved seats: alice's 3
	 * seats are 2 reserved + 1 unreserved, which leaves carol one. */
	held[0] = (struct lm_opt_holding){alice, "29.0", 3};
	expect_allow(o, &carol, 1, held, 1);
	d = ask(o, &carol, 2, held, 1);
	assert_int_equal(d.outcome, LM_OPT_NOSEATS);

	/* carol's seats are unreserved; with 2 held, the team still has its 2. */
	held[0] = (struct lm_opt_holding){carol, "29.0", 2};
	d = ask(o, &alice, 2, held, 1);
	assert_int_equal(d.outcome, LM_OPT_ALLOW);
	assert_int_equal(d.available, 2);
	lm_options_free(o);
}

static void reservations_as_lmstat_shows_them(void **state)
{
	/* 4 seats: 1 for carol, 2 for team, 3 more asked for bob but only 1
	 * is left of the seats issued (parsed without the license, which
	 * would refuse that). */
	const char *text = "GROUP team alice bob\n"
	                   "RESERVE 1 stats USER carol\n"
	                   "RESERVE 2 stats GROUP team\n"
	                   "RESERVE 3 stats USER bob\n"
	                   "RESERVE 1 solver USER bob\n";
	struct lm_options *o;
	lm_opt_diags_free(&diags);
	lm_opt_diags_init(&diags);
	assert_int_equal(lm_options_parse("acme.opt", text, strlen(text), NULL, &o, &diags), 0);
	/* alice holds 3 (2 of team's, 1 unreserved), bob 1 in another pool. */
	struct lm_opt_holding held[] = {{alice, "29.0", 3}, {bob, "30.0", 1}};
	struct lm_opt_reservation *res;
	size_t n;
	uint64_t unreserved_used;
	assert_int_equal(
	        lm_options_reservations(o, "stats", "29.0", 4, held, 2, &res, &n, &unreserved_used),
	        0);
	assert_int_equal(n, 3);
	assert_string_equal(res[0].rule->who, "carol");
	assert_int_equal(res[0].seats, 1);
	assert_int_equal(res[0].idle, 1);
	assert_string_equal(res[1].rule->who, "team");
	assert_int_equal(res[1].seats, 2);
	assert_int_equal(res[1].idle, 0);
	assert_string_equal(res[2].rule->who, "bob");
	assert_int_equal(res[2].seats, 1);
	assert_int_equal(res[2].idle, 1);
	assert_int_equal(unreserved_used, 1);
	free(res);

	/* A feature with no RESERVE: nothing, nothing to free. */
	assert_int_equal(
	        lm_options_reservations(o, "plot", "1.0", 4, NULL, 0, &res, &n, &unreserved_used),
	        0);
	assert_int_equal(n, 0);
	assert_null(res);
	lm_options_free(o);
}

static void reservations_beyond_the_seats_use_the_first(void **state)
{
	/* Checked without the license (lmoptcheck without -c would accept
	 * it), a later reservation gets what is left of the 4 seats. */
	struct lm_options *o;
	const char *text = "RESERVE 3 stats USER alice\nRESERVE 3 stats USER bob\n";
	lm_opt_diags_free(&diags);
	lm_opt_diags_init(&diags);
	assert_int_equal(lm_options_parse("acme.opt", text, strlen(text), NULL, &o, &diags), 0);
	struct lm_opt_decision d = ask(o, &bob, 1, NULL, 0);
	assert_int_equal(d.outcome, LM_OPT_ALLOW);
	assert_int_equal(d.available, 1);
	d = ask(o, &carol, 1, NULL, 0);
	assert_int_equal(d.outcome, LM_OPT_DENY);
	assert_ptr_equal(d.rule, &o->rules[0]);
	lm_options_free(o);
}

static void reservations_of_another_pool_do_not_count(void **state)
{
	struct lm_options *o = parse("RESERVE 2 stats:VERSION=30.0 USER alice\n"
	                             "RESERVE 1 solver USER alice\n");
	expect_allow(o, &bob, 4, NULL, 0);
	struct lm_opt_decision d;
	assert_int_equal(lm_options_decide(o, &bob, "stats", "30", 1, 2, NULL, 0, &d), 0);
	assert_int_equal(d.outcome, LM_OPT_DENY);
	assert_int_equal(lm_options_decide(o, &alice, "stats", "30", 2, 2, NULL, 0, &d), 0);
	assert_int_equal(d.outcome, LM_OPT_ALLOW);
	lm_options_free(o);
}

static void decisions_are_deterministic(void **state)
{
	struct lm_options *o = parse("GROUP team alice bob\n"
	                             "RESERVE 1 stats GROUP team\n"
	                             "MAX 2 stats USER ALL_USERS\n");
	struct lm_opt_holding held[] = {{bob, "29.0", 1}, {carol, "29.0", 1}};
	struct lm_opt_decision a, b;
	assert_int_equal(lm_options_decide(o, &alice, "stats", "29.0", 2, 4, held, 2, &a), 0);
	struct lm_options *again = parse(o->canonical);
	assert_int_equal(lm_options_decide(again, &alice, "stats", "29.0", 2, 4, held, 2, &b), 0);
	assert_int_equal(a.outcome, b.outcome);
	assert_int_equal(a.available, b.available);
	assert_string_equal(a.message, b.message);
	lm_options_free(again);
	lm_options_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(every_keyword_parses),
	        cmocka_unit_test(comments_continuations_quotes_and_case),
	        cmocka_unit_test(several_group_lines_make_one_group),
	        cmocka_unit_test(feature_qualifiers),
	        cmocka_unit_test(unknown_keywords_and_bad_lines),
	        cmocka_unit_test(undefined_and_mistyped_groups),
	        cmocka_unit_test(features_the_license_does_not_serve),
	        cmocka_unit_test(reservations_against_the_seats),
	        cmocka_unit_test(rules_that_can_never_match),
	        cmocka_unit_test(bad_wildcards),
	        cmocka_unit_test(limits_and_binary_input),
	        cmocka_unit_test(canonical_text_keeps_meaning_and_lines),
	        cmocka_unit_test(exclude_beats_include),
	        cmocka_unit_test(include_lists_admit_only_those_listed),
	        cmocka_unit_test(groups_hosts_and_wildcards),
	        cmocka_unit_test(case_rules),
	        cmocka_unit_test(max_caps_a_user_a_host_and_a_group),
	        cmocka_unit_test(max_all_users_and_all_groups),
	        cmocka_unit_test(reserve_sets_seats_aside),
	        cmocka_unit_test(reservations_beyond_the_seats_use_the_first),
	        cmocka_unit_test(reservations_as_lmstat_shows_them),
	        cmocka_unit_test(reservations_of_another_pool_do_not_count),
	        cmocka_unit_test(decisions_are_deterministic),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
