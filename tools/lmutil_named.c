/* lmutil named-user: the lists of features limited to named users or hosts
 * (USER_BASED, NAMED_USERS, HOST_BASED; lmd/pool_named.c).
 *
 *   lmutil named-user list   -c SERVERS [--json] FEATURE
 *   lmutil named-user remove -c SERVERS [--json] FEATURE NAME
 *
 * list asks the leader's status for FEATURE and prints each name with when
 * it was added and from when it can be removed; remove asks the leader to
 * take NAME off the list, which it refuses before the name's hold (lmd
 * --named-user-hold) has passed, saying when, and while NAME holds seats.
 * remove is an admin request, like lmremove (tools/lmutil_admin.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/source.h"
#include "core/error.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_admin.h"
#include "tools/lmutil_lmstat.h"
#include "tools/report.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: lmutil named-user list -c SERVERS [--json] FEATURE\n"
	             "       lmutil named-user remove -c SERVERS [--json] FEATURE NAME\n"
	             "Shows the named users (or hosts) of a feature whose license says\n"
	             "USER_BASED, NAMED_USERS or HOST_BASED, or takes NAME off the list once\n"
	             "its hold has passed (lmd --named-user-hold, 24 h by default) and it\n"
	             "holds no seat.  remove needs admin authority, as lmremove does.\n");
}

static void utc(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "?");
}

void lm_lmstat_print_named(const Lm__FeatureStatus *f, const char *indent)
{
	if (!f->has_named_max)
		return;
	printf("%snamed %s: %u of %u", indent, f->named_kind ? f->named_kind : "users",
	       f->has_named_count ? f->named_count : (uint32_t)f->n_named, f->named_max);
	for (size_t i = 0; i < f->n_named; i++) {
		char name[LM_WIRE_USER_MAX + 1];
		if (lm_bytes_to_cstr(&f->named[i]->name, name, sizeof name) != 0)
			snprintf(name, sizeof name, "?");
		printf("%s%s", i ? ", " : ": ", name);
	}
	printf("\n");
}

/* The first pool of feature in a status reply that names users or hosts. */
static const Lm__FeatureStatus *named_pool(const Lm__StatusReply *r, const char *feature)
{
	for (size_t i = 0; i < r->n_features; i++) {
		const Lm__FeatureStatus *fs = r->features[i];
		if (fs->has_named_max && lm_bytes_equal(&fs->name, feature))
			return fs;
	}
	return NULL;
}

static int list(const struct lm_source *servers, const char *feature)
{
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	Lm__StatusRequest q = LM__STATUS_REQUEST__INIT;
	q.has_feature = 1;
	q.feature = lm_bytes_from_cstr(feature);
	req.body_case = LM__ENVELOPE__BODY_STATUS_REQUEST;
	req.status_request = &q;
	struct lm_frame_conn c;
	if (lm_admin_ask_leader(servers, &req, &c, &reply) != 0)
		return 1;
	int status = 1;
	const Lm__FeatureStatus *fs = NULL;
	if (reply->body_case != LM__ENVELOPE__BODY_STATUS_REPLY)
		lm_report_fail(LMC_EPROTO, "%s answered with an unexpected message", c.name);
	else if (!(fs = named_pool(reply->status_reply, feature)))
		lm_report_fail(LMC_ENOFEATURE,
		               "%s has no license limited to named users or hosts on %s", feature,
		               c.name);
	if (fs) {
		status = 0;
		const char *kind = fs->named_kind ? fs->named_kind : "users";
		json_t *doc = lm_report_is_json() ? lm_json_object() : NULL, *names = NULL;
		if (doc) {
			names = lm_json_array();
			lm_json_set(doc, "feature", lm_json_text(feature));
			lm_json_set(doc, "kind", lm_json_text(kind));
			lm_json_set(doc, "max", lm_json_int(fs->named_max));
			lm_json_set(doc, "count", lm_json_int(fs->named_count));
		} else {
			printf("%s: %u of %u named %s\n", feature,
			       fs->has_named_count ? fs->named_count : (uint32_t)fs->n_named,
			       fs->named_max, kind);
		}
		for (size_t i = 0; i < fs->n_named; i++) {
			const Lm__NamedEntry *e = fs->named[i];
			char name[LM_WIRE_USER_MAX + 1], added[40], removable[40];
			if (lm_bytes_to_cstr(&e->name, name, sizeof name) != 0)
				snprintf(name, sizeof name, "?");
			utc(e->added, added, sizeof added);
			utc(e->removable, removable, sizeof removable);
			if (doc) {
				json_t *one = lm_json_object();
				lm_json_set(one, "name", lm_json_text(name));
				lm_json_set(one, "added", lm_json_int(e->added));
				lm_json_set(one, "removable", lm_json_int(e->removable));
				lm_json_append(names, one);
			} else {
				printf("  %s  added %s, removable from %s\n", name, added,
				       removable);
			}
		}
		if (doc) {
			lm_json_set(doc, "named", names);
			lm_report_print(doc);
		}
	}
	lm_frame_conn_close(&c);
	return status;
}

static int remove_name(const struct lm_source *servers, const char *feature, const char *name)
{
	Lm__RemoveRequest q = LM__REMOVE_REQUEST__INIT;
	q.has_feature = q.has_named = 1;
	q.feature = lm_bytes_from_cstr(feature);
	q.named = lm_bytes_from_cstr(name);
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	req.body_case = LM__ENVELOPE__BODY_REMOVE_REQUEST;
	req.remove_request = &q;
	struct lm_frame_conn c;
	if (lm_admin_ask_leader(servers, &req, &c, &reply) != 0)
		return 1;
	int status = 1;
	if (reply->body_case != LM__ENVELOPE__BODY_ADMIN_REPLY) {
		lm_report_fail(LMC_EPROTO, "%s answered with an unexpected message", c.name);
	} else {
		const char *msg =
		        reply->admin_reply->message ? reply->admin_reply->message : "done";
		status = 0;
		if (lm_report_is_json()) {
			json_t *doc = lm_json_object();
			lm_json_set(doc, "address", lm_json_text(c.name));
			lm_json_set(doc, "ok", lm_json_bool(true));
			lm_json_set(doc, "message", lm_json_text(msg));
			lm_report_print(doc);
		} else {
			printf("named-user: %s: %s\n", c.name, msg);
		}
	}
	lm_frame_conn_close(&c);
	return status;
}

int lm_cmd_named_user(int argc, char **argv)
{
	static const struct option options[] = {{"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *source = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		case 'j': lm_report_json(); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	int nargs = argc - optind;
	char **a = argv + optind;
	bool is_list = nargs == 2 && strcmp(a[0], "list") == 0;
	bool is_remove = nargs == 3 && strcmp(a[0], "remove") == 0;
	if (!is_list && !is_remove) {
		usage(stderr);
		return 2;
	}
	struct lm_source servers;
	if (lm_admin_load_servers(source, &servers) != 0)
		return 2;
	int status = is_list ? list(&servers, a[1]) : remove_name(&servers, a[1], a[2]);
	lm_source_free(&servers);
	return status;
}
