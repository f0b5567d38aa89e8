/* lmutil's server commands for administrators: lmstat, lmdown, lmremove
 * and lmreread.  Each opens a connection per request, says Hello, asks, and
 * prints; the server refuses lmdown, lmremove and lmreread unless they come
 * from its own machine (or it runs with --remote-admin). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/frame_conn.h"
#include "core/date.h"
#include "client/lmc.h"
#include "client/source.h"
#include "proto/frame.h"
#include "tools/cmd.h"
#include "tools/json.h"

#define CALL_TIMEOUT_MS 5000

static int load_servers(const char *cmd, const char *source, struct lm_server_list *list)
{
	char err[512];
	lm_server_list_init(list);
	if (!source)
		source = getenv("LM_LICENSE_FILE");
	if (!source || !*source) {
		fprintf(stderr,
		        "%s: name the servers with -c port@host (or a license file), or set "
		        "LM_LICENSE_FILE\n",
		        cmd);
		return -1;
	}
	if (lm_server_list_load(list, source, err, sizeof err) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		lm_server_list_free(list);
		return -1;
	}
	if (list->nservers == 0) {
		fprintf(stderr, "%s: %s names no license server\n", cmd, source);
		lm_server_list_free(list);
		return -1;
	}
	return 0;
}

/* Opens a connection to a, says Hello and sends req, waiting up to
 * timeout_ms for the answer.  Returns as lm_conn_call; the connection is
 * closed on return unless *reply is set. */
static int ask_within(struct lm_conn *c, const struct lm_server_addr *a, const Lm__Envelope *req,
                      Lm__Envelope **reply, size_t reply_max, unsigned timeout_ms)
{
	*reply = NULL;
	int rc = lm_conn_open(c, a, reply_max, CALL_TIMEOUT_MS);
	if (rc != 0)
		return rc;
	rc = lm_conn_hello(c, NULL, CALL_TIMEOUT_MS);
	if (rc == 0)
		rc = lm_conn_call(c, req, reply, timeout_ms);
	if (!*reply)
		lm_conn_close(c);
	return rc;
}

static int ask(struct lm_conn *c, const struct lm_server_addr *a, const Lm__Envelope *req,
               Lm__Envelope **reply, size_t reply_max)
{
	return ask_within(c, a, req, reply, reply_max, CALL_TIMEOUT_MS);
}

/* Sends req to the leader: the first server that answers, or the one a
 * follower names.  Prints errors; returns 0 with *reply (and c open) or -1. */
static int ask_leader(const char *cmd, const struct lm_server_list *list, const Lm__Envelope *req,
                      struct lm_conn *c, Lm__Envelope **reply)
{
	int rc = LMC_ENOSERVER;
	for (size_t i = 0; i < list->nservers; i++) {
		struct lm_server_addr a = list->servers[i];
		for (int hop = 0; hop < 2; hop++) {
			rc = ask(c, &a, req, reply, LM_FRAME_MAX);
			if (rc == LMC_ENOTLEADER && c->leader[0] &&
			    lm_server_addr_parse(c->leader, &a, NULL, 0) == 0) {
				lm_conn_close(c);
				continue;
			}
			break;
		}
		if (rc == 0)
			return 0;
		fprintf(stderr, "%s: %s\n", cmd, c->error);
		if (*reply) {
			lm_conn_close(c);
			/* The server answered and refused: another server would
			 * say the same, unless this one is not the leader. */
			if (rc != LMC_ENOTLEADER && rc != LMC_ENOQUORUM)
				return -1;
		}
	}
	return -1;
}

/* ---- lmstat ---- */

struct server_view {
	char address[LM_SERVER_NAME_MAX];
	const char *role;
	bool up;
	bool has_lag;
	uint64_t lag;           /* the leader's applied index minus this server's */
	Lm__ServerStatus *self; /* its own entry in its reply */
	Lm__StatusReply *reply;
	struct lm_conn conn;
};

