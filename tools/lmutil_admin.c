/* lmutil's server commands for administrators: lmdown, lmremove, lmreread
 * and lmreplace, and how every server command asks (tools/lmutil_admin.h;
 * lmstat, the longest, is lmutil_lmstat.c).  Each opens a connection per
 * request, says Hello, asks, and prints; the server refuses lmdown, lmremove
 * and lmreread unless they come from its own machine (or it runs with
 * --remote-admin). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/source.h"
#include "core/date.h"
#include "core/error.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_admin.h"

int lm_admin_load_servers(const char *cmd, const char *source, struct lm_source *list)
{
	char err[512];
	lm_source_init(list);
	if (!source)
		source = getenv("LM_LICENSE_FILE");
	if (!source || !*source) {
		fprintf(stderr,
		        "%s: name the servers with -c port@host (or a license file), or set "
		        "LM_LICENSE_FILE\n",
		        cmd);
		return -1;
	}
	if (lm_source_load(list, source, err, sizeof err) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		lm_source_free(list);
		return -1;
	}
	if (list->nservers == 0) {
		fprintf(stderr, "%s: %s names no license server\n", cmd, source);
		lm_source_free(list);
		return -1;
	}
	return 0;
}

/* Opens a connection to a, says Hello and sends req, waiting up to
 * timeout_ms for the answer.  Returns as lm_frame_conn_call; the connection is
 * closed on return unless *reply is set. */
int lm_admin_ask_within(struct lm_frame_conn *c, const struct lm_address *a,
                        const Lm__Envelope *req, Lm__Envelope **reply, size_t reply_max,
                        unsigned timeout_ms)
{
	*reply = NULL;
	int rc = lm_frame_conn_open(c, a, reply_max, LM_ADMIN_CALL_TIMEOUT_MS);
	if (rc != 0)
		return rc;
	rc = lm_frame_conn_hello(c, NULL, LM_ADMIN_CALL_TIMEOUT_MS);
	if (rc == 0)
		rc = lm_frame_conn_call(c, req, reply, timeout_ms);
	if (!*reply)
		lm_frame_conn_close(c);
	return rc;
}

int lm_admin_ask(struct lm_frame_conn *c, const struct lm_address *a, const Lm__Envelope *req,
                 Lm__Envelope **reply, size_t reply_max)
{
	return lm_admin_ask_within(c, a, req, reply, reply_max, LM_ADMIN_CALL_TIMEOUT_MS);
}

/* Sends req to the leader: the first server that answers, or the one a
 * follower names.  Prints errors; returns 0 with *reply (and c open) or -1. */
int lm_admin_ask_leader(const char *cmd, const struct lm_source *list, const Lm__Envelope *req,
                        struct lm_frame_conn *c, Lm__Envelope **reply)
{
	int rc = LMC_ENOSERVER;
	for (size_t i = 0; i < list->nservers; i++) {
		struct lm_address a = list->servers[i];
		for (int hop = 0; hop < 2; hop++) {
			rc = lm_admin_ask(c, &a, req, reply, LM_FRAME_MAX);
			if (rc == LMC_ENOTLEADER && c->leader[0] &&
			    lm_address_parse(c->leader, &a, NULL, 0) == 0) {
				lm_frame_conn_close(c);
				continue;
			}
			break;
		}
		if (rc == 0)
			return 0;
		fprintf(stderr, "%s: %s\n", cmd, c->error);
		if (*reply) {
			lm_frame_conn_close(c);
			/* The server answered and refused: another server would
			 * say the same, unless this one is not the leader. */
			if (rc != LMC_ENOTLEADER && rc != LMC_ENOQUORUM)
				return -1;
		}
	}
	return -1;
}

/* ---- lmdown, lmremove, lmreread ---- */

