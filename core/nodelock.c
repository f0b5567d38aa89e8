/* Deciding, with no server, whether a license line can be used here today.
 *
 * The checks run in a fixed order (signature, counted, START, expiry,
 * version, lock code), so the stage at which a line fails measures how close
 * it came to being usable; among several lines for one feature the one that
 * got furthest explains the refusal best. */
#include "core/nodelock.h"

#include <stdio.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "core/key.h"

/* Failure codes by the stage that produces them, earliest first. */
static const int stage_order[] = {
        LMC_EBADSIG, LMC_ECOUNTED, LMC_ENOTSTARTED, LMC_EEXPIRED, LMC_EVERSION, LMC_EWRONGHOST,
};

int lm_nodelock_stage(int code)
{
	for (size_t i = 0; i < sizeof stage_order / sizeof stage_order[0]; i++)
		if (stage_order[i] == code)
			return (int)i;
	return -1;
}

static void describe_hosts(const struct lm_lock_match *m, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int c = 0; c < LM_CRIT_COUNT; c++) {
		const char *what = NULL;
		if (m->differs & (1u << c))
			what = "differs";
		else if (m->missing & (1u << c))
			what = "missing here";
		if (!what || o >= size)
			continue;
		int n = snprintf(buf + o, size - o, "%s%s %s", o ? ", " : "", lm_criterion_name(c),
		                 what);
		if (n > 0)
			o += (size_t)n;
	}
}

int lm_license_check_terms(const struct lm_license *l, const char *version, int32_t today,
                           char *reason, size_t size)
{
	char date[16];
	if (l->start != LM_DATE_NONE && today < l->start) {
		lm_date_format(l->start, date, sizeof date);
		snprintf(reason, size, "line %d: %s %s is not valid before %s", l->lineno, l->name,
		         l->version, date);
		return LMC_ENOTSTARTED;
	}
	if (l->expiry != LM_DATE_PERMANENT && today > l->expiry) {
		lm_date_format(l->expiry, date, sizeof date);
		snprintf(reason, size, "line %d: %s %s expired on %s", l->lineno, l->name,
		         l->version, date);
		return LMC_EEXPIRED;
	}
	if (version && lm_version_compare(version, l->version) > 0) {
		snprintf(reason, size, "line %d: version %s requested, the license allows up to %s",
		         l->lineno, version, l->version);
		return LMC_EVERSION;
	}
	return 0;
}

int lm_nodelock_check_line(const struct lm_license_file *f, const struct lm_license *l,
                           EVP_PKEY *key, const struct lm_machine *here, const char *version,
                           int32_t today, char *reason, size_t size)
{
	if (lm_license_verify(f, l, key) != 0) {
		snprintf(reason, size, "line %d: %s", l->lineno,
		         l->has_sig ? "signature does not verify with the vendor key (line edited, "
		                      "or signed by another vendor)"
		                    : "line is not signed");
		return LMC_EBADSIG;
	}
	if (!l->uncounted) {
		snprintf(reason, size,
		         "line %d: %s %s is a counted license (%u seats) and must be served by lmd",
		         l->lineno, l->name, l->version, l->count);
		return LMC_ECOUNTED;
	}
	int rc = lm_license_check_terms(l, version, today, reason, size);
	if (rc != 0)
		return rc;
	/* The parser refuses an uncounted line without HOSTID; a line bound
	 * to nothing would run anywhere. */
	struct lm_hostid_match m;
	lm_hostid_match(&l->hostid, here, l->tolerance, &m);
	if (!l->has_hostid || !m.accepted) {
		char detail[LM_TEXT_MAX] = "";
		if (m.has_code) {
			describe_hosts(&m.lock, detail, sizeof detail);
			snprintf(reason, size,
			         "line %d: bound to another machine: %d of %d lock criteria match, "
			         "%d may differ (%s)",
			         l->lineno, m.lock.matched, m.lock.licensed, m.lock.allowed_misses,
			         detail);
		} else {
			lm_hostid_format(&l->hostid, detail, sizeof detail);
			snprintf(reason, size,
			         "line %d: bound to another machine: HOSTID=\"%s\" names none of "
			         "this "
			         "machine's host ids (`lmutil lmhostid -flexlm` lists them)",
			         l->lineno, detail);
		}
		return LMC_EWRONGHOST;
	}
	const struct lm_hostid *by = &l->hostid.ids[m.which];
	if (by->kind == LM_HOSTID_ANY || by->kind == LM_HOSTID_DEMO || by->kind == LM_HOSTID_ID) {
		snprintf(reason, size, "line %d: %s %s is usable on any machine (HOSTID=%s)",
		         l->lineno, l->name, l->version, by->text);
		return 0;
	}
	if (by->kind != LM_HOSTID_CODE) {
		snprintf(reason, size, "line %d: %s %s is usable on this machine (HOSTID %s)",
		         l->lineno, l->name, l->version, by->text);
		return 0;
	}
	snprintf(reason, size, "line %d: %s %s is usable on this machine", l->lineno, l->name,
	         l->version);
	return 0;
}

/* The line of f that supersedes l (SUPERSEDE, core/license.h), if one does
 * and its signature holds: an edited line replaces nothing. */
static const struct lm_license *superseder(const struct lm_license_file *f, EVP_PKEY *key,
                                           const struct lm_license *l)
{
	for (size_t i = 0; i < f->nlines; i++)
		if (lm_license_supersedes(&f->lines[i], l) &&
		    lm_license_verify(f, &f->lines[i], key) == 0)
			return &f->lines[i];
	return NULL;
}

int lm_nodelock_check(const struct lm_license_file *f, EVP_PKEY *key, const struct lm_machine *here,
                      const char *feature, const char *version, int32_t today,
                      const struct lm_license **usable, char *reason, size_t size)
{
	int best = LMC_ENOFEATURE;
	char why[512];
	snprintf(reason, size, "no license line for feature %s", feature);
	*usable = NULL;
	for (size_t i = 0; i < f->nlines; i++) {
		const struct lm_license *l = &f->lines[i];
		if (l->type == LM_LINE_PACKAGE || strcmp(l->name, feature) != 0)
			continue;
		const struct lm_license *by = superseder(f, key, l);
		if (by) {
			if (best == LMC_ENOFEATURE)
				snprintf(reason, size,
				         "line %d (%s %s %s) is superseded by line %d (%s %s %s)",
				         l->lineno, lm_line_type_name(l->type), l->name, l->version,
				         by->lineno, lm_line_type_name(by->type), by->name,
				         by->version);
			continue;
		}
		int rc = lm_nodelock_check_line(f, l, key, here, version, today, why, sizeof why);
		if (rc == 0) {
			*usable = l;
			snprintf(reason, size, "%s", why);
			return 0;
		}
		if (best == LMC_ENOFEATURE || lm_nodelock_stage(rc) > lm_nodelock_stage(best)) {
			best = rc;
			snprintf(reason, size, "%s", why);
		}
	}
	return best;
}