static const char *role_name(int role)
{
	switch (role) {
	case LM__SERVER_ROLE__SERVER_ROLE_LEADER: return "leader";
	case LM__SERVER_ROLE__SERVER_ROLE_FOLLOWER: return "follower";
	case LM__SERVER_ROLE__SERVER_ROLE_CANDIDATE: return "candidate";
	default: return "unknown";
	}
}

/* "joining" for a server that is up but not (yet) a voter: a replacement
 * waiting for lmreplace. */
static const char *view_role(const Lm__ServerStatus *s)
{
	if (s->has_voter && !s->voter)
		return "joining";
	return role_name(s->role);
}

static void hex(const ProtobufCBinaryData *b, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < b->len && n + 3 <= size; i++)
		n += (size_t)snprintf(out + n, size - n, "%02x", b->data[i]);
}

static void bytes_str(const ProtobufCBinaryData *b, char *out, size_t size)
{
	if (lm_bytes_to_cstr(b, out, size) != 0)
		snprintf(out, size, "?");
}

static void print_since(int64_t since, char *buf, size_t size)
{
	time_t t = (time_t)since;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void stat_json(struct server_view *v, size_t n, const Lm__StatusReply *r)
{
	char buf[LM_WIRE_USER_MAX + 1];
	printf("{");
	lm_json_key(stdout, "servers", 1);
	printf("[");
	for (size_t i = 0; i < n; i++) {
		printf("%s{", i ? "," : "");
		lm_json_key(stdout, "address", 1);
		lm_json_string(stdout, v[i].address);
		lm_json_key(stdout, "role", 0);
		lm_json_string(stdout, v[i].role);
		if (v[i].self) {
			const Lm__ServerStatus *s = v[i].self;
			lm_json_key(stdout, "uptime_s", 0);
			printf("%llu", (unsigned long long)s->uptime_s);
			lm_json_key(stdout, "version", 0);
			lm_json_string(stdout, s->version ? s->version : "");
			lm_json_key(stdout, "term", 0);
			printf("%llu", (unsigned long long)s->term);
			lm_json_key(stdout, "applied_index", 0);
			printf("%llu", (unsigned long long)s->applied_index);
			if (v[i].has_lag) {
				lm_json_key(stdout, "lag", 0);
				printf("%llu", (unsigned long long)v[i].lag);
			}
			if (s->has_raft_id) {
				lm_json_key(stdout, "raft_id", 0);
				printf("%llu", (unsigned long long)s->raft_id);
			}
			if (s->raft_address) {
				lm_json_key(stdout, "raft_address", 0);
				lm_json_string(stdout, s->raft_address);
			}
			if (s->has_voter) {
				lm_json_key(stdout, "voter", 0);
				printf("%s", s->voter ? "true" : "false");
			}
			if (s->has_license_differs) {
				lm_json_key(stdout, "license_differs", 0);
				printf("%s", s->license_differs ? "true" : "false");
			}
			if (s->has_digest) {
				char d[2 * LM_WIRE_DIGEST_LEN + 1];
				hex(&s->digest, d, sizeof d);
				lm_json_key(stdout, "digest", 0);
				lm_json_string(stdout, d);
			}
			if (s->has_cluster_id) {
				char d[2 * LM_WIRE_CLUSTER_ID_LEN + 1];
				hex(&s->cluster_id, d, sizeof d);
				lm_json_key(stdout, "cluster_id", 0);
				lm_json_string(stdout, d);
			}
		}
		printf("}");
	}
	printf("]");
	lm_json_key(stdout, "features", 0);
	printf("[");
	for (size_t i = 0; r && i < r->n_features; i++) {
		const Lm__FeatureStatus *f = r->features[i];
		char expiry[16];
		lm_date_format(f->expiry, expiry, sizeof expiry);
		printf("%s{", i ? "," : "");
		lm_json_key(stdout, "name", 1);
		bytes_str(&f->name, buf, sizeof buf);
		lm_json_string(stdout, buf);
		lm_json_key(stdout, "version", 0);
		bytes_str(&f->version, buf, sizeof buf);
		lm_json_string(stdout, buf);
		lm_json_key(stdout, "issued", 0);
		printf("%u", f->issued);
		lm_json_key(stdout, "in_use", 0);
		printf("%u", f->in_use);
		lm_json_key(stdout, "expiry", 0);
		lm_json_string(stdout, expiry);
		lm_json_key(stdout, "holders", 0);
		printf("[");
		for (size_t j = 0; j < f->n_holders; j++) {
			const Lm__Holder *h = f->holders[j];
			printf("%s{", j ? "," : "");
			lm_json_key(stdout, "user", 1);
			bytes_str(&h->user, buf, sizeof buf);
			lm_json_string(stdout, buf);
			lm_json_key(stdout, "host", 0);
			bytes_str(&h->host, buf, sizeof buf);
			lm_json_string(stdout, buf);
			lm_json_key(stdout, "display", 0);
			bytes_str(&h->display, buf, sizeof buf);
			lm_json_string(stdout, buf);
			lm_json_key(stdout, "version", 0);
			bytes_str(&h->version, buf, sizeof buf);
			lm_json_string(stdout, buf);
			lm_json_key(stdout, "count", 0);
			printf("%u", h->count);
			lm_json_key(stdout, "since", 0);
			printf("%lld", (long long)h->since);
			lm_json_key(stdout, "handle", 0);
			printf("%llu", (unsigned long long)h->handle);
			printf("}");
		}
		printf("]}");
	}
	printf("]}\n");
}

static void stat_text(struct server_view *v, size_t n, const Lm__StatusReply *r, bool all)
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
		printf("  %s %s: %u of %u seats in use, expires %s\n", name, version, f->in_use,
		       f->issued, expiry);
		for (size_t j = 0; all && j < f->n_holders; j++) {
			const Lm__Holder *h = f->holders[j];
			char since[32];
			bytes_str(&h->user, buf, sizeof buf);
			bytes_str(&h->host, host, sizeof host);
			bytes_str(&h->display, display, sizeof display);
			print_since(h->since, since, sizeof since);
			printf("    %s %s %s, %u seat%s since %s (handle %llu)\n", buf, host,
			       display, h->count, h->count == 1 ? "" : "s", since,
			       (unsigned long long)h->handle);
		}
	}
}

