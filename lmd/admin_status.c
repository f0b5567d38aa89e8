/* lmstat's status request (admin.h): the servers of the cluster and their
 * roles, and every feature with its seats, issued, in use and reserved,
 * and on request their holders.  Open to any client. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lmd/admin.h"
#include "lmd/admin_audit.h"
#include "lmd/bootstrap.h"
#include "lmd/connection.h"
#include "lmd/expiry.h"
#include "lmd/walltime.h"

/* Everything a StatusReply points to, freed after packing. */
struct status_build {
	struct lm_connection *c;
	int32_t today;
	bool holders;
	bool hide_others; /* holders of other users are not shown */
	const char *only;
	Lm__FeatureStatus **features;
	size_t nfeatures, cap;
	void **allocs;
	size_t nallocs, alloc_cap;
	bool oom;
	int failed; /* a query's error other than memory */
};

/* At most this many left-out lines travel in a status reply: a file of
 * thousands of bad lines must not make the reply too large to send. */
#define LM_STATUS_SKIPPED_MAX 64

static void *track(struct status_build *b, void *p)
{
	if (!p) {
		b->oom = true;
		return NULL;
	}
	if (b->nallocs == b->alloc_cap) {
		size_t cap = b->alloc_cap ? b->alloc_cap * 2 : 64;
		void **n = realloc(b->allocs, cap * sizeof *n);
		if (!n) {
			free(p);
			b->oom = true;
			return NULL;
		}
		b->allocs = n;
		b->alloc_cap = cap;
	}
	b->allocs[b->nallocs++] = p;
	return p;
}

static ProtobufCBinaryData tracked_bytes(struct status_build *b, const char *s)
{
	char *copy = track(b, strdup(s));
	return lm_bytes_from_cstr(copy ? copy : "");
}

/* The rules of the policy in force that apply to the pool f. */
static int status_rules(struct status_build *b, Lm__FeatureStatus *fs,
                        const struct lm_pool_feature *f)
{
	const struct lm_options *o = lm_pool_policy(b->c->s->pool);
	if (!o)
		return 0;
	for (size_t i = 0; i < o->nrules; i++) {
		const struct lm_opt_rule *r = &o->rules[i];
		if (!r->has_feature || !lm_opt_rule_applies(r, f->name, f->version))
			continue;
		char text[LM_WIRE_TEXT_MAX];
		snprintf(text, sizeof text, "%s (%s line %d)", r->text, o->name, r->lineno);
		char *copy = track(b, strdup(text));
		char **n = track(b, malloc((fs->n_rules + 1) * sizeof *n));
		if (!copy || !n)
			return 1;
		if (fs->n_rules)
			memcpy(n, fs->rules, fs->n_rules * sizeof *n);
		n[fs->n_rules++] = copy;
		fs->rules = n;
	}
	return 0;
}

/* The pool's reservations, and their idle seats in fs->reserved. */
static int status_reservations(struct status_build *b, Lm__FeatureStatus *fs,
                               const struct lm_pool_feature *f)
{
	struct lm_opt_reservation *res;
	size_t n;
	int rc = lm_pool_policy_reservations(b->c->s->pool, f->name, f->version, f->issued, &res,
	                                     &n);
	if (rc) {
		b->oom |= rc == LMC_ENOMEM;
		b->failed = rc;
		return 1;
	}
	fs->has_reserved = 1;
	Lm__Reservation **list = n ? track(b, calloc(n, sizeof *list)) : NULL;
	for (size_t i = 0; list && i < n; i++) {
		Lm__Reservation *r = track(b, malloc(sizeof *r));
		if (!r)
			break;
		lm__reservation__init(r);
		r->type = (char *)lm_opt_type_name(res[i].rule->type);
		r->has_name = r->has_seats = r->has_idle = r->has_line = 1;
		r->name = tracked_bytes(b, res[i].rule->who);
		r->seats = res[i].seats;
		r->idle = res[i].idle;
		r->line = (uint32_t)res[i].rule->lineno;
		list[fs->n_reservations++] = r;
		fs->reserved += res[i].idle;
	}
	fs->reservations = list;
	free(res);
	return b->oom;
}

