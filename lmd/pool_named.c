/* Named users and hosts: USER_BASED[=n] and lmd's NAMED_USERS=n (users),
 * HOST_BASED[=n] (hosts).
 *
 * At most n people (hosts) may use such a feature.  The names are a list in
 * the replicated store (table `named`, pool_internal.h), one list per
 * feature whatever its versions, changed only by committed commands:
 *
 *   - Checkout, once a pool is chosen: a name on the list passes, however
 *     many hosts and processes it runs (it is listed once); a name not on
 *     it is added when the list holds fewer names than the pool's lines
 *     allow (the sum of their n, lines in their dates), and refused
 *     otherwise (LMC_EDENIED, naming the list).  Each checkout still takes
 *     seats of the count as on any line: the list limits who, the count
 *     how many at once.
 *   - When the options file INCLUDEs users (hosts) for the feature, FlexLM's
 *     way, only those may use it at all (the policy refuses the others
 *     before this file is asked), and the options parser refuses a file
 *     that includes more than n (lm_opt_check_named); the list then fills
 *     with the included names as they first check out.  Without INCLUDE
 *     lines it fills first come, first served (lmd's extension).
 *   - RemoveNamed: an administrator takes a name off the list, only once
 *     RemoveNamed.hold_us (lmd --named-user-hold, stamped by the leader
 *     that proposed it) has passed since it was added, so that seats cannot
 *     be rotated among more people than the vendor sold them to, and only
 *     while the name holds no seat of the feature.  Editing the options
 *     file takes nobody off the list either: a name must wait out its hold.
 *
 * Everything is a function of the store and the command (Command.time_us is
 * the only clock): every server of a triad keeps the same list. */
#include "lmd/pool.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"
#include "proto/envelope.h"

#define NAMED_RECORD_LEN 9 /* u8 kind, i64 added_us */
#define NAMED_KEY_MAX    (LM_NAME_MAX + 1 + LM_POOL_NAMED_NAME_MAX)

/* The names the denial of a full list shows, before "...". */
#define NAMED_SHOWN_MAX 10

static size_t named_key(uint8_t out[NAMED_KEY_MAX], const char *feature, const char *name)
{
	size_t f = strlen(feature), n = strlen(name);
	memcpy(out, feature, f);
	out[f] = 0;
	memcpy(out + f + 1, name, n);
	return f + 1 + n;
}

const char *lm_pool_named_kind_name(uint8_t kind, bool plural)
{
	if (kind == LM_NAMED_HOSTS)
		return plural ? "hosts" : "host";
	return plural ? "users" : "user";
}

/* "2026-12-01 19:40 UTC": the same text on every server. */
static void format_utc(int64_t us, char *buf, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "%lld s after 1970 (UTC)", (long long)t);
}

static int named_decode(struct lm_val key, struct lm_val val, struct lm_pool_named *out)
{
	const uint8_t *k = key.data, *zero = memchr(key.data, 0, key.len);
	if (!zero || val.len != NAMED_RECORD_LEN)
		return -1;
	size_t f = (size_t)(zero - k), n = key.len - f - 1;
	if (f == 0 || f > LM_NAME_MAX || n == 0 || n > LM_POOL_NAMED_NAME_MAX ||
	    memchr(zero + 1, 0, n))
		return -1;
	memcpy(out->feature, k, f);
	out->feature[f] = '\0';
	memcpy(out->name, zero + 1, n);
	out->name[n] = '\0';
	out->kind = ((const uint8_t *)val.data)[0];
	out->added_us = (int64_t)lm_be64_get((const uint8_t *)val.data + 1);
	if (out->kind != LM_NAMED_USERS && out->kind != LM_NAMED_HOSTS)
		return -1;
	return 0;
}