int lm_cmd_lmstat(int argc, char **argv)
{
	static const struct option options[] = {{"json", no_argument, NULL, 'j'},
	                                        {"digest", no_argument, NULL, 'D'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *source = NULL, *feature = NULL;
	bool all = false, json = false, digest = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:af:", options, NULL)) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		case 'a': all = true; break;
		case 'f': feature = optarg; break;
		case 'j': json = true; break;
		case 'D': digest = true; break;
		case 'h':
			printf("usage: lmutil lmstat -c SERVERS [-a] [-f FEATURE] [--digest] "
			       "[--json]\n"
			       "--digest (implied by --json): each server's digest of its pool "
			       "state; servers\nat the same applied index must show the same.\n");
			return 0;
		default:
			fprintf(stderr, "usage: lmutil lmstat -c SERVERS [-a] [-f FEATURE] "
			                "[--digest] [--json]\n");
			return 2;
		}
	}
	struct lm_server_list list;
	if (load_servers("lmstat", source, &list) != 0)
		return 2;
	struct server_view *v = calloc(list.nservers, sizeof *v);
	if (!v)
		return 1;
	const Lm__StatusReply *best = NULL;
	for (size_t i = 0; i < list.nservers; i++) {
		lm_server_addr_format(&list.servers[i], v[i].address, sizeof v[i].address);
		Lm__Envelope req, *reply;
		lm_envelope_init(&req, 1);
		Lm__StatusRequest q = LM__STATUS_REQUEST__INIT;
		q.has_holders = 1;
		q.holders = all || json;
		q.has_digest = 1;
		q.digest = digest || json;
		if (feature) {
			q.has_feature = 1;
			q.feature = lm_bytes_from_cstr(feature);
		}
		req.body_case = LM__ENVELOPE__BODY_STATUS_REQUEST;
		req.status_request = &q;
		int rc = ask(&v[i].conn, &list.servers[i], &req, &reply, LM_FRAME_REPLY_MAX);
		if (rc != 0 || reply->body_case != LM__ENVELOPE__BODY_STATUS_REPLY) {
			v[i].role = "down";
			if (reply)
				lm_conn_close(&v[i].conn);
			continue;
		}
		v[i].up = true;
		v[i].reply = reply->status_reply;
		v[i].role = "unknown";
		/* The server's own entry is the one that carries its uptime. */
		for (size_t k = 0; k < v[i].reply->n_servers; k++) {
			Lm__ServerStatus *s = v[i].reply->servers[k];
			if (s->has_uptime_s) {
				v[i].self = s;
				v[i].role = view_role(s);
			}
		}
		/* Features as the leader sees them, else any server's view. */
		if (!best || (v[i].self && v[i].self->role == LM__SERVER_ROLE__SERVER_ROLE_LEADER))
			best = v[i].reply;
	}
	/* Lag: how far each server's state is behind the leader's.  The
	 * servers were asked one after the other, so a busy cluster shows a
	 * little lag that is only the time between two questions. */
	const Lm__ServerStatus *lead = NULL;
	for (size_t i = 0; i < list.nservers; i++)
		if (v[i].self && v[i].self->role == LM__SERVER_ROLE__SERVER_ROLE_LEADER &&
		    (!lead || v[i].self->term > lead->term))
			lead = v[i].self;
	for (size_t i = 0; lead && i < list.nservers; i++) {
		if (!v[i].self)
			continue;
		v[i].has_lag = true;
		v[i].lag = v[i].self->applied_index < lead->applied_index
		                   ? lead->applied_index - v[i].self->applied_index
		                   : 0;
	}
	if (json)
		stat_json(v, list.nservers, best);
	else
		stat_text(v, list.nservers, best, all);
	for (size_t i = 0; i < list.nservers; i++)
		if (v[i].up)
			lm_conn_close(&v[i].conn);
	free(v);
	lm_server_list_free(&list);
	return best ? 0 : 1;
}