static int print_admin_reply(const char *cmd, struct lm_frame_conn *c, Lm__Envelope *reply)
{
	int status = 0;
	if (reply->body_case == LM__ENVELOPE__BODY_ADMIN_REPLY)
		printf("%s: %s: %s\n", cmd, c->name,
		       reply->admin_reply->message ? reply->admin_reply->message : "done");
	else
		status = 1;
	lm_frame_conn_close(c);
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
	struct lm_source list;
	if (lm_admin_load_servers("lmdown", source, &list) != 0)
		return 2;
	/* Every server of a triad: one left alone could not serve anyway. */
	int status = 0;
	for (size_t i = 0; i < list.nservers; i++) {
		Lm__Envelope req, *reply;
		struct lm_frame_conn c;
		lm_envelope_init(&req, 1);
		Lm__ShutdownRequest q = LM__SHUTDOWN_REQUEST__INIT;
		req.body_case = LM__ENVELOPE__BODY_SHUTDOWN_REQUEST;
		req.shutdown_request = &q;
		int rc = lm_admin_ask(&c, &list.servers[i], &req, &reply, LM_FRAME_MAX);
		if (rc != 0) {
			fprintf(stderr, "lmdown: %s\n", c.error);
			if (reply)
				lm_frame_conn_close(&c);
			status = 1;
			continue;
		}
		status |= print_admin_reply("lmdown", &c, reply);
	}
	lm_source_free(&list);
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
	struct lm_source list;
	if (lm_admin_load_servers("lmremove", source, &list) != 0)
		return 2;
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	req.body_case = LM__ENVELOPE__BODY_REMOVE_REQUEST;
	req.remove_request = &q;
	struct lm_frame_conn c;
	int status = lm_admin_ask_leader("lmremove", &list, &req, &c, &reply) == 0
	                     ? print_admin_reply("lmremove", &c, reply)
	                     : 1;
	lm_source_free(&list);
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
	struct lm_source list;
	if (lm_admin_load_servers("lmreread", source, &list) != 0)
		return 2;
	int status = 0;
	size_t done = 0;
	for (size_t i = 0; i < list.nservers; i++) {
		Lm__Envelope req, *reply;
		lm_envelope_init(&req, 1);
		Lm__RereadRequest q = LM__REREAD_REQUEST__INIT;
		req.body_case = LM__ENVELOPE__BODY_REREAD_REQUEST;
		req.reread_request = &q;
		struct lm_frame_conn c;
		int rc = lm_admin_ask(&c, &list.servers[i], &req, &reply, LM_FRAME_MAX);
		if (rc != 0) {
			fprintf(stderr, "lmreread: %s\n", c.error);
			if (reply) {
				/* It answered and refused: the file is wrong. */
				lm_frame_conn_close(&c);
				status = 1;
			}
			continue;
		}
		if (print_admin_reply("lmreread", &c, reply) == 0)
			done++;
		else
			status = 1;
	}
	lm_source_free(&list);
	return done > 0 ? status : 1;
}

/* ---- lmreplace ---- */

/* How long the leader may take to add the new server: it must catch up
 * with the whole state first (raft's catch-up rounds). */
#define REPLACE_TIMEOUT_MS 120000

/* Asks a for its status; returns its own ServerStatus (c open) or NULL. */
static const Lm__ServerStatus *own_status(struct lm_frame_conn *c, const struct lm_address *a)
{
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	Lm__StatusRequest q = LM__STATUS_REQUEST__INIT;
	q.has_feature = 1;
	/* A feature name nobody has keeps the answer short. */
	q.feature = lm_bytes_from_cstr("-");
	req.body_case = LM__ENVELOPE__BODY_STATUS_REQUEST;
	req.status_request = &q;
	if (lm_admin_ask(c, a, &req, &reply, LM_FRAME_REPLY_MAX) != 0) {
		if (reply)
			lm_frame_conn_close(c);
		return NULL;
	}
	if (reply->body_case == LM__ENVELOPE__BODY_STATUS_REPLY)
		for (size_t k = 0; k < reply->status_reply->n_servers; k++)
			if (reply->status_reply->servers[k]->has_uptime_s)
				return reply->status_reply->servers[k];
	lm_frame_conn_close(c);
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
	struct lm_source list;
	if (lm_admin_load_servers("lmreplace", source, &list) != 0)
		return 2;
	if (list.nservers != 3) {
		fprintf(stderr, "lmreplace: %s names %zu servers; a triad has three\n",
		        source ? source : "LM_LICENSE_FILE", list.nservers);
		lm_source_free(&list);
		return 2;
	}
	int status = 1;
	struct lm_frame_conn nc, lc;
	char name[LM_ADDRESS_TEXT_MAX];
	lm_address_format(&list.servers[node - 1], name, sizeof name);
	const Lm__ServerStatus *fresh = own_status(&nc, &list.servers[node - 1]);
	if (!fresh || !fresh->has_raft_id || !fresh->raft_address) {
		fprintf(stderr,
		        "lmreplace: the new server of SERVER line %lu (%s) does not answer: start "
		        "it first with `lmd --node %lu --join` and an empty --data\n",
		        node, name, node);
		if (fresh)
			lm_frame_conn_close(&nc);
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
			lm_frame_conn_close(&lc);
		}
	}
	if (!lead) {
		fprintf(stderr,
		        "lmreplace: neither of the two other servers is the leader: both must be "
		        "up (a quorum) to change the cluster\n");
		lm_frame_conn_close(&nc);
		goto out;
	}
	lm_frame_conn_close(&lc);
	lm_address_format(&list.servers[li], name, sizeof name);
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
	int rc = lm_admin_ask_within(&lc, &list.servers[li], &req, &reply, LM_FRAME_MAX,
	                             REPLACE_TIMEOUT_MS);
	lm_frame_conn_close(&nc);
	if (rc != 0) {
		fprintf(stderr, "lmreplace: %s\n", lc.error);
		if (reply)
			lm_frame_conn_close(&lc);
		goto out;
	}
	status = print_admin_reply("lmreplace", &lc, reply);
out:
	lm_source_free(&list);
	return status;
}
