/* The administrator's policy inside the pool: the options file that came
 * with the license set (SetLicense, or a snapshot), kept as text in the
 * meta table and parsed into a struct lm_options that checkout asks.
 *
 * The text is replicated state (it is in the digest and in snapshots); the
 * parsed policy is derived from it and lives in memory only.  A command that
 * changes the text parses the new policy into policy_next first and the
 * pool swaps it in once the transaction has committed (lm_pool_policy_settle),
 * so that a failed apply leaves the old policy in force with the old text.
 *
 * Every server parses the same canonical text against the same lines, so
 * every server decides alike, rule line numbers in messages included. */
#include "lmd/pool.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/options.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"

#define KEY_OPTIONS_NAME "options_name"
#define KEY_OPTIONS_TEXT "options_text"

/* ---- Per-feature views -------------------------------------------------- */

/* A shallow copy of the policy with only the rules of one feature and the
 * rules of none, in file order: rule texts, groups and line numbers are
 * the policy's own, so the decisions and their messages are the same.  A
 * view is asked about its feature only, so its rules of that feature are
 * marked feature_matched. */
struct lm_pool_policy_view {
	const char *feature;
	struct lm_options view;
};

static bool cut(const struct lm_options *o, const char *feature, struct lm_options *out)
{
	*out = *o;
	out->rules = malloc((o->nrules ? o->nrules : 1) * sizeof *out->rules);
	if (!out->rules)
		return false;
	out->nrules = 0;
	for (size_t i = 0; i < o->nrules; i++)
		if (!o->rules[i].has_feature ||
		    (feature && strcmp(o->rules[i].feature, feature) == 0)) {
			out->rules[out->nrules] = o->rules[i];
			out->rules[out->nrules++].feature_matched = feature != NULL;
		}
	return true;
}

static int by_feature(const void *a, const void *b)
{
	return strcmp(((const struct lm_pool_policy_view *)a)->feature,
	              ((const struct lm_pool_policy_view *)b)->feature);
}

static void views_free(struct lm_pool *p)
{
	for (size_t i = 0; i < p->nviews; i++)
		free(p->views[i].view.rules);
	free(p->views);
	if (p->general)
		free(p->general->rules);
	free(p->general);
	p->views = NULL;
	p->nviews = 0;
	p->general = NULL;
}

static void views_build(struct lm_pool *p)
{
	const struct lm_options *o = p->policy;
	if (!o)
		return;
	p->views = calloc(o->nrules ? o->nrules : 1, sizeof *p->views);
	p->general = calloc(1, sizeof *p->general);
	bool ok = p->views && p->general && cut(o, NULL, p->general);
	if (!ok) {
		free(p->general);
		p->general = NULL;
	}
	for (size_t i = 0; ok && i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (!r->has_feature)
			continue;
		bool seen = false;
		for (size_t j = 0; j < p->nviews && !seen; j++)
			seen = strcmp(p->views[j].feature, r->feature) == 0;
		if (seen)
			continue;
		p->views[p->nviews].feature = r->feature;
		ok = cut(o, r->feature, &p->views[p->nviews].view);
		if (ok)
			p->nviews++;
	}
	if (!ok) {
		views_free(p);
		return;
	}
	qsort(p->views, p->nviews, sizeof *p->views, by_feature);
}

/* The rules that can decide for feature: its view, the rules of no feature
 * when no rule names it, or the whole policy when there are no views. */
static const struct lm_options *policy_for(const struct lm_pool *p, const char *feature)
{
	if (!p->general)
		return p->policy;
	struct lm_pool_policy_view key = {.feature = feature};
	const struct lm_pool_policy_view *v =
	        p->nviews ? bsearch(&key, p->views, p->nviews, sizeof *p->views, by_feature) : NULL;
	return v ? &v->view : p->general;
}

/* ---- The policy's text --------------------------------------------------- */