/* ---- lmdown, lmremove, lmreread ---- */

static int print_admin_reply(const char *cmd, struct lm_conn *c, Lm__Envelope *reply)
{
	int status = 0;
	if (reply->body_case == LM__ENVELOPE__BODY_ADMIN_REPLY)
		printf("%s: %s: %s\n", cmd, c->name,
		       reply->admin_reply->message ? reply->admin_reply->message : "done");
	else
		status = 1;
	lm_conn_close(c);
	return status;
}

int lm_cmd_lmdown(int argc, char **argv)
{
	const char *source = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "c:q")) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		case 'q': break; /* FlexLM's "no prompt": lmutil never prompts */
		default: fprintf(stderr, "usage: lmutil lmdown -c SERVERS [-q]\n"); return 2;
		}
	}
	struct lm_server_list list;
	if (load_servers("lmdown", source, &list) != 0)
		return 2;
	/* Every server of a triad: one left alone could not serve anyway. */
	int status = 0;
	for (size_t i = 0; i < list.nservers; i++) {
		Lm__Envelope req, *reply;
		struct lm_conn c;
		lm_envelope_init(&req, 1);
		Lm__ShutdownRequest q = LM__SHUTDOWN_REQUEST__INIT;
		req.body_case = LM__ENVELOPE__BODY_SHUTDOWN_REQUEST;
		req.shutdown_request = &q;
		int rc = ask(&c, &list.servers[i], &req, &reply, LM_FRAME_MAX);
		if (rc != 0) {
			fprintf(stderr, "lmdown: %s\n", c.error);
			if (reply)
				lm_conn_close(&c);
			status = 1;
			continue;
		}
		status |= print_admin_reply("lmdown", &c, reply);
	}
	lm_server_list_free(&list);
	return status;
}

