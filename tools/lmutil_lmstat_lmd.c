/* lmutil lmstat --lmd and --json (lmutil_lmstat.h): lmd's own view of the
 * servers (role, uptime, term, applied index, lag, digests, the options
 * file in force) and of the features, their reservations, rules and
 * holders. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/bytes.h"
#include "core/date.h"
#include "core/error.h"
#include "tools/json.h"
#include "tools/lmutil_lmstat.h"
#include "tools/report.h"

static void hex(const ProtobufCBinaryData *b, char *out, size_t size)
{
	lm_hex_encode(b->data, b->len < size / 2 ? b->len : (size - 1) / 2, out);
}

static void bytes_str(const ProtobufCBinaryData *b, char *out, size_t size)
{
	if (lm_bytes_to_cstr(b, out, size) != 0)
		snprintf(out, size, "?");
}

/* o[key] = the bytes as text. */
static void set_bytes(json_t *o, const char *key, const ProtobufCBinaryData *b)
{
	char buf[LM_WIRE_USER_MAX + 1];
	bytes_str(b, buf, sizeof buf);
	lm_json_set(o, key, lm_json_text(buf));
}

static void print_since(int64_t since, char *buf, size_t size)
{
	time_t t = (time_t)since;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static json_t *server_json(const struct server_view *v)
{
	json_t *o = lm_json_object();
	lm_json_set(o, "address", lm_json_text(v->address));
	lm_json_set(o, "role", lm_json_text(v->role));
	const Lm__ServerStatus *s = v->self;
	if (!s)
		return o;
	lm_json_set(o, "uptime_s", lm_json_u64(s->uptime_s));
	lm_json_set(o, "version", lm_json_text(s->version ? s->version : ""));
	lm_json_set(o, "term", lm_json_u64(s->term));
	lm_json_set(o, "applied_index", lm_json_u64(s->applied_index));
	if (v->has_lag)
		lm_json_set(o, "lag", lm_json_u64(v->lag));
	if (s->has_raft_id)
		lm_json_set(o, "raft_id", lm_json_u64(s->raft_id));
	if (s->raft_address)
		lm_json_set(o, "raft_address", lm_json_text(s->raft_address));
	if (s->has_voter)
		lm_json_set(o, "voter", lm_json_bool(s->voter));
	if (s->has_license_differs)
		lm_json_set(o, "license_differs", lm_json_bool(s->license_differs));
	if (s->n_skipped_lines > 0) {
		json_t *list = lm_json_array();
		for (size_t i = 0; i < s->n_skipped_lines; i++) {
			const Lm__SkippedLine *k = s->skipped_lines[i];
			json_t *one = lm_json_object();
			lm_json_set(one, "line", lm_json_u64(k->line));
			lm_json_set(one, "what", lm_json_text(k->what ? k->what : ""));
			lm_json_set(one, "reason", lm_json_text(k->reason ? k->reason : ""));
			lm_json_append(list, one);
		}
		lm_json_set(o, "skipped_lines", list);
	}
	if (s->has_digest) {
		char d[2 * LM_WIRE_DIGEST_LEN + 1];
		hex(&s->digest, d, sizeof d);
		lm_json_set(o, "digest", lm_json_text(d));
	}
	if (s->has_cluster_id) {
		char d[2 * LM_CLUSTER_ID_SIZE + 1];
		hex(&s->cluster_id, d, sizeof d);
		lm_json_set(o, "cluster_id", lm_json_text(d));
	}
	/* The options file the cluster enforces: null when none. */
	if (s->has_options_sha256) {
		char d[2 * LM_WIRE_DIGEST_LEN + 1];
		hex(&s->options_sha256, d, sizeof d);
		json_t *opt = lm_json_object();
		lm_json_set(opt, "name", lm_json_text(s->options_name ? s->options_name : ""));
		lm_json_set(opt, "sha256", lm_json_text(d));
		lm_json_set(o, "options", opt);
	} else {
		lm_json_set(o, "options", json_null());
	}
	if (s->has_options_differ)
		lm_json_set(o, "options_differ", lm_json_bool(s->options_differ));
	lm_json_set(o, "clock_behind_s",
	            s->has_clock_behind_s ? lm_json_u64(s->clock_behind_s) : json_null());
	return o;
}

static json_t *holder_json(const Lm__Holder *h)
{
	json_t *o = lm_json_object();
	set_bytes(o, "user", &h->user);
	set_bytes(o, "host", &h->host);
	set_bytes(o, "display", &h->display);
	set_bytes(o, "version", &h->version);
	lm_json_set(o, "count", lm_json_int(h->count));
	lm_json_set(o, "since", lm_json_int(h->since));
	lm_json_set(o, "handle", lm_json_u64(h->handle));
	lm_json_set(o, "overdraft", lm_json_int(h->overdraft));
	/* DUP_GROUP: the checkouts sharing this one's seats, itself
	 * included (1: it shares with none). */
	lm_json_set(o, "sharers", lm_json_int(h->has_sharers ? h->sharers : 1));
	/* The checkout's vendor data (lmc_set_checkout_data), null for none. */
	if (h->has_vendor_data)
		set_bytes(o, "vendor_data", &h->vendor_data);
	else
		lm_json_set(o, "vendor_data", json_null());
	/* SUITE_RESERVED: not a checkout of the component but the suite
	 * seat reserving it for this holder. */
	lm_json_set(o, "suite_reserved", lm_json_bool(h->has_suite_reserved && h->suite_reserved));
	return o;
}

static json_t *feature_json(const Lm__FeatureStatus *f)
{
	char expiry[16];
	json_t *o = lm_json_object();
	set_bytes(o, "name", &f->name);
	set_bytes(o, "version", &f->version);
	lm_json_set(o, "issued", lm_json_int(f->issued));
	lm_json_set(o, "in_use", lm_json_int(f->in_use));
	if (f->has_package)
		set_bytes(o, "package", &f->package);
	lm_date_format(f->expiry, expiry, sizeof expiry);
	lm_json_set(o, "expiry", lm_json_text(expiry));
	lm_json_set(o, "overdraft", lm_json_int(f->overdraft));
	if (f->has_expiry_warning_days)
		lm_json_set(o, "expires_in_days", lm_json_int(f->expiry_warning_days));
	json_t *holders = lm_json_array();
	for (size_t j = 0; j < f->n_holders; j++)
		lm_json_append(holders, holder_json(f->holders[j]));
	lm_json_set(o, "holders", holders);
	lm_json_set(o, "reserved", lm_json_int(f->reserved));
	json_t *reservations = lm_json_array();
	for (size_t j = 0; j < f->n_reservations; j++) {
		const Lm__Reservation *r = f->reservations[j];
		json_t *res = lm_json_object();
		lm_json_set(res, "type", lm_json_text(r->type ? r->type : ""));
		set_bytes(res, "name", &r->name);
		lm_json_set(res, "seats", lm_json_int(r->seats));
		lm_json_set(res, "idle", lm_json_int(r->idle));
		lm_json_set(res, "line", lm_json_int(r->line));
		lm_json_append(reservations, res);
	}
	lm_json_set(o, "reservations", reservations);
	if (f->has_named_max) {
		json_t *named = lm_json_object(), *names = lm_json_array();
		lm_json_set(named, "kind", lm_json_text(f->named_kind ? f->named_kind : "users"));
		lm_json_set(named, "max", lm_json_int(f->named_max));
		lm_json_set(named, "count", lm_json_int(f->named_count));
		for (size_t j = 0; j < f->n_named; j++) {
			json_t *one = lm_json_object();
			set_bytes(one, "name", &f->named[j]->name);
			lm_json_set(one, "added", lm_json_int(f->named[j]->added));
			lm_json_set(one, "removable", lm_json_int(f->named[j]->removable));
			lm_json_append(names, one);
		}
		lm_json_set(named, "names", names);
		lm_json_set(o, "named", named);
	}
	json_t *rules = lm_json_array();
	for (size_t j = 0; j < f->n_rules; j++)
		lm_json_append(rules, lm_json_text(f->rules[j]));
	lm_json_set(o, "rules", rules);
	return o;
}

static json_t *admin_actions_json(const Lm__StatusReply *r)
{
	json_t *list = lm_json_array();
	for (size_t i = 0; r && i < r->n_admin_actions; i++) {
		const Lm__AdminAction *a = r->admin_actions[i];
		json_t *o = lm_json_object();
		lm_json_set(o, "time", lm_json_int(a->time));
		lm_json_set(o, "action", lm_json_text(a->action ? a->action : ""));
		lm_json_set(o, "outcome", lm_json_text(a->accepted ? "allowed" : "refused"));
		lm_json_set(o, "who", lm_json_text(a->who ? a->who : ""));
		lm_json_set(o, "from", lm_json_text(a->address ? a->address : ""));
		lm_json_set(o, "detail", lm_json_text(a->detail ? a->detail : ""));
		lm_json_append(list, o);
	}
	return list;
}

/* {"servers":[...],"features":[...],"admin_actions":[...]}, and when no
 * server answered the error that says so (features is then empty).  The
 * server sends admin_actions to admins only (the admin socket's root and
 * admin group): others get an empty list. */
int lm_lmstat_json(struct server_view *v, size_t n, const Lm__StatusReply *r)
{
	json_t *doc = lm_json_object();
	json_t *servers = lm_json_array();
	for (size_t i = 0; i < n; i++)
		lm_json_append(servers, server_json(&v[i]));
	lm_json_set(doc, "servers", servers);
	json_t *features = lm_json_array();
	for (size_t i = 0; r && i < r->n_features; i++)
		lm_json_append(features, feature_json(r->features[i]));
	lm_json_set(doc, "features", features);
	lm_json_set(doc, "admin_actions", admin_actions_json(r));
	if (!r)
		lm_json_set(doc, "error", lm_json_error(LMC_ENOSERVER, "no server answered"));
	return lm_report_print(doc);
}

void lm_lmstat_lmd_text(struct server_view *v, size_t n, const Lm__StatusReply *r, bool all)
{
	char buf[LM_WIRE_USER_MAX + 1], host[LM_WIRE_HOST_MAX + 1],
	        display[LM_WIRE_DISPLAY_MAX + 1];
	printf("License server status:\n");
	bool leader = false;
	size_t up = 0;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].self) {
			printf("  %s: %s\n", v[i].address, v[i].role);
			continue;
		}
		const Lm__ServerStatus *s = v[i].self;
		up++;
		leader |= s->role == LM__SERVER_ROLE__SERVER_ROLE_LEADER;
		printf("  %s: %s, up %llus, %s, term %llu, applied index %llu", v[i].address,
		       v[i].role, (unsigned long long)s->uptime_s, s->version ? s->version : "?",
		       (unsigned long long)s->term, (unsigned long long)s->applied_index);
		if (v[i].has_lag)
			printf(", lag %llu", (unsigned long long)v[i].lag);
		if (s->has_raft_id && n > 1)
			printf(", raft id %llu", (unsigned long long)s->raft_id);
		if (s->has_digest) {
			char d[2 * LM_WIRE_DIGEST_LEN + 1];
			hex(&s->digest, d, sizeof d);
			printf(", state %.16s", d);
		}
		printf("\n");
		if (s->has_license_differs && s->license_differs)
			printf("    license differs from the cluster's: run lmutil lmreread\n");
		for (size_t k = 0; k < s->n_skipped_lines; k++) {
			const Lm__SkippedLine *sk = s->skipped_lines[k];
			printf("    license line %u left out (%s): %s\n", sk->line,
			       sk->what ? sk->what : "?", sk->reason ? sk->reason : "?");
		}
		if (s->has_options_sha256) {
			char d[2 * LM_WIRE_DIGEST_LEN + 1];
			hex(&s->options_sha256, d, sizeof d);
			printf("    options %s (sha256 %.16s)\n",
			       s->options_name ? s->options_name : "?", d);
		}
		if (s->has_options_differ && s->options_differ)
			printf("    options file differs from the cluster's: run lmutil "
			       "lmreread\n");
		if (s->has_clock_behind_s)
			printf("    clock set back: %llu s behind the last committed time; "
			       "time-limited licenses are refused (LMC_ECLOCK)\n",
			       (unsigned long long)s->clock_behind_s);
	}
	if (n == 3 && up > 0 && !leader)
		printf("\nNo leader: the servers have no quorum (2 of the 3 must be up and in "
		       "touch)\n"
		       "or are electing one.  New checkouts wait; seats already held last until\n"
		       "their clients' leases run out.\n");
	if (!r) {
		printf("\nNo server answered.\n");
		return;
	}
	printf("\nFeatures:\n");
	if (r->n_features == 0)
		printf("  (none served)\n");
	for (size_t i = 0; i < r->n_features; i++) {
		const Lm__FeatureStatus *f = r->features[i];
		char name[LM_NAME_MAX + 1], version[LM_VERSION_MAX + 1], expiry[16];
		bytes_str(&f->name, name, sizeof name);
		bytes_str(&f->version, version, sizeof version);
		lm_date_format(f->expiry, expiry, sizeof expiry);
		printf("  %s %s: %u of %u seats in use", name, version, f->in_use, f->issued);
		if (f->has_package) {
			char package[LM_NAME_MAX + 1];
			bytes_str(&f->package, package, sizeof package);
			printf(" (from package %s)", package);
		}
		if (f->reserved)
			printf(", %u reserved and idle", f->reserved);
		if (f->overdraft)
			printf(", %u overdraft beyond them", f->overdraft);
		printf(", expires %s", expiry);
		if (f->has_expiry_warning_days && f->expiry_warning_days == 0)
			printf(" (today)");
		else if (f->has_expiry_warning_days)
			printf(" (expires in %d day%s)", f->expiry_warning_days,
			       f->expiry_warning_days == 1 ? "" : "s");
		printf("\n");
		lm_lmstat_print_named(f, "    ");
		for (size_t j = 0; all && j < f->n_reservations; j++) {
			const Lm__Reservation *res = f->reservations[j];
			bytes_str(&res->name, buf, sizeof buf);
			printf("    reserved: %u for %s %s, %u idle (options line %u)\n",
			       res->seats, res->type ? res->type : "?", buf, res->idle, res->line);
		}
		for (size_t j = 0; all && j < f->n_rules; j++)
			printf("    policy: %s\n", f->rules[j]);
		for (size_t j = 0; all && j < f->n_holders; j++) {
			const Lm__Holder *h = f->holders[j];
			char since[32];
			bytes_str(&h->user, buf, sizeof buf);
			bytes_str(&h->host, host, sizeof host);
			bytes_str(&h->display, display, sizeof display);
			print_since(h->since, since, sizeof since);
			if (h->has_suite_reserved && h->suite_reserved) {
				printf("    %s %s %s: reserved by the suite seat held since %s "
				       "(handle %llu, SUITE_RESERVED)\n",
				       buf, host, display, since, (unsigned long long)h->handle);
				continue;
			}
			printf("    %s %s %s, %u seat%s since %s (handle %llu)", buf, host, display,
			       h->count, h->count == 1 ? "" : "s", since,
			       (unsigned long long)h->handle);
			if (h->overdraft)
				printf(", %u overdraft", h->overdraft);
			if (h->has_sharers && h->sharers > 1)
				printf(", shared by %u", h->sharers);
			if (h->has_vendor_data) {
				bytes_str(&h->vendor_data, buf, sizeof buf);
				printf(", vendor data \"%s\"", buf);
			}
			printf("\n");
		}
	}
	if (!all || r->n_admin_actions == 0)
		return;
	printf("\nLast admin actions:\n");
	for (size_t i = 0; i < r->n_admin_actions; i++) {
		const Lm__AdminAction *a = r->admin_actions[i];
		char when[32];
		print_since(a->time, when, sizeof when);
		printf("  %s %s %s by %s from %s%s%s\n", when, a->action ? a->action : "?",
		       a->accepted ? "allowed" : "REFUSED", a->who ? a->who : "?",
		       a->address ? a->address : "?", a->detail && *a->detail ? ": " : "",
		       a->detail ? a->detail : "");
	}
}
