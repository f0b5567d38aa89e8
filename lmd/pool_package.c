/* PACKAGE lines: components served from their package's pool.
 *
 *   PACKAGE suite vendor 1.0 COMPONENTS="a b:2.0 c" [OPTIONS=SUITE|SUITE_RESERVED]
 *   FEATURE suite vendor 1.0 permanent 10 [SUITE_DUP_GROUP=UHD] ...
 *
 * The PACKAGE line names no seats: the FEATURE or INCREMENT lines named
 * after the package (its enabling lines) do.  A checkout of component a
 * that no line of its own serves takes seats from the package's pool, of
 * version >= the PACKAGE line's, and is recorded as a handle of a whose
 * package is suite (lmd/pool_record.c charges the package's pool).  A
 * component's version is the one COMPONENTS gives it (b:2.0), else the
 * package's: a checkout asks for a version no newer.
 *
 * Without SUITE every component checkout takes its own seats.  With
 * SUITE, one user (the same user, host and display) holding several
 * components uses one seat: the checkouts share a DUP_GROUP-style group
 * (lmd/pool_share.c) of the package's pool named by the user and the
 * count, so that the group's seats go back with its last handle.  The
 * enabling line's SUITE_DUP_GROUP (FlexLM's duplicate grouping of the
 * suite's parent feature) says which checkouts are "one user": U, H, D, V
 * in any combination, SITE (everyone shares one seat) or NONE (every
 * checkout takes its own); UHD when absent.  The group is named before a
 * pool is chosen, so the component's entry carries it: that of the first
 * enabling line (in file order) of a version the PACKAGE accepts that
 * gives one.
 *
 * OPTIONS=SUITE_RESERVED (FlexLM: once a user checks out one component,
 * every other component is reserved for that user) is a suite whose seat
 * also stands for one seat of each component for its holder.  Under a
 * suite the components have no counts of their own (FlexLM allows a
 * component count only without SUITE): each takes the suite's seats, so
 * the seat a holder keeps already lets them check out every other
 * component, and no one else can take it.  What SUITE_RESERVED adds is
 * that this is said: lmstat lists, under each component, the suite seats
 * holding it reserved for holders not using it (a RESERVATION, counted
 * like the options file's idle reserved seats), and a user refused
 * because every suite seat is held is told the seats reserve the
 * components for their holders.
 *
 * The components table is derived from the lines, like features, so that
 * SetLicense and restore rebuild it and every server has the same bytes. */
#include "lmd/pool.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/license.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"

/* One package that lists a component, decoded from a components record. */
struct component_entry {
	char package[LM_NAME_MAX + 1];
	char package_version[LM_VERSION_MAX + 1];
	char version[LM_VERSION_MAX + 1]; /* the component's */
	bool suite;
	bool reserved;            /* OPTIONS=SUITE_RESERVED */
	unsigned suite_dup_group; /* LM_DUP_*; 0: UHD */
	uint32_t line;            /* the PACKAGE line's index */
};

/* The u8 after the versions: bit 0 suite, bit 1 SUITE_RESERVED, bits 2 to
 * 7 SUITE_DUP_GROUP (its six LM_DUP_* bits; 0 for the default), so that a
 * record written before these options read the same (0 or 1). */
#define ENTRY_SUITE           1u
#define ENTRY_RESERVED        2u
#define ENTRY_DUP_GROUP_SHIFT 2

static void entry_read(struct lm_pool_rbuf *r, struct component_entry *e)
{
	lm_pool_r_str8(r, e->package, sizeof e->package);
	lm_pool_r_str8(r, e->package_version, sizeof e->package_version);
	lm_pool_r_str8(r, e->version, sizeof e->version);
	unsigned flags = lm_pool_r_u8(r);
	e->suite = (flags & ENTRY_SUITE) != 0;
	e->reserved = (flags & ENTRY_RESERVED) != 0;
	e->suite_dup_group = flags >> ENTRY_DUP_GROUP_SHIFT;
	e->line = lm_pool_r_u32(r);
}

