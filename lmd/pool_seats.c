/* The commands that move seats: OpenSession and CloseSession, Checkout,
 * Checkin and RemoveHandle.  lmd/pool.h states the rules of seat accounting
 * and of idempotent requests that they implement. */
#include "lmd/pool.h"

#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "core/license.h"
#include "core/vendor_data.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"
#include "proto/command.pb-c.h"
#include "proto/envelope.h"

#define DAY_US INT64_C(86400000000)

/* Days since 1970 of a time in microseconds, rounding down also before
 * 1970, kept clear of the two sentinel dates. */
static int32_t day_of(int64_t us)
{
	int64_t d = us / DAY_US;
	if (us % DAY_US < 0)
		d--;
	if (d <= INT32_MIN)
		return INT32_MIN + 1;
	if (d >= INT32_MAX)
		return INT32_MAX - 1;
	return (int32_t)d;
}

/* A session from its OpenSession (also the identity in a snapshot). */
bool lm_pool_identity_copy(const Lmcmd__OpenSession *m, struct lm_pool_session_rec *s)
{
	memset(s, 0, sizeof *s);
	if (!m->has_session_id || m->session_id == 0)
		return false;
	s->pub.id = m->session_id;
	if (m->has_secret_digest) {
		if (m->secret_digest.len != sizeof s->pub.secret_digest)
			return false;
		memcpy(s->pub.secret_digest, m->secret_digest.data, sizeof s->pub.secret_digest);
	}
	s->pub.pid = m->has_pid ? m->pid : 0;
	return lm_bytes_opt_to_cstr(m->has_user, &m->user, s->pub.user, sizeof s->pub.user) == 0 &&
	       lm_bytes_opt_to_cstr(m->has_host, &m->host, s->pub.host, sizeof s->pub.host) == 0 &&
	       lm_bytes_opt_to_cstr(m->has_display, &m->display, s->pub.display,
	                            sizeof s->pub.display) == 0 &&
	       lm_bytes_opt_to_cstr(m->has_lock_code, &m->lock_code, s->pub.lock_code,
	                            sizeof s->pub.lock_code) == 0 &&
	       lm_bytes_opt_to_cstr(m->has_app_version, &m->app_version, s->pub.app_version,
	                            sizeof s->pub.app_version) == 0 &&
	       lm_bytes_opt_to_cstr(m->has_ip, &m->ip, s->pub.ip, sizeof s->pub.ip) == 0 &&
	       lm_bytes_opt_to_cstr(m->has_project, &m->project, s->pub.project,
	                            sizeof s->pub.project) == 0;
}

int lm_pool_do_open_session(struct lm_pool *p, int64_t now, const Lmcmd__OpenSession *m,
                            struct lm_pool_result *res)
{
	struct lm_pool_session_rec s, old;
	bool found;
	size_t n;
	int rc;

	if (!lm_pool_identity_copy(m, &s)) {
		lm_pool_deny(res, LMC_EINVAL,
		             "OpenSession without a session id, or with a bad field");
		return 0;
	}
	/* Opening a session twice is a retry of the first open: same answer,
	 * and the first identity stays. */
	rc = lm_pool_session_load(p, s.pub.id, &old, &found);
	if (rc || found)
		return rc;
	rc = lm_store_count(p->store, LM_DB_SESSIONS, &n);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (n >= LM_POOL_SESSIONS_MAX) {
		lm_pool_deny(res, LMC_ELIMIT, "the server holds %d sessions, its limit",
		             LM_POOL_SESSIONS_MAX);
		return 0;
	}
	s.pub.opened_us = now;
	return lm_pool_session_store(p, &s);
}

struct gather {
	struct lm_pool *p;
	size_t n;
};

/* Scan callbacks stop with this when a record is malformed, to tell it
 * from the store's own (negative) failures. */
#define SCAN_CORRUPT 1

static int gather_handle(void *arg, struct lm_val key, struct lm_val val)
{
	struct gather *g = arg;
	if (key.len != 16 || g->n == LM_POOL_HANDLES_PER_SESSION_MAX)
		return SCAN_CORRUPT;
	g->p->closing[g->n++] = lm_be64_get((const uint8_t *)key.data + 8);
	return 0;
}

/* The outcome of a scan whose callback only fails with SCAN_CORRUPT. */
static int scan_failed(struct lm_pool *p, int rc, const char *what)
{
	if (rc == SCAN_CORRUPT)
		return lm_pool_corrupt(what);
	return rc < 0 ? lm_pool_store_failed(p, rc) : rc;
}