int lm_cmd_lmremove(int argc, char **argv)
{
	const char *usage = "usage: lmutil lmremove -c SERVERS FEATURE USER HOST [DISPLAY]\n"
	                    "       lmutil lmremove -c SERVERS -h FEATURE HANDLE\n";
	const char *source = NULL;
	bool by_handle = false;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		case 'h': by_handle = true; break;
		default: fputs(usage, stderr); return 2;
		}
	}
	int nargs = argc - optind;
	if (by_handle ? nargs != 2 : (nargs < 3 || nargs > 4)) {
		fputs(usage, stderr);
		return 2;
	}
	char **a = argv + optind;
	Lm__RemoveRequest q = LM__REMOVE_REQUEST__INIT;
	q.has_feature = 1;
	q.feature = lm_bytes_from_cstr(a[0]);
	if (by_handle) {
		char *end;
		q.has_handle = 1;
		q.handle = strtoull(a[1], &end, 10);
		if (*end || !*a[1]) {
			fprintf(stderr,
			        "lmremove: handle %s: expected a number as lmstat -a prints\n",
			        a[1]);
			return 2;
		}
	} else {
		q.has_user = q.has_host = 1;
		q.user = lm_bytes_from_cstr(a[1]);
		q.host = lm_bytes_from_cstr(a[2]);
		if (nargs == 4) {
			q.has_display = 1;
			q.display = lm_bytes_from_cstr(a[3]);
		}
	}
	struct lm_server_list list;
	if (load_servers("lmremove", source, &list) != 0)
		return 2;
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	req.body_case = LM__ENVELOPE__BODY_REMOVE_REQUEST;
	req.remove_request = &q;
	struct lm_conn c;
	int status = ask_leader("lmremove", &list, &req, &c, &reply) == 0
	                     ? print_admin_reply("lmremove", &c, reply)
	                     : 1;
	lm_server_list_free(&list);
	return status;
}

/* Every server reloads its own license file: the leader proposes it as the
 * cluster's license set, which every server then serves; the followers keep
 * their file so that lmstat can tell whether each copy matches.  A server
 * that is down reads its file when it starts, and lmstat says so if it
 * differs from the cluster's set. */
int lm_cmd_lmreread(int argc, char **argv)
{
	const char *source = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		default: fprintf(stderr, "usage: lmutil lmreread -c SERVERS\n"); return 2;
		}
	}
	struct lm_server_list list;
	if (load_servers("lmreread", source, &list) != 0)
		return 2;
	int status = 0;
	size_t done = 0;
	for (size_t i = 0; i < list.nservers; i++) {
		Lm__Envelope req, *reply;
		lm_envelope_init(&req, 1);
		Lm__RereadRequest q = LM__REREAD_REQUEST__INIT;
		req.body_case = LM__ENVELOPE__BODY_REREAD_REQUEST;
		req.reread_request = &q;
		struct lm_conn c;
		int rc = ask(&c, &list.servers[i], &req, &reply, LM_FRAME_MAX);
		if (rc != 0) {
			fprintf(stderr, "lmreread: %s\n", c.error);
			if (reply) {
				/* It answered and refused: the file is wrong. */
				lm_conn_close(&c);
				status = 1;
			}
			continue;
		}
		if (print_admin_reply("lmreread", &c, reply) == 0)
			done++;
		else
			status = 1;
	}
	lm_server_list_free(&list);
	return done > 0 ? status : 1;
}

/* ---- lmreplace ---- */

/* How long the leader may take to add the new server: it must catch up
 * with the whole state first (raft's catch-up rounds). */
#define REPLACE_TIMEOUT_MS 120000

/* Asks a for its status; returns its own ServerStatus (c open) or NULL. */
static const Lm__ServerStatus *own_status(struct lm_conn *c, const struct lm_server_addr *a)
{
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	Lm__StatusRequest q = LM__STATUS_REQUEST__INIT;
	q.has_feature = 1;
	/* A feature name nobody has keeps the answer short. */
	q.feature = lm_bytes_from_cstr("-");
	req.body_case = LM__ENVELOPE__BODY_STATUS_REQUEST;
	req.status_request = &q;
	if (ask(c, a, &req, &reply, LM_FRAME_REPLY_MAX) != 0) {
		if (reply)
			lm_conn_close(c);
		return NULL;
	}
	if (reply->body_case == LM__ENVELOPE__BODY_STATUS_REPLY)
		for (size_t k = 0; k < reply->status_reply->n_servers; k++)
			if (reply->status_reply->servers[k]->has_uptime_s)
				return reply->status_reply->servers[k];
	lm_conn_close(c);
	return NULL;
}

