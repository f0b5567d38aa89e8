/* lmutil lmreplace: swaps the dead server of a triad for the server now
 * running in its place (started with `lmd --node N --join` on an empty
 * data directory).  It finds the new server's raft id and address, finds
 * the leader among the two others, and asks the leader to make the swap
 * (raft: add the new server, catch it up, remove the old one).
 *
 * With --json it prints, once the leader has done it,
 *   {"node":N,"address":"27000@new","raft_id":R,"raft_address":"host:port",
 *    "leader":"27000@leader","message":"..."}
 * and a failure is the error object of tools/report.h. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/source.h"
#include "core/error.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_admin.h"
#include "tools/report.h"

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

static void usage(FILE *out)
{
	fprintf(out, "usage: lmutil lmreplace -c SERVERS --node N [--json]\n"
	             "Makes the server now running for SERVER line N (started with\n"
	             "`lmd --node N --join` and an empty --data) take the place of the\n"
	             "dead server of that line in the triad.  SERVERS lists the three\n"
	             "servers in SERVER line order (a license file does).\n");
}

int lm_cmd_lmreplace(int argc, char **argv)
{
	static const struct option options[] = {{"node", required_argument, NULL, 'n'},
	                                        {"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *source = NULL;
	unsigned long node = 0;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		char *end;
		switch (opt) {
		case 'c': source = optarg; break;
		case 'n':
			node = strtoul(optarg, &end, 10);
			if (*end || node < 1 || node > 3) {
				lm_report_fail(LMC_EINVAL, "--node takes 1, 2 or 3");
				return 2;
			}
			break;
		case 'j': lm_report_json(); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!node || optind != argc) {
		usage(stderr);
		return 2;
	}
	bool json = lm_report_is_json();
	struct lm_source list;
	if (lm_admin_load_servers(source, &list) != 0)
		return 2;
	if (list.nservers != 3) {
		lm_report_fail(LMC_EINVAL, "%s names %zu servers; a triad has three",
		               source ? source : "LM_LICENSE_FILE", list.nservers);
		lm_source_free(&list);
		return 2;
	}
	int status = 1;
	struct lm_frame_conn nc, lc;
	char name[LM_ADDRESS_TEXT_MAX], leader[LM_ADDRESS_TEXT_MAX];
	lm_address_format(&list.servers[node - 1], name, sizeof name);
	const Lm__ServerStatus *fresh = own_status(&nc, &list.servers[node - 1]);
	if (!fresh || !fresh->has_raft_id || !fresh->raft_address) {
		lm_report_fail(LMC_ENOSERVER,
		               "the new server of SERVER line %lu (%s) does not answer: start "
		               "it first with `lmd --node %lu --join` and an empty --data",
		               node, name, node);
		if (fresh)
			lm_frame_conn_close(&nc);
		goto out;
	}
	if (!json)
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
		lm_report_fail(LMC_ENOQUORUM,
		               "neither of the two other servers is the leader: both must be up "
		               "(a quorum) to change the cluster");
		lm_frame_conn_close(&nc);
		goto out;
	}
	lm_frame_conn_close(&lc);
	lm_address_format(&list.servers[li], leader, sizeof leader);
	if (!json)
		printf("lmreplace: asking the leader %s to swap it in (it catches up first)\n",
		       leader);
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
	if (rc == 0 && reply->body_case != LM__ENVELOPE__BODY_ADMIN_REPLY) {
		rc = LMC_EPROTO;
		snprintf(lc.error, sizeof lc.error, "%s answered with an unexpected message",
		         leader);
	}
	if (rc != 0) {
		lm_report_fail(rc, "%s", lc.error);
		if (reply)
			lm_frame_conn_close(&lc);
		lm_frame_conn_close(&nc);
		goto out;
	}
	const char *message = reply->admin_reply->message ? reply->admin_reply->message : "done";
	if (json) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "node", lm_json_int((long long)node));
		lm_json_set(doc, "address", lm_json_text(name));
		lm_json_set(doc, "raft_id", lm_json_u64(fresh->raft_id));
		lm_json_set(doc, "raft_address", lm_json_text(fresh->raft_address));
		lm_json_set(doc, "leader", lm_json_text(leader));
		lm_json_set(doc, "message", lm_json_text(message));
		status = lm_report_print(doc);
	} else {
		printf("lmreplace: %s: %s\n", lc.name, message);
		status = 0;
	}
	/* fresh lives in nc's arena: closed only now that it was used. */
	lm_frame_conn_close(&lc);
	lm_frame_conn_close(&nc);
out:
	lm_source_free(&list);
	return status;
}