/* Appends one entry to component's record (created when absent). */
static int entry_add(struct lm_pool *p, const char *component, const struct component_entry *e)
{
	uint8_t buf[4096];
	struct lm_pool_wbuf w = {.p = buf, .cap = sizeof buf};
	struct lm_val v;
	uint16_t n = 0;
	int rc = lm_store_get(p->store, LM_DB_COMPONENTS, component, strlen(component), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (v.data) {
		if (v.len < 2)
			return lm_pool_corrupt("components");
		n = lm_be16_get(v.data);
		if (n == UINT16_MAX)
			return LMC_ETOOLARGE;
	}
	lm_pool_w_u16(&w, (uint16_t)(n + 1));
	if (v.data)
		lm_pool_w_bytes(&w, (const uint8_t *)v.data + 2, v.len - 2);
	lm_pool_w_str8(&w, e->package);
	lm_pool_w_str8(&w, e->package_version);
	lm_pool_w_str8(&w, e->version);
	lm_pool_w_u8(&w,
	             (uint8_t)((e->suite ? ENTRY_SUITE : 0) | (e->reserved ? ENTRY_RESERVED : 0) |
	                       (e->suite_dup_group << ENTRY_DUP_GROUP_SHIFT)));
	lm_pool_w_u32(&w, e->line);
	if (w.overflow)
		return LMC_ETOOLARGE;
	rc = lm_store_put(p->store, LM_DB_COMPONENTS, component, strlen(component), w.p, w.len);
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

/* The SUITE_DUP_GROUP of package's first enabling line (of a version
 * >= the PACKAGE line's) that gives one, 0 when none does. */
static unsigned suite_dup_group_of(const struct lm_license *package,
                                   const struct lm_pool_parsed_line *pl, size_t n)
{
	uint8_t want[LM_POOL_VKEY_LEN];
	if (lm_pool_version_key(package->version, want) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct lm_license *l = &pl[i].lic;
		if (l->type != LM_LINE_PACKAGE && l->suite_dup_group &&
		    strcmp(l->name, package->name) == 0 &&
		    memcmp(pl[i].vkey, want, LM_POOL_VKEY_LEN) >= 0)
			return l->suite_dup_group;
	}
	return 0;
}

int lm_pool_package_write(struct lm_pool *p, const struct lm_pool_parsed_line *pl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct lm_license *l = &pl[i].lic;
		if (l->type != LM_LINE_PACKAGE)
			continue;
		struct component_entry e = {.suite = l->suite,
		                            .reserved = l->suite_reserved,
		                            .suite_dup_group =
		                                    l->suite ? suite_dup_group_of(l, pl, n) : 0,
		                            .line = pl[i].index};
		memcpy(e.package, l->name, sizeof e.package);
		memcpy(e.package_version, l->version, sizeof e.package_version);
		for (const char *q = l->components; *q;) {
			char component[LM_NAME_MAX + 1];
			size_t item = strcspn(q, " "), name = strcspn(q, " :");
			if (name <= LM_NAME_MAX) {
				memcpy(component, q, name);
				component[name] = '\0';
				if (lm_license_component(l, component, e.version,
				                         sizeof e.version)) {
					int rc = entry_add(p, component, &e);
					if (rc)
						return rc;
				}
			}
			q += item;
			if (*q == ' ')
				q++;
		}
	}
	return 0;
}

/* The suite group of a checkout of count seats by s: one per identity
 * of the suite's SUITE_DUP_GROUP (user, host and display by default; and
 * count, as every handle of a group holds the same seats), kept apart
 * from the groups of the enabling line's DUP_GROUP.  NONE: no group, the
 * checkout takes seats of its own. */
static int suite_name(const struct lm_pool_session *s, uint32_t count, unsigned dup_group,
                      const char *vendor_data, struct lm_pool_suite *suite)
{
	uint8_t user[LM_POOL_SHARE_LEN], cb[4];
	unsigned len = 0;
	if (!dup_group)
		dup_group = LM_DUP_USER | LM_DUP_HOST | LM_DUP_DISPLAY;
	int rc = lm_pool_share_name(dup_group, s, vendor_data, &suite->sharing, user);
	if (rc || !suite->sharing)
		return rc;
	uint8_t *share = suite->share;
	lm_be32_put(cb, count);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	          EVP_DigestUpdate(ctx, "SUITE", 5) && EVP_DigestUpdate(ctx, cb, sizeof cb) &&
	          EVP_DigestUpdate(ctx, user, sizeof user) &&
	          EVP_DigestFinal_ex(ctx, share, &len) && len == LM_POOL_SHARE_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : LMC_ENOMEM;
}

int lm_pool_package_choose(struct lm_pool *p, const struct lm_pool_session *s,
                           struct lm_pool_handle *h, uint32_t count, int32_t today,
                           struct lm_pool_choice *c, struct lm_pool_result *res)
{
	struct lm_val v;
	int rc = lm_store_get(p->store, LM_DB_COMPONENTS, h->feature, strlen(h->feature), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data)
		return 0;
	struct lm_pool_rbuf r = {.p = v.data, .len = v.len};
	uint16_t n = lm_pool_r_u16(&r);
	for (uint16_t i = 0; i < n; i++) {
		struct component_entry e;
		uint8_t want[LM_POOL_VKEY_LEN];
		struct lm_pool_suite suite;
		entry_read(&r, &e);
		if (r.bad || lm_pool_version_key(e.package_version, want) != 0)
			return lm_pool_corrupt("components");
		if (lm_version_compare(h->version, e.version) > 0) {
			lm_pool_deny(res, LMC_EVERSION,
			             "%s %s requested, package %s gives it version %s", h->feature,
			             h->version, e.package, e.version);
			continue;
		}
		if (e.suite &&
		    (rc = suite_name(s, count, e.suite_dup_group, h->vendor_data, &suite)) != 0)
			return rc;
		res->code = 0;
		res->message[0] = '\0';
		memset(c, 0, sizeof *c);
		rc = lm_pool_choose(p, s, e.package, e.package_version, want, count, h->vendor_data,
		                    today, e.suite ? &suite : NULL, c, res);
		if (rc)
			return rc;
		if (res->code == 0) {
			memcpy(h->package, e.package, sizeof h->package);
			c->has_package = true;
			c->package_line = e.line;
			return 0;
		}
		if (res->code == LMC_ENOSEATS && e.reserved) {
			size_t o = strlen(res->message);
			snprintf(res->message + o, sizeof res->message - o,
			         "; package %s is SUITE_RESERVED: each suite seat reserves %s "
			         "and every other component for its holder",
			         e.package, h->feature);
		}
		if (res->code == LMC_ENOFEATURE)
			lm_pool_deny(res, LMC_ENOFEATURE,
			             "component %s of package %s: no counted FEATURE or INCREMENT "
			             "line %s enables the package on this server",
			             h->feature, e.package, e.package);
	}
	return 0;
}

/* The PACKAGE line that gave handle's component, for a retry answered
 * again: the session keeps only the enabling line. */
static int package_of_handle(struct lm_pool *p, struct lm_pool_result *res)
{
	struct lm_pool_handle h;
	struct lm_val v;
	bool found;
	int rc = lm_pool_handle_load(p, res->handle, &h, &found);
	if (rc || !found || !h.package[0])
		return rc;
	rc = lm_store_get(p->store, LM_DB_COMPONENTS, h.feature, strlen(h.feature), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data)
		return 0;
	struct lm_pool_rbuf r = {.p = v.data, .len = v.len};
	uint16_t n = lm_pool_r_u16(&r);
	for (uint16_t i = 0; i < n; i++) {
		struct component_entry e;
		entry_read(&r, &e);
		if (r.bad)
			return lm_pool_corrupt("components");
		if (strcmp(e.package, h.package) == 0) {
			res->has_package = true;
			res->package_line = e.line;
			return 0;
		}
	}
	return 0;
}

int lm_pool_package_granted(struct lm_pool *p, struct lm_pool_result *res)
{
	res->package_text[0] = '\0';
	if (res->code != 0 || !res->license_text[0])
		return 0;
	if (!res->has_package) {
		/* Ordinary checkouts end here. */
		if (!res->replayed)
			return 0;
		int rc = package_of_handle(p, res);
		if (rc || !res->has_package)
			return rc;
	}
	int rc = lm_pool_line_load(p, res->package_line, res->package_text,
	                           sizeof res->package_text, res->package_sig);
	if (rc == LMC_ENOFEATURE) {
		res->package_text[0] = '\0';
		rc = 0;
	}
	return rc;
}

/* lmstat: each component, from the first pool of its package's enabling
 * lines of a version the PACKAGE line accepts. */
struct component_walk {
	struct lm_pool *p;
	struct component_item {
		char name[LM_NAME_MAX + 1];
		struct component_entry e;
	} * v;
	size_t n, cap;
	bool corrupt, nomem;
};

static int gather_component(void *arg, struct lm_val key, struct lm_val val)
{
	struct component_walk *w = arg;
	struct lm_pool_rbuf r = {.p = val.data, .len = val.len};
	if (key.len == 0 || key.len > LM_NAME_MAX || memchr(key.data, 0, key.len)) {
		w->corrupt = true;
		return 1;
	}
	uint16_t n = lm_pool_r_u16(&r);
	for (uint16_t i = 0; i < n; i++) {
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 8;
			struct component_item *v = realloc(w->v, cap * sizeof *v);
			if (!v) {
				w->nomem = true;
				return 1;
			}
			w->v = v;
			w->cap = cap;
		}
		struct component_item *it = &w->v[w->n];
		memcpy(it->name, key.data, key.len);
		it->name[key.len] = '\0';
		entry_read(&r, &it->e);
		if (r.bad) {
			w->corrupt = true;
			return 1;
		}
		w->n++;
	}
	return 0;
}