static int named_put(struct lm_pool *p, const struct lm_pool_named *nm)
{
	uint8_t key[NAMED_KEY_MAX], val[NAMED_RECORD_LEN];
	val[0] = nm->kind;
	lm_be64_put(val + 1, (uint64_t)nm->added_us);
	int rc = lm_store_put(p->store, LM_DB_NAMED, key, named_key(key, nm->feature, nm->name),
	                      val, sizeof val);
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

/* The list of one feature, walked in name order. */
struct walk {
	int (*fn)(void *arg, const struct lm_pool_named *n);
	void *arg;
	bool corrupt;
};

static int walk_one(void *arg, struct lm_val key, struct lm_val val)
{
	struct walk *w = arg;
	struct lm_pool_named nm;
	if (named_decode(key, val, &nm) != 0) {
		w->corrupt = true;
		return 1;
	}
	return w->fn(w->arg, &nm);
}

/* Inside the caller's transaction. */
static int walk(struct lm_pool *p, const char *feature,
                int (*fn)(void *arg, const struct lm_pool_named *n), void *arg)
{
	struct walk w = {.fn = fn, .arg = arg};
	uint8_t prefix[LM_NAME_MAX + 1];
	size_t plen = 0;
	if (feature) {
		plen = strlen(feature) + 1;
		memcpy(prefix, feature, plen); /* with its 0 */
	}
	int rc = lm_store_scan(p->store, LM_DB_NAMED, feature ? prefix : NULL, plen, walk_one, &w);
	if (w.corrupt)
		return lm_pool_corrupt("named");
	if (rc < 0)
		return lm_pool_store_failed(p, rc);
	return rc;
}

/* The names already listed, for the denial of a full list. */
struct listing {
	uint32_t n;
	bool cut;
	char text[120];
};

static int list_one(void *arg, const struct lm_pool_named *nm)
{
	struct listing *l = arg;
	size_t used = strlen(l->text);
	if (!l->cut && l->n < NAMED_SHOWN_MAX && used + strlen(nm->name) + 8 < sizeof l->text) {
		snprintf(l->text + used, sizeof l->text - used, "%s%s", l->n ? ", " : "", nm->name);
	} else if (!l->cut) {
		snprintf(l->text + used, sizeof l->text - used, ", ...");
		l->cut = true;
	}
	l->n++;
	return 0;
}

int lm_pool_named_admit(struct lm_pool *p, int64_t now, const struct lm_pool_session *s,
                        const char *feature, uint8_t kind, uint32_t max, struct lm_pool_result *res)
{
	struct lm_pool_named nm = {.kind = kind, .added_us = now};
	uint8_t key[NAMED_KEY_MAX];
	struct lm_val v;
	const char *who = kind == LM_NAMED_HOSTS ? s->host : s->user;
	int rc;

	if (kind == LM_NAMED_NONE)
		return 0;
	if (!who[0] || strlen(who) > LM_POOL_NAMED_NAME_MAX) {
		lm_pool_deny(res, LMC_EDENIED,
		             "%s is limited to named %s, and this client sent no %s", feature,
		             lm_pool_named_kind_name(kind, true),
		             kind == LM_NAMED_HOSTS ? "host name" : "user name");
		return 0;
	}
	snprintf(nm.feature, sizeof nm.feature, "%s", feature);
	snprintf(nm.name, sizeof nm.name, "%s", who);
	rc = lm_store_get(p->store, LM_DB_NAMED, key, named_key(key, feature, who), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (v.data)
		return 0;

	struct listing l = {0};
	rc = walk(p, feature, list_one, &l);
	if (rc)
		return rc;
	if (l.n >= max) {
		lm_pool_deny(res, LMC_EDENIED,
		             "%s: all %u named %s assigned (%s); %s %s is not one of them, and an "
		             "administrator can remove a name once its hold has passed "
		             "(lmutil named-user list %s)",
		             feature, max, lm_pool_named_kind_name(kind, true), l.text,
		             lm_pool_named_kind_name(kind, false), who, feature);
		return 0;
	}
	return named_put(p, &nm);
}

/* Does the session of a holding belong to name (a user or a host)? */
static bool holds_as(const struct lm_pool_holding *h, uint8_t kind, const char *name)
{
	return strcmp(kind == LM_NAMED_HOSTS ? h->holder.host : h->holder.user, name) == 0;
}

int lm_pool_do_remove_named(struct lm_pool *p, int64_t now, const Lmcmd__RemoveNamed *m,
                            struct lm_pool_result *res)
{
	struct lm_pool_named nm;
	uint8_t key[NAMED_KEY_MAX];
	struct lm_val v;
	char added[40], from[40];
	int rc;

	if (!m->has_feature || m->feature.len == 0 ||
	    lm_bytes_opt_to_cstr(1, &m->feature, nm.feature, sizeof nm.feature) != 0 ||
	    !m->has_name || m->name.len == 0 ||
	    lm_bytes_opt_to_cstr(1, &m->name, nm.name, sizeof nm.name) != 0 || !m->has_hold_us ||
	    m->hold_us < 0) {
		lm_pool_deny(res, LMC_EINVAL, "RemoveNamed without a valid feature, name or hold");
		return 0;
	}
	size_t klen = named_key(key, nm.feature, nm.name);
	rc = lm_store_get(p->store, LM_DB_NAMED, key, klen, &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data) {
		lm_pool_deny(res, LMC_EINVAL, "%s is not a named user or host of %s", nm.name,
		             nm.feature);
		return 0;
	}
	if (named_decode((struct lm_val){.data = key, .len = klen}, v, &nm) != 0)
		return lm_pool_corrupt("named");
	format_utc(nm.added_us, added, sizeof added);
	if (now - nm.added_us < m->hold_us) {
		format_utc(nm.added_us + m->hold_us, from, sizeof from);
		lm_pool_deny(res, LMC_EDENIED,
		             "%s %s was named for %s on %s; it can be removed from %s (lmd "
		             "--named-user-hold %llds), so that seats are not passed around",
		             lm_pool_named_kind_name(nm.kind, false), nm.name, nm.feature, added,
		             from, (long long)(m->hold_us / 1000000));
		return 0;
	}

	/* A name in use stays: the list never shows fewer names than use
	 * the feature. */
	struct lm_pool_holdings scratch = {0};
	const struct lm_pool_holdings *hs;
	uint64_t held = 0;
	rc = lm_pool_holdings_get(p, nm.feature, &scratch, &hs);
	if (rc)
		return rc;
	for (size_t i = 0; i < hs->n; i++)
		if (holds_as(hs->items[i], nm.kind, nm.name))
			held += hs->items[i]->count;
	lm_pool_holdings_free_scratch(&scratch);
	if (held) {
		lm_pool_deny(res, LMC_EDENIED,
		             "%s %s holds %llu seat%s of %s; the name can be removed once they "
		             "are returned (lmutil lmremove can take them back)",
		             lm_pool_named_kind_name(nm.kind, false), nm.name,
		             (unsigned long long)held, held == 1 ? "" : "s", nm.feature);
		return 0;
	}
	rc = lm_store_del(p->store, LM_DB_NAMED, key, klen, NULL);
	if (rc)
		return lm_pool_store_failed(p, rc);
	res->count = 1;
	snprintf(res->message, sizeof res->message,
	         "removed %s %.64s (named on %s) from the named %s of %.64s",
	         lm_pool_named_kind_name(nm.kind, false), nm.name, added,
	         lm_pool_named_kind_name(nm.kind, true), nm.feature);
	return 0;
}

/* ---- queries and snapshots ---- */

int lm_pool_each_named(struct lm_pool *p, const char *feature,
                       int (*fn)(void *arg, const struct lm_pool_named *n), void *arg)
{
	int rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = walk(p, feature, fn, arg);
	lm_store_read_end(p->store);
	return rc < 0 ? rc : 0;
}

int lm_pool_named_walk(struct lm_pool *p, int (*fn)(void *arg, const struct lm_pool_named *n),
                       void *arg)
{
	return walk(p, NULL, fn, arg);
}

int lm_pool_named_restore(struct lm_pool *p, Lmcmd__PoolNamed *const *named, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const Lmcmd__PoolNamed *pn = named[i];
		struct lm_pool_named nm;
		if (!pn->has_feature || pn->feature.len == 0 || !pn->has_name ||
		    pn->name.len == 0 ||
		    lm_bytes_opt_to_cstr(1, &pn->feature, nm.feature, sizeof nm.feature) != 0 ||
		    lm_bytes_opt_to_cstr(1, &pn->name, nm.name, sizeof nm.name) != 0 ||
		    !pn->has_kind || (pn->kind != LM_NAMED_USERS && pn->kind != LM_NAMED_HOSTS) ||
		    !pn->has_added_us)
			return LMC_EPROTO;
		nm.kind = (uint8_t)pn->kind;
		nm.added_us = pn->added_us;
		int rc = named_put(p, &nm);
		if (rc)
			return rc;
	}
	return 0;
}