static int status_feature(void *arg, const struct lm_pool_feature *f)
{
	struct status_build *b = arg;
	if (b->oom || (b->only && strcmp(b->only, f->name) != 0))
		return 0;
	if (b->nfeatures == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		Lm__FeatureStatus **n = realloc(b->features, cap * sizeof *n);
		if (!n) {
			b->oom = true;
			return 1;
		}
		b->features = n;
		b->cap = cap;
	}
	Lm__FeatureStatus *fs = track(b, malloc(sizeof *fs));
	if (!fs)
		return 1;
	lm__feature_status__init(fs);
	fs->has_name = fs->has_version = fs->has_issued = fs->has_in_use = fs->has_expiry = 1;
	fs->name = tracked_bytes(b, f->name);
	fs->version = tracked_bytes(b, f->version);
	fs->issued = f->issued;
	fs->in_use = f->in_use;
	fs->expiry = f->expiry;
	fs->has_overdraft = f->overdraft != 0;
	fs->overdraft = f->overdraft;
	if (f->package[0]) {
		fs->has_package = 1;
		fs->package = tracked_bytes(b, f->package);
	}
	if (f->named_kind != LM_NAMED_NONE) {
		fs->named_kind = (char *)lm_pool_named_kind_name(f->named_kind, true);
		fs->has_named_max = 1;
		fs->named_max = f->named_max;
	}
	int days_left = lm_expiry_days_left(b->c->s, f->expiry, b->today);
	fs->has_expiry_warning_days = days_left >= 0;
	fs->expiry_warning_days = days_left;
	b->features[b->nfeatures++] = fs;
	int stop = status_rules(b, fs, f) || status_reservations(b, fs, f);
	/* SUITE_RESERVED: suite seats holding the component for their
	 * holders are set aside like the options file's idle reservations. */
	fs->reserved += f->suite_reserved;
	return stop;
}

/* The list of one feature limited to named users or hosts. */
struct named_build {
	struct status_build *b;
	Lm__NamedEntry **items;
	size_t n, cap;
	uint32_t count;
	int64_t hold_s;
};

static int status_named_one(void *arg, const struct lm_pool_named *nm)
{
	struct named_build *nb = arg;
	struct status_build *b = nb->b;
	nb->count++;
	if (b->hide_others &&
	    strcmp(nm->name, nm->kind == LM_NAMED_HOSTS ? b->c->host : b->c->user))
		return 0;
	if (nb->n == nb->cap) {
		size_t cap = nb->cap ? nb->cap * 2 : 8;
		Lm__NamedEntry **items = realloc(nb->items, cap * sizeof *items);
		if (!items) {
			b->oom = true;
			return 1;
		}
		nb->items = items;
		nb->cap = cap;
	}
	Lm__NamedEntry *e = track(b, malloc(sizeof *e));
	if (!e)
		return 1;
	lm__named_entry__init(e);
	e->has_name = e->has_added = e->has_removable = 1;
	e->name = tracked_bytes(b, nm->name);
	e->added = nm->added_us / 1000000;
	e->removable = e->added + nb->hold_s;
	nb->items[nb->n++] = e;
	return 0;
}

/* Fills the named users or hosts of each feature that has them, after the
 * walk of the features (each list is read in a transaction of its own). */
static void status_named(struct status_build *b)
{
	struct lm_server *s = b->c->s;
	for (size_t i = 0; i < b->nfeatures && !b->oom; i++) {
		Lm__FeatureStatus *fs = b->features[i];
		char name[LM_NAME_MAX + 1];
		if (!fs->has_named_max || lm_bytes_to_cstr(&fs->name, name, sizeof name) != 0)
			continue;
		struct named_build nb = {.b = b, .hold_s = s->cfg.named_hold_s};
		int rc = lm_pool_each_named(s->pool, name, status_named_one, &nb);
		if (rc && !b->oom)
			b->failed = rc;
		if (nb.items && !track(b, nb.items))
			return;
		fs->n_named = nb.n;
		fs->named = nb.items;
		fs->has_named_count = 1;
		fs->named_count = nb.count;
	}
}