/* The handles of one pool that are checkouts of one component. */
struct component_holders {
	struct lm_pool *p;
	const char *component;
	size_t plen;
	uint64_t seats;
	int (*fn)(void *arg, const struct lm_pool_handle *h, const struct lm_pool_session *s);
	void *arg;
	bool corrupt;
};

static int component_holder(void *arg, struct lm_val key, struct lm_val val)
{
	struct component_holders *ch = arg;
	struct lm_pool_handle h;
	struct lm_pool_session_rec s;
	bool found;
	(void)val;
	if (key.len != ch->plen + 8 ||
	    lm_pool_handle_load(ch->p, lm_be64_get((const uint8_t *)key.data + ch->plen), &h,
	                        &found) != 0 ||
	    !found) {
		ch->corrupt = true;
		return 1;
	}
	if (strcmp(h.feature, ch->component) != 0 || !h.package[0])
		return 0;
	ch->seats += h.count;
	if (!ch->fn)
		return 0;
	uint32_t seats;
	if ((h.has_share &&
	     lm_pool_share_seats(ch->p, key.data, ch->plen, h.share, &seats, &h.sharers) != 0) ||
	    lm_pool_session_load(ch->p, h.session_id, &s, &found) != 0 || !found) {
		ch->corrupt = true;
		return 1;
	}
	return ch->fn(ch->arg, &h, &s.pub);
}

