/* The license set.  SetLicense (and restore) replace the lines table and
 * rebuild the features table from it: one record per feature, listing its
 * pools by version and the counted lines of each.  Checkout and lmstat read
 * a features record back one pool at a time and ask what it issues on a
 * day. */
#include "lmd/pool.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"
#include "proto/command.pb-c.h"

/* Reads the next pool of a features record: 1, 0 at the end, or -1. */
int lm_pool_def_next(struct lm_pool_rbuf *r, struct lm_pool_def *d)
{
	const uint8_t *vkey;

	if (r->off == r->len)
		return 0;
	vkey = lm_pool_r_take(r, LM_POOL_VKEY_LEN);
	if (vkey)
		memcpy(d->vkey, vkey, LM_POOL_VKEY_LEN);
	lm_pool_r_str8(r, d->version, sizeof d->version);
	d->nlines = lm_pool_r_u32(r);
	if (!r->bad && d->nlines > LM_LICENSE_LINES_MAX)
		r->bad = true;
	d->lines = lm_pool_r_take(r, (size_t)d->nlines * LM_POOL_LINE_ENTRY_LEN);
	return r->bad ? -1 : 1;
}

/* The seats a pool issues on day today.  The line that backs a grant is the
 * one in its dates that expires last (the first such line on a tie), so that
 * the signed line a client receives stays valid longest. */
void lm_pool_def_eval(const struct lm_pool_def *d, int32_t today, struct lm_pool_state *st)
{
	uint64_t issued = 0, overdraft_total = 0, named_total = 0;
	int32_t backing_expiry = 0;

	memset(st, 0, sizeof *st);
	st->expiry = LM_DATE_NONE;
	st->next_start = LM_DATE_NONE;
	st->last_expiry = LM_DATE_NONE;
	for (uint32_t i = 0; i < d->nlines; i++) {
		const uint8_t *e = d->lines + (size_t)i * LM_POOL_LINE_ENTRY_LEN;
		uint32_t index = lm_be32_get(e), count = lm_be32_get(e + 4);
		int32_t start = (int32_t)lm_be32_get(e + 8), expiry = (int32_t)lm_be32_get(e + 12);
		uint32_t overdraft = lm_be32_get(e + 16);
		uint8_t named_kind = e[20];
		uint32_t named_max = lm_be32_get(e + 21), dup_group = lm_be32_get(e + 25);

		if (expiry > st->expiry)
			st->expiry = expiry;
		if (start != LM_DATE_NONE && start > today) {
			if (st->next_start == LM_DATE_NONE || start < st->next_start)
				st->next_start = start;
			continue;
		}
		if (expiry < today) {
			if (expiry > st->last_expiry)
				st->last_expiry = expiry;
			continue;
		}
		issued += count;
		overdraft_total += overdraft;
		/* The lines of one pool name users or hosts, not both (the
		 * first line in its dates that names decides). */
		if (named_kind != LM_NAMED_NONE &&
		    (st->named_kind == LM_NAMED_NONE || st->named_kind == named_kind)) {
			st->named_kind = named_kind;
			named_total += named_max;
		}
		if (!st->active || expiry > backing_expiry) {
			st->active = true;
			st->line = index;
			st->dup_group = dup_group;
			backing_expiry = expiry;
		}
	}
	st->issued = issued > UINT32_MAX ? UINT32_MAX : (uint32_t)issued;
	st->overdraft = overdraft_total > UINT32_MAX ? UINT32_MAX : (uint32_t)overdraft_total;
	st->named_max = named_total > UINT32_MAX ? UINT32_MAX : (uint32_t)named_total;
}

/* Reads back each line of a SetLicense (or a snapshot).  Signatures are not
 * checked: the leader verified the file before proposing it.  A line that
 * does not parse leaves a denial in res; LMC_ENOMEM is returned (a local
 * failure, not a result). */
int lm_pool_lines_parse(Lmcmd__Line *const *lines, size_t n, struct lm_pool_parsed_line *out,
                        struct lm_pool_result *res)
{
	char *text = malloc(LM_LINE_MAX + 1);
	if (!text)
		return LMC_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const Lmcmd__Line *l = lines[i];
		struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
		struct lm_parse_error err;
		int ncodes, rc;