int lm_pool_policy_stage(struct lm_pool *p, const ProtobufCBinaryData *name,
                         const ProtobufCBinaryData *text, const struct lm_pool_parsed_line *pl,
                         size_t n, struct lm_pool_result *res)
{
	lm_options_free(p->policy_next);
	p->policy_next = NULL;
	p->policy_replace = true;

	if (!text) {
		int rc = lm_store_del(p->store, LM_DB_META, KEY_OPTIONS_NAME,
		                      strlen(KEY_OPTIONS_NAME), NULL);
		if (!rc)
			rc = lm_store_del(p->store, LM_DB_META, KEY_OPTIONS_TEXT,
			                  strlen(KEY_OPTIONS_TEXT), NULL);
		return rc ? lm_pool_store_failed(p, rc) : 0;
	}
	char fname[LM_OPTIONS_NAME_MAX + 1] = "options";
	if (name && name->len > 0) {
		if (name->len >= sizeof fname || memchr(name->data, 0, name->len)) {
			lm_pool_deny(res, LMC_EINVAL,
			             "the options file's name is too long or holds a NUL");
			return 0;
		}
		memcpy(fname, name->data, name->len);
		fname[name->len] = '\0';
	}
	/* The parser reads only the lines of the license it checks against. */
	struct lm_license_file lic;
	memset(&lic, 0, sizeof lic);
	lic.lines = calloc(n ? n : 1, sizeof *lic.lines);
	if (!lic.lines)
		return LMC_ENOMEM;
	for (size_t i = 0; i < n; i++)
		lic.lines[i] = pl[i].lic;
	lic.nlines = n;
	struct lm_opt_diags diags;
	lm_opt_diags_init(&diags);
	struct lm_options *o = NULL;
	int rc = lm_options_parse(fname, (const char *)text->data, text->len, &lic, &o, &diags);
	free(lic.lines);
	if (rc == LMC_ENOMEM) {
		lm_opt_diags_free(&diags);
		return rc;
	}
	if (rc) {
		/* The leader checked the file against these lines before
		 * proposing them: only a command that no lmd built gets here. */
		const struct lm_opt_diag *d = diags.n ? &diags.items[0] : NULL;
		lm_pool_deny(res, rc, "%s line %d: %s", fname, d ? d->lineno : 0,
		             d ? d->message : "does not parse");
		lm_opt_diags_free(&diags);
		p->policy_replace = false;
		return 0;
	}
	lm_opt_diags_free(&diags);
	rc = lm_store_put(p->store, LM_DB_META, KEY_OPTIONS_NAME, strlen(KEY_OPTIONS_NAME), fname,
	                  strlen(fname));
	if (!rc)
		rc = lm_store_put(p->store, LM_DB_META, KEY_OPTIONS_TEXT, strlen(KEY_OPTIONS_TEXT),
		                  text->data, text->len);
	if (rc) {
		lm_options_free(o);
		return lm_pool_store_failed(p, rc);
	}
	p->policy_next = o;
	return 0;
}

void lm_pool_policy_settle(struct lm_pool *p, bool committed)
{
	if (committed && p->policy_replace) {
		views_free(p);
		lm_options_free(p->policy);
		p->policy = p->policy_next;
		views_build(p);
	} else {
		lm_options_free(p->policy_next);
	}
	p->policy_next = NULL;
	p->policy_replace = false;
}

const struct lm_options *lm_pool_policy(const struct lm_pool *p)
{
	return p->policy;
}

void lm_pool_policy_free(struct lm_pool *p)
{
	views_free(p);
	lm_options_free(p->policy);
	lm_options_free(p->policy_next);
	p->policy = p->policy_next = NULL;
}

