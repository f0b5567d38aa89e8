/* The seats held per feature, kept in memory for the policy (RESERVE and
 * MAX read who holds what on every checkout of their feature).  Reading
 * them from the store took a handle and a session record per seat held, so
 * a checkout of a busy reserved feature cost as much as its holders were
 * many; the copy here is read in place.
 *
 * A feature's copy is made from the store the first time the policy asks,
 * and then follows every charge and release.  Changes made inside a
 * transaction wait in a list and reach the copies only when it commits
 * (lm_pool_holdings_settle), so an aborted apply leaves them as the store
 * is.  A copy is only ever made from committed state: not in a transaction
 * that already changed seats.  Whatever cannot be followed (no memory)
 * drops every copy, and the next checkout reads the store again. */
#include "lmd/pool.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"

struct lm_pool_holdings_change {
	bool charge;
	char feature[LM_NAME_MAX + 1];
	struct lm_pool_holding *item; /* charge: the new seat, owned until settled */
	uint64_t handle;              /* release */
};

static struct lm_pool_holdings *find(const struct lm_pool *p, const char *feature)
{
	for (size_t i = 0; i < p->nholdings; i++)
		if (strcmp(p->holdings[i].feature, feature) == 0)
			return &p->holdings[i];
	return NULL;
}

static void free_items(struct lm_pool_holdings *hs)
{
	for (size_t i = 0; i < hs->n; i++)
		free(hs->items[i]);
	free(hs->items);
	hs->items = NULL;
	hs->n = hs->cap = 0;
}

static void forget_pending(struct lm_pool *p)
{
	for (size_t i = 0; i < p->npending; i++)
		free(p->holdings_pending[i].item);
	p->npending = 0;
}

void lm_pool_holdings_clear(struct lm_pool *p)
{
	for (size_t i = 0; i < p->nholdings; i++)
		free_items(&p->holdings[i]);
	free(p->holdings);
	forget_pending(p);
	p->holdings = NULL;
	p->nholdings = 0;
	free(p->holdings_pending);
	p->holdings_pending = NULL;
	p->npending = p->cappending = 0;
	p->holdings_touched = p->holdings_broken = false;
}

/* Takes it (malloc'd) into hs; false, it untouched, without memory. */
static bool push_item(struct lm_pool_holdings *hs, struct lm_pool_holding *it)
{
	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 16;
		struct lm_pool_holding **more = realloc(hs->items, cap * sizeof *more);
		if (!more)
			return false;
		hs->items = more;
		hs->cap = cap;
	}
	hs->items[hs->n++] = it;
	return true;
}

/* Records a change for the commit; item (a charge's new seat) is taken,
 * or freed when it cannot be recorded. */
static void push_pending(struct lm_pool *p, bool charge, const char *feature,
                         struct lm_pool_holding *item, uint64_t handle)
{
	if (p->npending == p->cappending) {
		size_t cap = p->cappending ? p->cappending * 2 : 8;
		struct lm_pool_holdings_change *more =
		        realloc(p->holdings_pending, cap * sizeof *more);
		if (!more) {
			free(item);
			p->holdings_broken = true;
			return;
		}
		p->holdings_pending = more;
		p->cappending = cap;
	}
	struct lm_pool_holdings_change *pd = &p->holdings_pending[p->npending++];
	pd->charge = charge;
	snprintf(pd->feature, sizeof pd->feature, "%s", feature);
	pd->item = item;
	pd->handle = handle;
}

void lm_pool_holdings_note_charge(struct lm_pool *p, const struct lm_pool_handle *h)
{
	p->holdings_touched = true;
	if (!find(p, h->feature))
		return;
	struct lm_pool_session_rec s;
	bool found;
	struct lm_pool_holding *it = malloc(sizeof *it);
	if (!it || lm_pool_session_load(p, h->session_id, &s, &found) != 0 || !found) {
		free(it);
		p->holdings_broken = true;
		return;
	}
	*it = (struct lm_pool_holding){.handle = h->handle, .count = h->count, .holder = s.pub};
	memcpy(it->version, h->pool_version, sizeof it->version);
	push_pending(p, true, h->feature, it, h->handle);
}

void lm_pool_holdings_note_release(struct lm_pool *p, const struct lm_pool_handle *h)
{
	p->holdings_touched = true;
	if (!find(p, h->feature))
		return;
	push_pending(p, false, h->feature, NULL, h->handle);
}

static int by_handle(const void *a, const void *b)
{
	uint64_t x = (*(struct lm_pool_holding *const *)a)->handle;
	uint64_t y = (*(struct lm_pool_holding *const *)b)->handle;
	return x < y ? -1 : x > y;
}