int lm_pool_do_close_session(struct lm_pool *p, const Lmcmd__CloseSession *m,
                             struct lm_pool_result *res)
{
	struct gather g = {.p = p};
	struct lm_pool_session_rec s;
	struct lm_pool_handle h;
	uint64_t seats = 0;
	uint8_t key[8];
	bool found;
	int rc;

	rc = lm_pool_session_load(p, m->session_id, &s, &found);
	if (rc)
		return rc;
	if (!found) {
		lm_pool_deny(res, LMC_ENOSESSION, "session %016llx is not open",
		             (unsigned long long)m->session_id);
		return 0;
	}
	lm_be64_put(key, s.pub.id);
	rc = lm_store_scan(p->store, LM_DB_BY_SESSION, key, sizeof key, gather_handle, &g);
	if (rc)
		return scan_failed(p, rc, "by_session");
	if (g.n != s.pub.nhandles)
		return lm_pool_corrupt("session");
	for (size_t i = 0; i < g.n; i++) {
		rc = lm_pool_handle_load(p, p->closing[i], &h, &found);
		if (!rc && !found)
			rc = lm_pool_corrupt("by_session");
		if (!rc)
			rc = lm_pool_handle_release(p, &h);
		if (rc)
			return rc;
		seats += h.count;
	}
	rc = lm_store_del(p->store, LM_DB_SESSIONS, key, sizeof key, NULL);
	if (rc)
		return lm_pool_store_failed(p, rc);
	res->count = seats > UINT32_MAX ? UINT32_MAX : (uint32_t)seats;
	return 0;
}

/* DESIGN.md §2.3: a session numbers its requests; the last one is answered
 * again from the session's memory, an older one is refused.  Returns true
 * when res already holds the answer.  Ids start at 1, so that a fresh
 * session (last request 0) has nothing to replay. */
static bool replayed(const struct lm_pool_session_rec *s, uint64_t request_id,
                     struct lm_pool_result *res)
{
	if (request_id == 0) {
		lm_pool_deny(res, LMC_EPROTO, "request id 0 is not valid");
		return true;
	}
	if (request_id == s->last_request) {
		*res = s->last;
		res->replayed = true;
		return true;
	}
	if (request_id < s->last_request) {
		lm_pool_deny(res, LMC_EPROTO, "request %llu is older than the last one, %llu",
		             (unsigned long long)request_id, (unsigned long long)s->last_request);
		return true;
	}
	return false;
}

/* Of count seats more in a pool with in_use of issued seats taken, how many
 * lie beyond the count; more than lendable means they do not fit. */
static uint32_t seats_beyond(uint32_t issued, uint32_t in_use, uint32_t count)
{
	uint64_t after = (uint64_t)in_use + count;
	if (after <= issued)
		return 0;
	uint64_t beyond = after - issued;
	return beyond > count ? count : (uint32_t)beyond;
}

/* Picks the pool of smallest version >= want with count seats free on day
 * today (pool.h) that the administrator's policy lets s take, or leaves the
 * reason in res: the policy's denial when it refused every pool in its
 * dates. */
int lm_pool_choose(struct lm_pool *p, const struct lm_pool_session *s, const char *feature,
                   const char *want_text, const uint8_t want[LM_POOL_VKEY_LEN], uint32_t count,
                   const char *vendor_data, int32_t today, const struct lm_pool_suite *suite,
                   struct lm_pool_choice *c, struct lm_pool_result *res)
{
	struct lm_val v;
	struct lm_pool_def d;
	struct lm_pool_state st;
	uint8_t pkey[LM_POOL_KEY_MAX];
	char newest[LM_VERSION_MAX + 1] = "", seen_version[LM_VERSION_MAX + 1] = "", date[16];
	uint32_t seen_issued = 0, seen_in_use = 0, seen_lendable = 0, in_use;
	int32_t next_start = LM_DATE_NONE, last_expiry = LM_DATE_NONE;
	int suitable = 0, active = 0, denied = 0, more;
	/* The first pool that can lend the seats beyond its count, taken
	 * only when no pool has them within its count. */
	struct lm_pool_choice lend = {0};
	bool can_lend = false;
	struct lm_opt_decision policy = {.outcome = LM_OPT_ALLOW};
	int rc;