/* SUITE_RESERVED: the suite seats of a package's pool (a sharing group,
 * or a handle of its own under SUITE_DUP_GROUP=NONE), each with whether
 * it holds the component. */
struct suite_seats {
	struct lm_pool *p;
	const char *component, *package;
	size_t plen;
	struct suite_seat {
		bool has_share;
		uint8_t share[LM_POOL_SHARE_LEN];
		uint64_t first; /* its first handle */
		uint32_t count;
		bool holds;
	} * v;
	size_t n, cap;
	bool corrupt, nomem;
};

static int gather_suite_seat(void *arg, struct lm_val key, struct lm_val val)
{
	struct suite_seats *ss = arg;
	struct lm_pool_handle h;
	bool found;
	(void)val;
	if (key.len != ss->plen + 8 ||
	    lm_pool_handle_load(ss->p, lm_be64_get((const uint8_t *)key.data + ss->plen), &h,
	                        &found) != 0 ||
	    !found) {
		ss->corrupt = true;
		return 1;
	}
	if (strcmp(h.package, ss->package) != 0)
		return 0;
	struct suite_seat *seat = NULL;
	for (size_t i = 0; h.has_share && i < ss->n && !seat; i++)
		if (ss->v[i].has_share && memcmp(ss->v[i].share, h.share, LM_POOL_SHARE_LEN) == 0)
			seat = &ss->v[i];
	if (!seat) {
		if (ss->n == ss->cap) {
			size_t cap = ss->cap ? ss->cap * 2 : 8;
			struct suite_seat *v = realloc(ss->v, cap * sizeof *v);
			if (!v) {
				ss->nomem = true;
				return 1;
			}
			ss->v = v;
			ss->cap = cap;
		}
		seat = &ss->v[ss->n++];
		*seat = (struct suite_seat){
		        .has_share = h.has_share, .first = h.handle, .count = h.count};
		memcpy(seat->share, h.share, LM_POOL_SHARE_LEN);
	}
	seat->holds |= strcmp(h.feature, ss->component) == 0;
	return 0;
}