		if (!l->has_text || l->text.len == 0 || l->text.len > LM_LINE_MAX ||
		    memchr(l->text.data, 0, l->text.len)) {
			lm_pool_deny(res, LMC_ESYNTAX,
			             "license line %zu is empty, too long or holds a NUL", i);
			break;
		}
		if (l->has_signature && l->signature.len != 0 && l->signature.len != LM_SIG_LEN) {
			lm_pool_deny(res, LMC_EBADSIG,
			             "license line %zu has a signature of %zu bytes", i,
			             l->signature.len);
			break;
		}
		memcpy(text, l->text.data, l->text.len);
		text[l->text.len] = '\0';
		rc = lm_license_parse_canonical(text, &out[i].lic, codes, &ncodes, &err);
		if (rc == LMC_ENOMEM) {
			free(text);
			return rc;
		}
		if (rc) {
			lm_pool_deny(res, rc, "license line %zu: %s", i, err.message);
			break;
		}
		if (lm_pool_version_key(out[i].lic.version, out[i].vkey) != 0) {
			lm_pool_deny(res, LMC_ESYNTAX, "license line %zu: bad version", i);
			break;
		}
		out[i].index = (uint32_t)i;
	}
	free(text);
	return 0;
}

/* Lines of one feature, grouped by pool and in license order within. */
static int cmp_pool_order(const void *a, const void *b)
{
	const struct lm_pool_parsed_line *x = *(const struct lm_pool_parsed_line *const *)a;
	const struct lm_pool_parsed_line *y = *(const struct lm_pool_parsed_line *const *)b;
	int c = strcmp(x->lic.name, y->lic.name);
	if (!c)
		c = memcmp(x->vkey, y->vkey, LM_POOL_VKEY_LEN);
	if (!c)
		c = x->index < y->index ? -1 : x->index > y->index;
	return c;
}

/* Writes the features record of the n lines of one feature, g sorted by
 * cmp_pool_order. */
static int feature_write(struct lm_pool *p, struct lm_pool_parsed_line *const *g, size_t n)
{
	size_t npools = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(g[i]->vkey, g[i - 1]->vkey, LM_POOL_VKEY_LEN) != 0)
			npools++;
	struct lm_pool_wbuf w = {.cap = 2 + npools * (LM_POOL_VKEY_LEN + 1 + LM_VERSION_MAX + 4) +
	                                n * LM_POOL_LINE_ENTRY_LEN};
	w.p = malloc(w.cap);
	if (!w.p)
		return LMC_ENOMEM;
	lm_pool_w_u16(&w, (uint16_t)npools);
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a + 1; b < n && memcmp(g[b]->vkey, g[a]->vkey, LM_POOL_VKEY_LEN) == 0; b++)
			;
		/* The pool is named by its first line's spelling. */
		lm_pool_w_bytes(&w, g[a]->vkey, LM_POOL_VKEY_LEN);
		lm_pool_w_str8(&w, g[a]->lic.version);
		lm_pool_w_u32(&w, (uint32_t)(b - a));
		for (size_t i = a; i < b; i++) {
			lm_pool_w_u32(&w, g[i]->index);
			lm_pool_w_u32(&w, g[i]->lic.count);
			lm_pool_w_u32(&w, (uint32_t)g[i]->lic.start);
			lm_pool_w_u32(&w, (uint32_t)g[i]->lic.expiry);
			lm_pool_w_u32(&w, g[i]->lic.overdraft);
			uint32_t named_max;
			lm_pool_w_u8(&w, (uint8_t)lm_license_named_rule(&g[i]->lic, &named_max));
			lm_pool_w_u32(&w, named_max);
			lm_pool_w_u32(&w, g[i]->lic.dup_group);
		}
	}
	assert(!w.overflow);
	const char *name = g[0]->lic.name;
	int rc = lm_store_put(p->store, LM_DB_FEATURES, name, strlen(name), w.p, w.len);
	free(w.p);
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

/* SUPERSEDE (core/license.h): line i no longer counts when another line of
 * the set supersedes it. */
static bool superseded(const struct lm_pool_parsed_line *pl, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++)
		if (lm_license_supersedes(&pl[j].lic, &pl[i].lic))
			return true;
	return false;
}

/* Replaces the license set.  Handles are left alone: seats held under a
 * line that disappears stay held until checked in (command.proto). */