static int status_holder(void *arg, const struct lm_pool_handle *h,
                         const struct lm_pool_session *ps)
{
	struct status_build *b = arg;
	if (b->oom || !b->holders || b->nfeatures == 0 ||
	    (b->only && strcmp(b->only, h->feature) != 0))
		return 0;
	/* lmd --lmstat-details admin: who holds what is the admins' to see,
	 * and each user's own seats theirs (by the name their Hello claims:
	 * it shows what that name holds, as anyone could ask FlexLM).  The
	 * feature's counts stay, so that monitors still see the use. */
	if (b->hide_others && strcmp(ps->user, b->c->user) != 0)
		return 0;
	/* Holders are reported right after their feature. */
	Lm__FeatureStatus *fs = b->features[b->nfeatures - 1];
	Lm__Holder *ho = track(b, malloc(sizeof *ho));
	if (!ho)
		return 1;
	lm__holder__init(ho);
	ho->has_user = ho->has_host = ho->has_display = ho->has_count = ho->has_since = 1;
	ho->has_handle = ho->has_version = 1;
	ho->user = tracked_bytes(b, ps->user);
	ho->host = tracked_bytes(b, ps->host);
	ho->display = tracked_bytes(b, ps->display);
	ho->count = h->count;
	ho->since = h->since_us / 1000000;
	ho->handle = h->handle;
	ho->version = tracked_bytes(b, h->version);
	ho->has_overdraft = h->overdraft != 0;
	ho->overdraft = h->overdraft;
	ho->has_suite_reserved = h->suite_reservation;
	ho->suite_reserved = h->suite_reservation;
	ho->has_sharers = h->sharers > 1;
	ho->sharers = h->sharers;
	if (h->vendor_data[0]) {
		ho->has_vendor_data = 1;
		ho->vendor_data = tracked_bytes(b, h->vendor_data);
	}
	/* The array is freed with its feature in on_status. */
	Lm__Holder **n = realloc(fs->holders, (fs->n_holders + 1) * sizeof *n);
	if (!n) {
		b->oom = true;
		return 1;
	}
	fs->holders = n;
	fs->holders[fs->n_holders++] = ho;
	return 0;
}

/* A skipped line as the reply carries it, with room for its "FEATURE
 * stats". */
struct status_skipped {
	Lm__SkippedLine line;
	char what[sizeof((struct lm_license_skipped *)0)->type +
	          sizeof((struct lm_license_skipped *)0)->name];
};

/* The lines of this server's file it leaves out: the first
 * LM_STATUS_SKIPPED_MAX (the log has them all), their reasons pointing
 * into f. */
static void set_skipped_lines(Lm__ServerStatus *ss, const struct lm_license_file *f,
                              struct status_skipped *out, Lm__SkippedLine **ptrs)
{
	size_t n = f->nskipped < LM_STATUS_SKIPPED_MAX ? f->nskipped : LM_STATUS_SKIPPED_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct lm_license_skipped *k = &f->skipped[i];
		Lm__SkippedLine *line = &out[i].line;
		lm__skipped_line__init(line);
		snprintf(out[i].what, sizeof out[i].what, "%s %s", k->type, k->name);
		line->has_line = 1;
		line->line = (uint32_t)k->lineno;
		line->what = out[i].what;
		line->reason = (char *)k->message;
		ptrs[i] = line;
	}
	ss->n_skipped_lines = n;
	ss->skipped_lines = ptrs;
}