/* The suite seats reserving a component of a SUITE_RESERVED package for
 * holders without a checkout of it: their seats in f->suite_reserved, and
 * each passed to holder_fn (when non-NULL) as its first handle. */
static int suite_reservations(struct lm_pool *p, const uint8_t *pkey, size_t plen,
                              struct lm_pool_feature *f,
                              int (*holder_fn)(void *arg, const struct lm_pool_handle *h,
                                               const struct lm_pool_session *s),
                              void *arg, bool report)
{
	struct suite_seats ss = {.p = p, .component = f->name, .package = f->package, .plen = plen};
	int rc = lm_store_scan(p->store, LM_DB_BY_POOL, pkey, plen, gather_suite_seat, &ss);
	if (ss.corrupt || ss.nomem || rc < 0) {
		rc = ss.corrupt ? lm_pool_corrupt("by_pool")
		     : ss.nomem ? LMC_ENOMEM
		                : lm_pool_store_failed(p, rc);
		goto out;
	}
	rc = 0;
	uint64_t seats = 0;
	for (size_t i = 0; i < ss.n && !rc; i++) {
		if (ss.v[i].holds)
			continue;
		seats += ss.v[i].count;
		if (!report || !holder_fn)
			continue;
		struct lm_pool_handle h;
		struct lm_pool_session_rec s;
		bool found, session_found;
		rc = lm_pool_handle_load(p, ss.v[i].first, &h, &found);
		if (!rc && found)
			rc = lm_pool_session_load(p, h.session_id, &s, &session_found);
		if (rc)
			break;
		if (!found || !session_found) {
			rc = lm_pool_corrupt("by_pool");
			break;
		}
		memcpy(h.feature, f->name, sizeof h.feature);
		h.suite_reservation = true;
		h.sharers = 0;
		rc = holder_fn(arg, &h, &s.pub);
	}
	f->suite_reserved = seats > UINT32_MAX ? UINT32_MAX : (uint32_t)seats;
out:
	free(ss.v);
	return rc;
}

/* One component's entry: 0, 1 when its package has no enabling pool, or a
 * failure. */