	rc = lm_store_get(p->store, LM_DB_FEATURES, feature, strlen(feature), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	if (!v.data) {
		lm_pool_deny(res, LMC_ENOFEATURE,
		             "no counted license for feature %s on this server", feature);
		return 0;
	}
	struct lm_pool_rbuf r = {.p = v.data, .len = v.len};
	lm_pool_r_u16(&r);
	while ((more = lm_pool_def_next(&r, &d)) == 1) {
		memcpy(newest, d.version, sizeof newest);
		if (memcmp(d.vkey, want, LM_POOL_VKEY_LEN) < 0)
			continue;
		suitable++;
		lm_pool_def_eval(&d, today, &st);
		if (st.next_start != LM_DATE_NONE &&
		    (next_start == LM_DATE_NONE || st.next_start < next_start))
			next_start = st.next_start;
		if (st.last_expiry > last_expiry)
			last_expiry = st.last_expiry;
		if (!st.active)
			continue;
		active++;
		rc = lm_pool_usage_get(p, pkey, lm_pool_key(pkey, feature, d.vkey), &in_use);
		if (rc)
			return rc;
		uint32_t lendable = lm_pool_policy_overdraft(p, feature, d.version, st.overdraft);
		if (p->policy) {
			struct lm_opt_decision d1;
			uint64_t total = (uint64_t)st.issued + lendable;
			rc = lm_pool_policy_decide(
			        p, s, feature, d.version, count,
			        total > UINT32_MAX ? UINT32_MAX : (uint32_t)total, &d1);
			if (rc)
				return rc;
			if (d1.outcome == LM_OPT_DENY) {
				if (denied++ == 0)
					policy = d1;
				continue;
			}
		}
		/* DUP_GROUP: a group of this pool holding as many seats as
		 * asked for shares them (pool_share.c), whatever is free. */
		bool sharing;
		uint32_t shared_seats = 0, sharers;
		if (suite) {
			sharing = suite->sharing;
			memcpy(c->share, suite->share, LM_POOL_SHARE_LEN);
			rc = 0;
		} else {
			rc = lm_pool_share_name(st.dup_group, s, vendor_data, &sharing, c->share);
		}
		if (!rc && sharing)
			rc = lm_pool_share_seats(p, pkey, lm_pool_key(pkey, feature, d.vkey),
			                         c->share, &shared_seats, &sharers);
		if (rc)
			return rc;
		c->has_share = sharing;
		if (shared_seats == count || (in_use <= st.issued && st.issued - in_use >= count)) {
			memcpy(c->vkey, d.vkey, LM_POOL_VKEY_LEN);
			memcpy(c->version, d.version, sizeof c->version);
			c->line = st.line;
			c->overdraft = 0;
			c->named_kind = st.named_kind;
			c->named_max = st.named_max;
			return 0;
		}
		if (!can_lend && (uint64_t)in_use + count <= (uint64_t)st.issued + lendable) {
			can_lend = true;
			lend.has_share = c->has_share;
			memcpy(lend.share, c->share, LM_POOL_SHARE_LEN);
			memcpy(lend.vkey, d.vkey, LM_POOL_VKEY_LEN);
			memcpy(lend.version, d.version, sizeof lend.version);
			lend.line = st.line;
			lend.overdraft = seats_beyond(st.issued, in_use, count);
			lend.named_kind = st.named_kind;
			lend.named_max = st.named_max;
		}
		seen_issued = st.issued;
		seen_in_use = in_use;
		seen_lendable = lendable;
		memcpy(seen_version, d.version, sizeof seen_version);
	}
	if (more < 0)
		return lm_pool_corrupt("features");
	if (can_lend) {
		*c = lend;
		return 0;
	}

	if (active > 0 && denied == active) {
		lm_pool_deny(res, LMC_EDENIED, "%s", policy.message);
	} else if (suitable == 0) {
		lm_pool_deny(res, LMC_EVERSION,
		             "%s %s requested, the newest licensed version is %s", feature,
		             want_text, newest);
	} else if (active == 0 && next_start != LM_DATE_NONE) {
		/* A license that will start is the better news of the two. */
		lm_date_format(next_start, date, sizeof date);
		lm_pool_deny(res, LMC_ENOTSTARTED, "the license of %s >= %s starts on %s", feature,
		             want_text, date);
	} else if (active == 0) {
		lm_date_format(last_expiry, date, sizeof date);
		lm_pool_deny(res, LMC_EEXPIRED, "the license of %s >= %s expired on %s", feature,
		             want_text, date);
	} else if (active > 1) {
		lm_pool_deny(res, LMC_ENOSEATS, "no license of %s >= %s has %u seats free", feature,
		             want_text, count);
	} else if (seen_lendable && (count == 1 || seen_in_use >= seen_issued + seen_lendable)) {
		lm_pool_deny(res, LMC_ENOSEATS,
		             "all %u seats of %s %s in use, and its %u overdraft seats",
		             seen_issued, feature, seen_version, seen_lendable);
	} else if (count == 1 || seen_in_use >= seen_issued) {
		lm_pool_deny(res, LMC_ENOSEATS, "all %u seats of %s %s in use", seen_issued,
		             feature, seen_version);
	} else if (seen_lendable) {
		uint64_t room = (uint64_t)seen_issued + seen_lendable - seen_in_use;
		lm_pool_deny(res, LMC_ENOSEATS,
		             "%u seats of %s %s requested, %llu free with its overdraft", count,
		             feature, seen_version, (unsigned long long)room);
	} else {
		lm_pool_deny(res, LMC_ENOSEATS, "%u seats of %s %s requested, %u of %u free", count,
		             feature, seen_version, seen_issued - seen_in_use, seen_issued);
	}
	return 0;
}

static int checkout(struct lm_pool *p, int64_t now, struct lm_pool_session_rec *s,
                    const Lmcmd__Checkout *m, struct lm_pool_result *res)
{
	struct lm_pool_handle h = {.session_id = s->pub.id, .since_us = now};
	uint8_t want[LM_POOL_VKEY_LEN];
	struct lm_pool_choice c;
	int rc;

	if (!m->has_feature || m->feature.len == 0 ||
	    lm_bytes_opt_to_cstr(1, &m->feature, h.feature, sizeof h.feature) != 0) {
		lm_pool_deny(res, LMC_EINVAL, "Checkout without a valid feature name");
		return 0;
	}
	if (lm_bytes_opt_to_cstr(m->has_version, &m->version, h.version, sizeof h.version) != 0 ||
	    !lm_version_valid(h.version) || lm_pool_version_key(h.version, want) != 0) {
		lm_pool_deny(res, LMC_EINVAL, "Checkout of %s without a valid version", h.feature);
		return 0;
	}
	if (!m->has_count || m->count == 0 || m->count > LM_CHECKOUT_COUNT_MAX) {
		lm_pool_deny(res, LMC_EINVAL, "Checkout of %s for %u seats", h.feature, m->count);
		return 0;
	}
	/* lmd checks the data it proposes (proto/envelope_bodies.c); the
	 * log is checked again, as every byte it holds. */
	if (lm_bytes_opt_to_cstr(m->has_vendor_data, &m->vendor_data, h.vendor_data,
	                         sizeof h.vendor_data) != 0 ||
	    !lm_vendor_data_valid(h.vendor_data, strlen(h.vendor_data))) {
		lm_pool_deny(res, LMC_EINVAL,
		             "Checkout of %s with vendor data that is not up to %d printable "
		             "characters",
		             h.feature, LM_WIRE_VENDOR_DATA_MAX);
		return 0;
	}
	if (s->pub.nhandles >= LM_POOL_HANDLES_PER_SESSION_MAX) {
		lm_pool_deny(res, LMC_ELIMIT, "the session already holds %d handles",
		             LM_POOL_HANDLES_PER_SESSION_MAX);
		return 0;
	}
	memset(&c, 0, sizeof c);
	rc = lm_pool_choose(p, &s->pub, h.feature, h.version, want, m->count, h.vendor_data,
	                    day_of(now), NULL, &c, res);
	if (!rc && res->code == LMC_ENOFEATURE)
		rc = lm_pool_package_choose(p, &s->pub, &h, m->count, day_of(now), &c, res);
	if (rc || res->code)
		return rc;
	rc = lm_pool_named_admit(p, now, &s->pub, h.package[0] ? h.package : h.feature,
	                         c.named_kind, c.named_max, res);
	if (rc || res->code)
		return rc;

	/* Handles count up from 1 in the replicated meta table, so every
	 * server hands out the same number for the same command. */
	rc = lm_pool_meta_get(p, LM_POOL_KEY_NEXT_HANDLE, 1, &h.handle);
	if (!rc)
		rc = lm_pool_meta_put(p, LM_POOL_KEY_NEXT_HANDLE, h.handle + 1);
	if (rc)
		return rc;
	h.count = m->count;
	h.overdraft = c.overdraft;
	h.has_share = c.has_share;
	memcpy(h.share, c.share, LM_POOL_SHARE_LEN);
	memcpy(h.pool_version, c.version, sizeof h.pool_version);
	rc = lm_pool_handle_charge(p, &h);
	if (rc)
		return rc == LMC_ETOOLARGE ? lm_pool_corrupt("usage") : rc;
	s->pub.nhandles++;
	res->handle = h.handle;
	res->count = h.count;
	res->line = c.line;
	res->overdraft = c.overdraft;
	res->has_package = c.has_package;
	res->package_line = c.package_line;
	return 0;
}

/* The start of a session's numbered request: the session must be open, and
 * a request it already made is answered from its record (replayed()).
 * *answered tells whether res is final. */
static int begin_request(struct lm_pool *p, uint64_t session_id, uint64_t request_id,
                         struct lm_pool_session_rec *s, struct lm_pool_result *res, bool *answered)
{
	bool found;
	int rc = lm_pool_session_load(p, session_id, s, &found);
	*answered = true;
	if (rc)
		return rc;
	if (!found) {
		lm_pool_deny(res, LMC_ENOSESSION, "session %016llx is not open",
		             (unsigned long long)session_id);
		return 0;
	}
	*answered = replayed(s, request_id, res);
	return 0;
}

/* The backing line of a granted checkout, for its reply (pool.h). */
static int granted_line(struct lm_pool *p, struct lm_pool_result *res)
{
	if (res->code != 0)
		return 0;
	int rc = lm_pool_line_load(p, res->line, res->license_text, sizeof res->license_text,
	                           res->license_sig);
	if (rc == LMC_ENOFEATURE) {
		res->license_text[0] = '\0';
		rc = 0;
	}
	return rc ? rc : lm_pool_package_granted(p, res);
}

int lm_pool_do_checkout(struct lm_pool *p, int64_t now, const Lmcmd__Checkout *m,
                        struct lm_pool_result *res)
{
	struct lm_pool_session_rec s;
	bool answered;
	int rc = begin_request(p, m->session_id, m->request_id, &s, res, &answered);
	if (rc || answered)
		return rc ? rc : granted_line(p, res);
	rc = checkout(p, now, &s, m, res);
	if (rc)
		return rc;
	s.last_request = m->request_id;
	s.last = *res;
	rc = lm_pool_session_store(p, &s);
	return rc ? rc : granted_line(p, res);
}

int lm_pool_do_checkin(struct lm_pool *p, const Lmcmd__Checkin *m, struct lm_pool_result *res)
{
	struct lm_pool_session_rec s;
	struct lm_pool_handle h;
	bool found, answered;
	int rc = begin_request(p, m->session_id, m->request_id, &s, res, &answered);
	if (rc || answered)
		return rc;
	rc = lm_pool_handle_load(p, m->handle, &h, &found);
	if (rc)
		return rc;
	if (!found || h.session_id != s.pub.id) {
		lm_pool_deny(res, LMC_ENOHANDLE, "handle %llu is not held by this session",
		             (unsigned long long)m->handle);
	} else {
		if (s.pub.nhandles == 0)
			return lm_pool_corrupt("session");
		rc = lm_pool_handle_release(p, &h);
		if (rc)
			return rc;
		s.pub.nhandles--;
		res->handle = h.handle;
		res->count = h.count;
	}
	s.last_request = m->request_id;
	s.last = *res;
	return lm_pool_session_store(p, &s);
}

int lm_pool_do_remove_handle(struct lm_pool *p, const Lmcmd__RemoveHandle *m,
                             struct lm_pool_result *res)
{
	struct lm_pool_session_rec s;
	struct lm_pool_handle h;
	bool found;
	int rc;

	rc = lm_pool_handle_load(p, m->handle, &h, &found);
	if (rc)
		return rc;
	if (!found) {
		lm_pool_deny(res, LMC_ENOHANDLE, "no handle %llu", (unsigned long long)m->handle);
		return 0;
	}
	rc = lm_pool_session_load(p, h.session_id, &s, &found);
	if (!rc && (!found || s.pub.nhandles == 0))
		rc = lm_pool_corrupt("handle");
	if (!rc)
		rc = lm_pool_handle_release(p, &h);
	if (rc)
		return rc;
	s.pub.nhandles--;
	res->handle = h.handle;
	res->count = h.count;
	return lm_pool_session_store(p, &s);
}