int lm_cmd_lmreplace(int argc, char **argv)
{
	const char *usage = "usage: lmutil lmreplace -c SERVERS --node N\n"
	                    "Makes the server now running for SERVER line N (started with\n"
	                    "`lmd --node N --join` and an empty --data) take the place of the\n"
	                    "dead server of that line in the triad.  SERVERS lists the three\n"
	                    "servers in SERVER line order (a license file does).\n";
	static const struct option options[] = {{"node", required_argument, NULL, 'n'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *source = NULL;
	unsigned long node = 0;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'c': source = optarg; break;
		case 'n':
			node = strtoul(optarg, &end, 10);
			if (*end || node < 1 || node > 3) {
				fprintf(stderr, "lmreplace: --node takes 1, 2 or 3\n");
				return 2;
			}
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!node || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	struct lm_server_list list;
	if (load_servers("lmreplace", source, &list) != 0)
		return 2;
	if (list.nservers != 3) {
		fprintf(stderr, "lmreplace: %s names %zu servers; a triad has three\n",
		        source ? source : "LM_LICENSE_FILE", list.nservers);
		lm_server_list_free(&list);
		return 2;
	}
	int status = 1;
	struct lm_conn nc, lc;
	char name[LM_SERVER_NAME_MAX];
	lm_server_addr_format(&list.servers[node - 1], name, sizeof name);
	const Lm__ServerStatus *fresh = own_status(&nc, &list.servers[node - 1]);
	if (!fresh || !fresh->has_raft_id || !fresh->raft_address) {
		fprintf(stderr,
		        "lmreplace: the new server of SERVER line %lu (%s) does not answer: start "
		        "it first with `lmd --node %lu --join` and an empty --data\n",
		        node, name, node);
		if (fresh)
			lm_conn_close(&nc);
		goto out;
	}
	printf("lmreplace: %s runs as raft id %llu at %s (%s)\n", name,
	       (unsigned long long)fresh->raft_id, fresh->raft_address,
	       fresh->has_voter && !fresh->voter ? "joining" : "already a voter");
	/* The leader is whichever of the others says so. */
	const Lm__ServerStatus *lead = NULL;
	size_t li = 0;
	for (size_t i = 0; i < 3 && !lead; i++) {
		if (i == node - 1)
			continue;
		const Lm__ServerStatus *st = own_status(&lc, &list.servers[i]);
		if (st && st->role == LM__SERVER_ROLE__SERVER_ROLE_LEADER) {
			lead = st;
			li = i;
		} else if (st) {
			lm_conn_close(&lc);
		}
	}
	if (!lead) {
		fprintf(stderr,
		        "lmreplace: neither of the two other servers is the leader: both must be "
		        "up (a quorum) to change the cluster\n");
		lm_conn_close(&nc);
		goto out;
	}
	lm_conn_close(&lc);
	lm_server_addr_format(&list.servers[li], name, sizeof name);
	printf("lmreplace: asking the leader %s to swap it in (it catches up first)\n", name);
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	Lm__ReplaceRequest q = LM__REPLACE_REQUEST__INIT;
	q.has_node = q.has_new_id = 1;
	q.node = (uint32_t)node;
	q.new_id = fresh->raft_id;
	q.new_address = fresh->raft_address;
	req.body_case = LM__ENVELOPE__BODY_REPLACE_REQUEST;
	req.replace_request = &q;
	int rc = ask_within(&lc, &list.servers[li], &req, &reply, LM_FRAME_MAX, REPLACE_TIMEOUT_MS);
	lm_conn_close(&nc);
	if (rc != 0) {
		fprintf(stderr, "lmreplace: %s\n", lc.error);
		if (reply)
			lm_conn_close(&lc);
		goto out;
	}
	status = print_admin_reply("lmreplace", &lc, reply);
out:
	lm_server_list_free(&list);
	return status;
}