static int component_pool(struct lm_pool *p, int32_t today, const struct component_item *it,
                          struct lm_pool_feature *f, uint8_t pkey[LM_POOL_KEY_MAX], size_t *plen)
{
	uint8_t want[LM_POOL_VKEY_LEN];
	struct lm_pool_def d;
	struct lm_pool_state st;
	struct lm_val v;
	int more;
	int rc = lm_store_get(p->store, LM_DB_FEATURES, it->e.package, strlen(it->e.package), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data)
		return 1;
	if (lm_pool_version_key(it->e.package_version, want) != 0)
		return lm_pool_corrupt("components");
	struct lm_pool_rbuf r = {.p = v.data, .len = v.len};
	lm_pool_r_u16(&r);
	while ((more = lm_pool_def_next(&r, &d)) == 1) {
		if (memcmp(d.vkey, want, LM_POOL_VKEY_LEN) < 0)
			continue;
		lm_pool_def_eval(&d, today, &st);
		memset(f, 0, sizeof *f);
		memcpy(f->name, it->name, sizeof f->name);
		memcpy(f->version, it->e.version, sizeof f->version);
		memcpy(f->package, it->e.package, sizeof f->package);
		f->issued = st.issued;
		f->expiry = st.expiry;
		*plen = lm_pool_key(pkey, it->e.package, d.vkey);
		return 0;
	}
	return more < 0 ? lm_pool_corrupt("features") : 1;
}

int lm_pool_each_component(struct lm_pool *p, int32_t today,
                           int (*fn)(void *arg, const struct lm_pool_feature *f),
                           int (*holder_fn)(void *arg, const struct lm_pool_handle *h,
                                            const struct lm_pool_session *s),
                           void *arg)
{
	struct component_walk w = {.p = p};
	int rc = lm_store_read_begin(p->store);
	if (rc)
		return lm_pool_store_failed(p, rc);
	rc = lm_store_scan(p->store, LM_DB_COMPONENTS, NULL, 0, gather_component, &w);
	if (w.corrupt || w.nomem || rc) {
		rc = w.corrupt ? lm_pool_corrupt("components")
		     : w.nomem ? LMC_ENOMEM
		               : lm_pool_store_failed(p, rc);
		goto out;
	}
	for (size_t i = 0; i < w.n && !rc; i++) {
		struct lm_pool_feature f;
		uint8_t pkey[LM_POOL_KEY_MAX];
		size_t plen = 0;
		rc = component_pool(p, today, &w.v[i], &f, pkey, &plen);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		struct component_holders ch = {.p = p, .component = f.name, .plen = plen};
		rc = lm_store_scan(p->store, LM_DB_BY_POOL, pkey, plen, component_holder, &ch);
		if (ch.corrupt || rc < 0) {
			rc = ch.corrupt ? lm_pool_corrupt("by_pool") : lm_pool_store_failed(p, rc);
			break;
		}
		f.in_use = ch.seats > UINT32_MAX ? UINT32_MAX : (uint32_t)ch.seats;
		if (w.v[i].e.reserved &&
		    (rc = suite_reservations(p, pkey, plen, &f, NULL, NULL, false)) != 0)
			break;
		rc = fn(arg, &f);
		if (!rc && holder_fn) {
			ch.fn = holder_fn;
			ch.arg = arg;
			ch.seats = 0;
			rc = lm_store_scan(p->store, LM_DB_BY_POOL, pkey, plen, component_holder,
			                   &ch);
			if (ch.corrupt)
				rc = lm_pool_corrupt("by_pool");
			else if (rc < 0)
				rc = lm_pool_store_failed(p, rc);
			if (!rc && w.v[i].e.reserved)
				rc = suite_reservations(p, pkey, plen, &f, holder_fn, arg, true);
		}
	}
out:
	lm_store_read_end(p->store);
	free(w.v);
	return rc;
}