int lm_pool_policy_text(struct lm_pool *p, struct lm_val *name, struct lm_val *text)
{
	int rc = lm_store_get(p->store, LM_DB_META, KEY_OPTIONS_NAME, strlen(KEY_OPTIONS_NAME),
	                      name);
	if (!rc)
		rc = lm_store_get(p->store, LM_DB_META, KEY_OPTIONS_TEXT, strlen(KEY_OPTIONS_TEXT),
		                  text);
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

/* ---- Checkout's question ------------------------------------------------ */

static void client_of(const struct lm_pool_session *s, struct lm_opt_client *who)
{
	who->user = s->user;
	who->host = s->host;
	who->display = s->display;
	who->ip = s->ip;
	who->project = s->project;
}

/* The seats of feature held now, in handle order, as the decision reads
 * them (*held malloc'd, pointing into the pool's copy or into scratch,
 * which the caller frees after the decision: pool_holdings.c). */
static int holdings_of(struct lm_pool *p, const char *feature, struct lm_pool_holdings *scratch,
                       struct lm_opt_holding **held, size_t *n)
{
	const struct lm_pool_holdings *hs;
	*held = NULL;
	*n = 0;
	int rc = lm_pool_holdings_get(p, feature, scratch, &hs);
	if (rc || hs->n == 0)
		return rc;
	*held = malloc(hs->n * sizeof **held);
	if (!*held)
		return LMC_ENOMEM;
	for (size_t i = 0; i < hs->n; i++) {
		client_of(&hs->items[i]->holder, &(*held)[i].who);
		(*held)[i].version = hs->items[i]->version;
		(*held)[i].count = hs->items[i]->count;
	}
	*n = hs->n;
	return 0;
}

/* Whether deciding for who on pool (feature, version) reads holdings: a
 * RESERVE of the pool (it splits the seats whoever asks), or a MAX of the
 * pool naming who.  A big options file mostly about other features or
 * other people then costs a walk of its rules, not a scan of the seats. */
static bool needs_holdings(const struct lm_options *o, const struct lm_opt_client *who,
                           const char *feature, const char *version)
{
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->no_effect || (r->kw != LM_OPT_RESERVE && r->kw != LM_OPT_MAX) ||
		    !lm_opt_rule_applies(r, feature, version))
			continue;
		if (r->kw == LM_OPT_RESERVE || lm_opt_rule_names(o, r, who))
			return true;
	}
	return false;
}

int lm_pool_policy_decide(struct lm_pool *p, const struct lm_pool_session *s, const char *feature,
                          const char *version, uint32_t count, uint32_t issued,
                          struct lm_opt_decision *out)
{
	struct lm_opt_client who;
	client_of(s, &who);
	const struct lm_options *o = policy_for(p, feature);
	struct lm_pool_holdings scratch = {0};
	struct lm_opt_holding *held = NULL;
	size_t n = 0;
	int rc = needs_holdings(o, &who, feature, version)
	                 ? holdings_of(p, feature, &scratch, &held, &n)
	                 : 0;
	if (!rc)
		rc = lm_options_decide(o, &who, feature, version, count, issued, held, n, out);
	free(held);
	lm_pool_holdings_free_scratch(&scratch);
	return rc;
}

uint32_t lm_pool_policy_overdraft(struct lm_pool *p, const char *feature, const char *version,
                                  uint32_t overdraft)
{
	if (!p->policy || overdraft == 0)
		return overdraft;
	const struct lm_options *o = policy_for(p, feature);
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (r->kw == LM_OPT_MAX_OVERDRAFT && r->number < overdraft &&
		    lm_opt_rule_applies(r, feature, version))
			overdraft = r->number;
	}
	return overdraft;
}

/* ---- lmstat's question --------------------------------------------------- */

int lm_pool_policy_reservations(struct lm_pool *p, const char *feature, const char *version,
                                uint32_t issued, struct lm_opt_reservation **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!p->policy)
		return 0;
	const struct lm_options *o = policy_for(p, feature);
	bool reserves = false;
	for (size_t i = 0; i < o->nrules && !reserves; i++)
		reserves = o->rules[i].kw == LM_OPT_RESERVE &&
		           lm_opt_rule_applies(&o->rules[i], feature, version);
	if (!reserves)
		return 0;
	int rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	struct lm_pool_holdings scratch = {0};
	struct lm_opt_holding *held = NULL;
	size_t nheld = 0;
	rc = holdings_of(p, feature, &scratch, &held, &nheld);
	lm_store_read_end(p->store);
	uint64_t unreserved_used;
	if (!rc)
		rc = lm_options_reservations(o, feature, version, issued, held, nheld, out, n,
		                             &unreserved_used);
	free(held);
	lm_pool_holdings_free_scratch(&scratch);
	return rc;
}