/* Moves a committed change into its copy (the item of a charge with it). */
static bool apply_pending(struct lm_pool *p, struct lm_pool_holdings_change *pd)
{
	struct lm_pool_holdings *hs = find(p, pd->feature);
	if (!hs)
		return true;
	if (pd->charge) {
		/* Handles only grow, so a new one goes last and the copy
		 * stays in handle order. */
		if (hs->n && hs->items[hs->n - 1]->handle > pd->item->handle)
			return false;
		if (!push_item(hs, pd->item))
			return false;
		pd->item = NULL;
		return true;
	}
	struct lm_pool_holding key = {.handle = pd->handle}, *kp = &key;
	struct lm_pool_holding **at = bsearch(&kp, hs->items, hs->n, sizeof *hs->items, by_handle);
	if (!at)
		return false; /* the copy disagrees with the store: start again */
	free(*at);
	size_t i = (size_t)(at - hs->items);
	memmove(at, at + 1, (hs->n - i - 1) * sizeof *at);
	hs->n--;
	return true;
}

void lm_pool_holdings_settle(struct lm_pool *p, bool committed)
{
	bool ok = !p->holdings_broken;
	for (size_t i = 0; committed && ok && i < p->npending; i++)
		ok = apply_pending(p, &p->holdings_pending[i]);
	if (!ok) {
		lm_pool_holdings_clear(p);
		return;
	}
	forget_pending(p);
	p->holdings_touched = false;
}

/* ---- Reading the store once ---------------------------------------------- */

struct scan {
	struct lm_pool_holdings *hs;
	bool corrupt, nomem;
};

static int collect(void *arg, struct lm_val key, struct lm_val val)
{
	(void)val;
	struct scan *sc = arg;
	if (key.len < 8) {
		sc->corrupt = true;
		return 1;
	}
	struct lm_pool_holding *it = calloc(1, sizeof *it);
	if (!it || !push_item(sc->hs, it)) {
		free(it);
		sc->nomem = true;
		return 1;
	}
	it->handle = lm_be64_get((const uint8_t *)key.data + key.len - 8);
	return 0;
}

/* The seats of feature held now, in handle order, each with its holder.
 * The by_pool keys of a feature's pools all start with its name and a 0
 * byte (pool_internal.h). */
static int read_store(struct lm_pool *p, const char *feature, struct lm_pool_holdings *hs)
{
	uint8_t prefix[LM_NAME_MAX + 1];
	size_t plen = strlen(feature);
	memcpy(prefix, feature, plen);
	prefix[plen++] = 0;
	struct scan sc = {.hs = hs};
	int rc = lm_store_scan(p->store, LM_DB_BY_POOL, prefix, plen, collect, &sc);
	if (sc.corrupt)
		return lm_pool_corrupt("by_pool");
	if (sc.nomem)
		return LMC_ENOMEM;
	if (rc)
		return rc < 0 ? lm_pool_store_failed(p, rc) : rc;
	if (hs->n > 1)
		qsort(hs->items, hs->n, sizeof *hs->items, by_handle);
	for (size_t i = 0; i < hs->n; i++) {
		struct lm_pool_holding *it = hs->items[i];
		struct lm_pool_handle h;
		struct lm_pool_session_rec s;
		bool found;
		rc = lm_pool_handle_load(p, it->handle, &h, &found);
		if (!rc && !found)
			rc = lm_pool_corrupt("by_pool");
		if (!rc)
			rc = lm_pool_session_load(p, h.session_id, &s, &found);
		if (!rc && !found)
			rc = lm_pool_corrupt("handles");
		if (rc)
			return rc;
		it->holder = s.pub;
		it->count = h.count;
		memcpy(it->version, h.pool_version, sizeof it->version);
	}
	return 0;
}

void lm_pool_holdings_free_scratch(struct lm_pool_holdings *scratch)
{
	free_items(scratch);
}

int lm_pool_holdings_get(struct lm_pool *p, const char *feature, struct lm_pool_holdings *scratch,
                         const struct lm_pool_holdings **out)
{
	const struct lm_pool_holdings *known = find(p, feature);
	if (known && !p->holdings_broken) {
		*out = known;
		return 0;
	}
	/* Seats changed earlier in this transaction (or the copies broke):
	 * what the store says now may yet be rolled back, so it is read into
	 * scratch, for this decision only. */
	if (p->holdings_touched || p->holdings_broken) {
		memset(scratch, 0, sizeof *scratch);
		snprintf(scratch->feature, sizeof scratch->feature, "%s", feature);
		*out = scratch;
		return read_store(p, feature, scratch);
	}
	struct lm_pool_holdings fresh = {0};
	snprintf(fresh.feature, sizeof fresh.feature, "%s", feature);
	int rc = read_store(p, feature, &fresh);
	struct lm_pool_holdings *more =
	        rc ? NULL : realloc(p->holdings, (p->nholdings + 1) * sizeof *more);
	if (!more) {
		/* Served from scratch all the same, just not kept (the caller
		 * frees it with lm_pool_holdings_free_scratch). */
		*scratch = fresh;
		*out = scratch;
		return rc;
	}
	p->holdings = more;
	p->holdings[p->nholdings] = fresh;
	*out = &p->holdings[p->nholdings++];
	return 0;
}