int lm_pool_lines_write(struct lm_pool *p, Lmcmd__Line *const *lines,
                        struct lm_pool_parsed_line *pl, size_t n)
{
	uint8_t value[2 + LM_SIG_LEN + LM_LINE_MAX], key[4];
	struct lm_pool_parsed_line **order;
	size_t m = 0;
	int rc;

	rc = lm_store_drop(p->store, LM_DB_LINES);
	if (!rc)
		rc = lm_store_drop(p->store, LM_DB_FEATURES);
	if (!rc)
		rc = lm_store_drop(p->store, LM_DB_COMPONENTS);
	if (rc)
		return lm_pool_store_failed(p, rc);
	for (size_t i = 0; i < n; i++) {
		const Lmcmd__Line *l = lines[i];
		size_t siglen = l->has_signature ? l->signature.len : 0;
		value[0] = (uint8_t)siglen;
		if (siglen)
			memcpy(value + 1, l->signature.data, siglen);
		memcpy(value + 1 + siglen, l->text.data, l->text.len);
		lm_be32_put(key, (uint32_t)i);
		rc = lm_store_put(p->store, LM_DB_LINES, key, sizeof key, value,
		                  1 + siglen + l->text.len);
		if (rc)
			return lm_pool_store_failed(p, rc);
	}

	/* Uncounted lines are served by the client alone, and a PACKAGE line
	 * is not a feature: neither forms a pool; nor does a superseded line
	 * (it stays in the lines table, as signed). */
	order = malloc((n ? n : 1) * sizeof *order);
	if (!order)
		return LMC_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (pl[i].lic.type != LM_LINE_PACKAGE && !pl[i].lic.uncounted &&
		    !superseded(pl, n, i))
			order[m++] = &pl[i];
	if (m)
		qsort(order, m, sizeof *order, cmp_pool_order);
	for (size_t a = 0, b; a < m && !rc; a = b) {
		for (b = a + 1; b < m && strcmp(order[b]->lic.name, order[a]->lic.name) == 0; b++)
			;
		rc = feature_write(p, order + a, b - a);
	}
	free(order);
	return rc ? rc : lm_pool_package_write(p, pl, n);
}

int lm_pool_do_set_license(struct lm_pool *p, const Lmcmd__SetLicense *m,
                           struct lm_pool_result *res)
{
	struct lm_pool_parsed_line *pl;
	int rc;

	if (m->n_lines > LM_LICENSE_LINES_MAX) {
		lm_pool_deny(res, LMC_ETOOLARGE, "%zu license lines, at most %d", m->n_lines,
		             LM_LICENSE_LINES_MAX);
		return 0;
	}
	pl = calloc(m->n_lines ? m->n_lines : 1, sizeof *pl);
	if (!pl)
		return LMC_ENOMEM;
	rc = lm_pool_lines_parse(m->lines, m->n_lines, pl, res);
	/* The policy first: an options file that does not parse against the
	 * new lines refuses the whole command, lines included. */
	if (!rc && res->code == 0)
		rc = lm_pool_policy_stage(p, m->has_options_name ? &m->options_name : NULL,
		                          m->has_options_text ? &m->options_text : NULL, pl,
		                          m->n_lines, res);
	if (!rc && res->code == 0) {
		rc = lm_pool_lines_write(p, m->lines, pl, m->n_lines);
		res->count = (uint32_t)m->n_lines;
	}
	free(pl);
	return rc;
}

int lm_pool_line_load(struct lm_pool *p, uint32_t i, char *text, size_t size,
                      uint8_t sig[LM_SIG_LEN])
{
	uint8_t key[4];
	struct lm_val v;
	int rc;

	lm_be32_put(key, i);
	rc = lm_store_get(p->store, LM_DB_LINES, key, sizeof key, &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data)
		return LMC_ENOFEATURE;
	const uint8_t *b = v.data;
	size_t siglen = v.len ? b[0] : 0, textlen;
	if (v.len == 0 || (siglen != 0 && siglen != LM_SIG_LEN) || v.len < 1 + siglen)
		return lm_pool_corrupt("lines");
	if ((textlen = v.len - 1 - siglen) >= size)
		return LMC_ETOOLARGE;
	memcpy(text, b + 1 + siglen, textlen);
	text[textlen] = '\0';
	if (siglen)
		memcpy(sig, b + 1, LM_SIG_LEN);
	else
		memset(sig, 0, LM_SIG_LEN);
	return 0;
}