void lm_admin_status(struct lm_connection *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__StatusRequest *q = env->status_request;
	char only[LM_NAME_MAX + 1] = "";
	if (q->has_feature && q->feature.len)
		lm_bytes_to_cstr(&q->feature, only, sizeof only);
	bool admin = c->socket_admin;
	struct status_build b = {.c = c,
	                         .holders = q->has_holders && q->holders,
	                         .hide_others = s->cfg.lmstat_details_admin && !admin,
	                         .only = only[0] ? only : NULL};

	struct lm_cluster_status cs;
	uint8_t digest[LM_WIRE_DIGEST_LEN];
	lm_server_cluster_status(s, &cs);
	Lm__ServerStatus servers[LM_LICENSE_SERVERS_MAX], *server_ptrs[LM_LICENSE_SERVERS_MAX];
	struct status_skipped skipped[LM_STATUS_SKIPPED_MAX];
	Lm__SkippedLine *skipped_ptrs[LM_STATUS_SKIPPED_MAX];
	int n = s->license.nservers;
	for (int i = 0; i < n; i++) {
		Lm__ServerStatus *ss = &servers[i];
		lm__server_status__init(ss);
		server_ptrs[i] = ss;
		ss->address = s->addresses[i];
		ss->has_role = 1;
		if ((unsigned)i + 1 == s->node) {
			ss->role = cs.role == LM_CLUSTER_LEADER
			                   ? LM__SERVER_ROLE__SERVER_ROLE_LEADER
			           : cs.role == LM_CLUSTER_FOLLOWER
			                   ? LM__SERVER_ROLE__SERVER_ROLE_FOLLOWER
			           : cs.role == LM_CLUSTER_CANDIDATE
			                   ? LM__SERVER_ROLE__SERVER_ROLE_CANDIDATE
			                   : LM__SERVER_ROLE__SERVER_ROLE_UNKNOWN;
			ss->has_uptime_s = ss->has_term = ss->has_applied_index = 1;
			ss->uptime_s = (uv_now(s->loop) - s->started_ms) / 1000;
			ss->version = LM_SERVER_VERSION;
			ss->term = cs.term;
			ss->applied_index = cs.applied_index;
			ss->has_raft_id = ss->has_voter = 1;
			ss->raft_id = s->raft_id;
			ss->raft_address = s->raft_addresses[s->node - 1];
			ss->voter = cs.voter;
			ss->has_license_differs = 1;
			ss->license_differs = lm_server_license_differs(s);
			/* What a peer with no raft state asks (bootstrap.h). */
			ss->has_pristine = 1;
			ss->pristine = lm_bootstrap_pristine(s);
			ss->n_seen_raft_ids = s->datadir.nseen;
			ss->seen_raft_ids = s->datadir.seen;
			const struct lm_options *policy = lm_pool_policy(s->pool);
			if (policy) {
				ss->options_name = policy->name;
				ss->has_options_sha256 = 1;
				ss->options_sha256.data = (uint8_t *)policy->sha256;
				ss->options_sha256.len = sizeof policy->sha256;
			}
			int64_t behind_s = lm_walltime_behind_us() / 1000000;
			if (behind_s > (int64_t)s->cfg.clock_tolerance_s) {
				ss->has_clock_behind_s = 1;
				ss->clock_behind_s = (uint64_t)behind_s;
			}
			set_skipped_lines(ss, &s->license, skipped, skipped_ptrs);
			ss->vendor = s->license.vendor;
			ss->license_path = (char *)s->cfg.license_path;
			ss->has_options_differ = 1;
			ss->options_differ =
			        (policy == NULL) != (s->options == NULL) ||
			        (policy && memcmp(policy->sha256, s->options->sha256, 32) != 0);
			if (s->has_cluster_id) {
				ss->has_cluster_id = 1;
				ss->cluster_id.data = s->cluster_id;
				ss->cluster_id.len = sizeof s->cluster_id;
			}
			/* The digest is of the pool as applied up to applied_index:
			 * both are read in this same loop turn, with no apply in
			 * between. */
			if (q->has_digest && q->digest && lm_pool_digest(s->pool, digest) == 0) {
				ss->has_digest = 1;
				ss->digest.data = digest;
				ss->digest.len = sizeof digest;
			}
		} else {
			ss->role = lm_server_line_of(s, cs.leader_id) == (unsigned)i + 1
			                   ? LM__SERVER_ROLE__SERVER_ROLE_LEADER
			                   : LM__SERVER_ROLE__SERVER_ROLE_UNKNOWN;
		}
	}
	int32_t today = (int32_t)(lm_walltime_us() / 1000000 / 86400);
	b.today = today;
	lm_pool_each_feature(s->pool, today, status_feature, status_holder, &b);
	lm_pool_each_component(s->pool, today, status_feature, status_holder, &b);
	status_named(&b);
	if (b.oom) {
		lm_connection_send_error(c, env->request_id, LMC_ENOMEM,
		                         "server out of memory building the status", false);
	} else if (b.failed) {
		lm_connection_send_error(c, env->request_id, b.failed,
		                         "server could not read its reservations", false);
	} else {
		Lm__Envelope e;
		lm_envelope_init(&e, env->request_id);
		Lm__StatusReply r = LM__STATUS_REPLY__INIT;
		r.n_servers = (size_t)n;
		r.servers = server_ptrs;
		r.n_features = b.nfeatures;
		r.features = b.features;
		if (admin)
			lm_admin_audit_status(s, &r);
		e.body_case = LM__ENVELOPE__BODY_STATUS_REPLY;
		e.status_reply = &r;
		if (lm__envelope__get_packed_size(&e) > LM_FRAME_REPLY_MAX)
			lm_connection_send_error(
			        c, env->request_id, LMC_ETOOLARGE,
			        "status too large for one reply: ask for one feature (-f)", false);
		else
			lm_connection_send(c, &e, false);
	}
	for (size_t i = 0; i < b.nfeatures; i++)
		free(b.features[i]->holders);
	for (size_t i = 0; i < b.nallocs; i++)
		free(b.allocs[i]);
	free(b.allocs);
	free(b.features);
}
