/* lmutil's server commands for administrators: lmdown, lmremove and
 * lmreread, and how every server command asks (tools/lmutil_admin.h;
 * lmstat is lmutil_lmstat.c, lmreplace lmutil_replace.c).  Each opens a
 * connection per request, says Hello, asks, and prints; the server refuses
 * lmdown, lmremove, lmreread and lmreplace unless they come over its admin
 * socket from root or its admin group, or are signed with an admin key
 * (LM_ADMIN_KEY, lmutil_admin_key.c).
 *
 * With --json, lmremove prints the leader's answer and lmdown and lmreread
 * the answer of every server, each as
 *   {"address":"27000@host","ok":true,"message":"...","affected":N}
 * or, for a server that failed, "ok":false and "error":{code,number,message}
 * in place of message and affected. */
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
#include "tools/report.h"

/* The servers lmutil was given, with the keys their SERVER lines pin, and
 * LMC_TLS: every connection to a client port speaks TLS as liblmc would. */
static struct lm_source pins;
static enum lm_frame_tls_use tls_use;

int lm_admin_connect(struct lm_frame_conn *c, const struct lm_address *a, size_t reply_max,
                     unsigned timeout_ms)
{
	return lm_frame_conn_greet(c, a, reply_max, timeout_ms, tls_use, lm_source_pin(&pins, a),
	                           NULL);
}

int lm_admin_load_servers(const char *source, struct lm_source *list)
{
	char err[512];
	lm_source_init(list);
	if (!source)
		source = getenv("LM_LICENSE_FILE");
	if (!source || !*source) {
		lm_report_fail(LMC_EINVAL, "name the servers with -c port@host (or a license "
		                           "file), or set LM_LICENSE_FILE");
		return -1;
	}
	int rc = lm_source_load(list, source, err, sizeof err);
	if (rc != 0) {
		lm_report_fail(rc, "%s", err);
		lm_source_free(list);
		return -1;
	}
	if (lm_frame_conn_tls_use(getenv("LMC_TLS"), &tls_use) != 0) {
		lm_report_fail(LMC_EINVAL, "LMC_TLS=%.40s: say off, on or require",
		               getenv("LMC_TLS"));
		lm_source_free(list);
		return -1;
	}
	pins = *list;
	if (list->nservers == 0) {
		lm_report_fail(LMC_ENOSERVER, "%s names no license server", source);
		lm_source_free(list);
		return -1;
	}
	return 0;
}

/* ---- admin authority: the admin socket, or an admin key ---- */

bool lm_admin_use_socket(struct lm_frame_conn *c, size_t reply_max, unsigned timeout_ms)
{
	if (!c->admin_socket[0] || !c->has_instance)
		return false;
	struct lm_frame_conn local;
	if (lm_frame_conn_open_unix(&local, c->admin_socket, c->name, reply_max) != 0)
		return false;
	/* The same path on this machine may belong to another server: only
	 * the process that answered over the network will do. */
	if (lm_frame_conn_hello(&local, NULL, timeout_ms) != 0 || !local.has_instance ||
	    memcmp(local.instance, c->instance, LM_ADMIN_INSTANCE_LEN) != 0) {
		lm_frame_conn_close(&local);
		return false;
	}
	lm_frame_conn_move(c, &local);
	return true;
}

static bool is_admin_request(Lm__Envelope__BodyCase body)
{
	return body == LM__ENVELOPE__BODY_REMOVE_REQUEST ||
	       body == LM__ENVELOPE__BODY_SHUTDOWN_REQUEST ||
	       body == LM__ENVELOPE__BODY_REREAD_REQUEST ||
	       body == LM__ENVELOPE__BODY_REPLACE_REQUEST;
}

/* The admin key LM_ADMIN_KEY names, loaded once; NULL when unset.  A key
 * that cannot be used ends lmutil: going on unsigned would only be
 * refused. */
static const struct lm_admin_signer *admin_signer(void)
{
	static struct lm_admin_signer signer;
	static bool loaded;
	const char *path = getenv("LM_ADMIN_KEY");
	if (!path || !*path)
		return NULL;
	if (!loaded) {
		char err[512];
		int rc = lm_admin_signer_load(&signer, path, err, sizeof err);
		if (rc != 0) {
			lm_report_fail(rc, "LM_ADMIN_KEY: %s", err);
			exit(2);
		}
		loaded = true;
	}
	return &signer;
}

/* Sends req signed with sg: asks the server for a challenge, signs it with
 * the packed request, and sends both. */
static int call_signed(struct lm_frame_conn *c, const struct lm_admin_signer *sg,
                       const Lm__Envelope *req, Lm__Envelope **reply, unsigned timeout_ms)
{
	Lm__Envelope ask;
	lm_envelope_init(&ask, req->request_id);
	Lm__AdminChallengeRequest cq = LM__ADMIN_CHALLENGE_REQUEST__INIT;
	ask.body_case = LM__ENVELOPE__BODY_ADMIN_CHALLENGE_REQUEST;
	ask.admin_challenge_request = &cq;
	int rc = lm_frame_conn_call(c, &ask, reply, timeout_ms);
	if (rc != 0)
		return rc;
	if ((*reply)->body_case != LM__ENVELOPE__BODY_ADMIN_CHALLENGE) {
		snprintf(c->error, sizeof c->error, "%s answered a challenge request with %s",
		         c->name, lm_body_name((*reply)->body_case));
		*reply = NULL;
		return LMC_EPROTO;
	}
	uint8_t nonce[LM_ADMIN_NONCE_LEN];
	memcpy(nonce, (*reply)->admin_challenge->nonce.data, sizeof nonce);
	*reply = NULL;
	size_t len = lm__envelope__get_packed_size(req);
	uint8_t *packed = malloc(len);
	if (!packed)
		return LMC_ENOMEM;
	lm__envelope__pack(req, packed);
	uint8_t sig[LM_SIG_LEN];
	rc = lm_admin_sign(sg, nonce, packed, len, sig);
	if (rc != 0) {
		free(packed);
		snprintf(c->error, sizeof c->error, "cannot sign with admin key %s", sg->name);
		return rc;
	}
	Lm__Envelope e;
	lm_envelope_init(&e, req->request_id);
	Lm__SignedAdminRequest sr = LM__SIGNED_ADMIN_REQUEST__INIT;
	sr.has_key_name = sr.has_request = sr.has_signature = 1;
	sr.key_name = lm_bytes_from_cstr(sg->name);
	sr.request.data = packed;
	sr.request.len = len;
	sr.signature.data = sig;
	sr.signature.len = sizeof sig;
	e.body_case = LM__ENVELOPE__BODY_SIGNED_ADMIN_REQUEST;
	e.signed_admin_request = &sr;
	rc = lm_frame_conn_call(c, &e, reply, timeout_ms);
	free(packed);
	return rc;
}

/* Opens a connection to a, says Hello and sends req, waiting up to
 * timeout_ms for the answer.  An admin request is signed when LM_ADMIN_KEY
 * names a key, else goes over the server's admin socket when this machine
 * has it; lmstat's status request goes there too, where the server shows
 * admins the holders and the last admin actions.  Returns as
 * lm_frame_conn_call; the connection is closed on return unless *reply is
 * set. */
int lm_admin_ask_within(struct lm_frame_conn *c, const struct lm_address *a,
                        const Lm__Envelope *req, Lm__Envelope **reply, size_t reply_max,
                        unsigned timeout_ms)
{
	*reply = NULL;
	int rc = lm_admin_connect(c, a, reply_max, LM_ADMIN_CALL_TIMEOUT_MS);
	if (rc != 0)
		return rc;
	bool admin = is_admin_request(req->body_case);
	const struct lm_admin_signer *sg = admin ? admin_signer() : NULL;
	if (rc == 0 && !sg && (admin || req->body_case == LM__ENVELOPE__BODY_STATUS_REQUEST))
		lm_admin_use_socket(c, reply_max, LM_ADMIN_CALL_TIMEOUT_MS);
	if (rc == 0)
		rc = sg ? call_signed(c, sg, req, reply, timeout_ms)
		        : lm_frame_conn_call(c, req, reply, timeout_ms);
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
 * follower names.  Reports each failure; returns 0 with *reply (and c
 * open) or -1. */
int lm_admin_ask_leader(const struct lm_source *list, const Lm__Envelope *req,
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
		lm_report_fail(rc, "%s", c->error);
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

/* What one server said: its AdminReply (ok), or a failure. */
struct outcome {
	char address[LM_ADDRESS_TEXT_MAX];
	int code;
	/* The server's line, or the failure's sentence (lm_frame_conn's). */
	char message[sizeof((struct lm_frame_conn *)0)->error];
	bool has_affected;
	uint32_t affected;
};

static json_t *outcome_json(const struct outcome *o)
{
	json_t *doc = lm_json_object();
	lm_json_set(doc, "address", lm_json_text(o->address));
	lm_json_set(doc, "ok", lm_json_bool(o->code == 0));
	if (o->code != 0) {
		lm_json_set(doc, "error", lm_json_error(o->code, o->message));
		return doc;
	}
	lm_json_set(doc, "message", lm_json_text(o->message));
	if (o->has_affected)
		lm_json_set(doc, "affected", lm_json_int(o->affected));
	return doc;
}

/* Reads the answer of an admin request (rc and reply as lm_admin_ask left
 * them) into o, reports it (a line on stdout, or a failure) and closes c.
 * Returns o->code. */
static int take_answer(const char *cmd, struct lm_frame_conn *c, int rc, Lm__Envelope *reply,
                       struct outcome *o)
{
	o->has_affected = false;
	if (rc == 0 && reply->body_case != LM__ENVELOPE__BODY_ADMIN_REPLY) {
		rc = LMC_EPROTO;
		snprintf(c->error, sizeof c->error, "%s answered with an unexpected message",
		         o->address);
	}
	o->code = rc;
	if (rc != 0) {
		snprintf(o->message, sizeof o->message, "%s", c->error);
		lm_report_fail(rc, "%s", c->error);
	} else {
		const Lm__AdminReply *r = reply->admin_reply;
		snprintf(o->message, sizeof o->message, "%s", r->message ? r->message : "done");
		o->has_affected = r->has_affected;
		o->affected = r->affected;
		if (!lm_report_is_json())
			printf("%s: %s: %s\n", cmd, c->name, o->message);
	}
	if (reply)
		lm_frame_conn_close(c);
	return rc;
}

/* Asks every server of list req, one after the other.  Returns the
 * number of servers that did it; *refused counts those that answered
 * and refused.  With --json, prints {"servers":[outcome...]}. */
static size_t ask_every_server(const char *cmd, const struct lm_source *list,
                               const Lm__Envelope *req, size_t *refused)
{
	json_t *servers = lm_report_is_json() ? lm_json_array() : NULL;
	size_t done = 0;
	*refused = 0;
	for (size_t i = 0; i < list->nservers; i++) {
		struct outcome o;
		struct lm_frame_conn c;
		Lm__Envelope *reply;
		lm_address_format(&list->servers[i], o.address, sizeof o.address);
		int rc = lm_admin_ask(&c, &list->servers[i], req, &reply, LM_FRAME_MAX);
		bool answered = reply != NULL;
		if (take_answer(cmd, &c, rc, reply, &o) == 0)
			done++;
		else if (answered)
			(*refused)++;
		if (servers)
			lm_json_append(servers, outcome_json(&o));
	}
	if (servers) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "servers", servers);
		lm_report_print(doc);
	}
	return done;
}

static void lmdown_usage(FILE *out)
{
	fprintf(out, "usage: lmutil lmdown -c SERVERS [-q] [--json]\n"
	             "Shuts down every license server of SERVERS (all three of a triad).\n"
	             "-q is accepted for FlexLM's sake: lmutil never prompts.\n");
}

int lm_cmd_lmdown(int argc, char **argv)
{
	static const struct option options[] = {{"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *source = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:qh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		case 'q': break; /* FlexLM's "no prompt": lmutil never prompts */
		case 'j': lm_report_json(); break;
		case 'h': lmdown_usage(stdout); return 0;
		default: lmdown_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		lmdown_usage(stderr);
		return 2;
	}
	struct lm_source list;
	if (lm_admin_load_servers(source, &list) != 0)
		return 2;
	/* Every server of a triad: one left alone could not serve anyway. */
	Lm__Envelope req;
	lm_envelope_init(&req, 1);
	Lm__ShutdownRequest q = LM__SHUTDOWN_REQUEST__INIT;
	req.body_case = LM__ENVELOPE__BODY_SHUTDOWN_REQUEST;
	req.shutdown_request = &q;
	size_t refused;
	size_t done = ask_every_server("lmdown", &list, &req, &refused);
	int status = done == list.nservers ? 0 : 1;
	lm_source_free(&list);
	return status;
}

static void lmremove_usage(FILE *out)
{
	fprintf(out, "usage: lmutil lmremove -c SERVERS [--json] FEATURE USER HOST [DISPLAY]\n"
	             "       lmutil lmremove -c SERVERS [--json] -h FEATURE HANDLE\n"
	             "Returns the seats of FEATURE that USER holds on HOST (and DISPLAY), or\n"
	             "those of the checkout HANDLE that lmstat -a prints, to the pool.\n"
	             "-h is FlexLM's \"by handle\"; alone, or --help, prints this.\n");
}

int lm_cmd_lmremove(int argc, char **argv)
{
	static const struct option options[] = {{"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'H'},
	                                        {NULL, 0, NULL, 0}};
	/* FlexLM's lmremove takes -h for a handle; a bare -h, which could not
	 * name one, asks for help as it does everywhere else. */
	if (argc == 2 && strcmp(argv[1], "-h") == 0) {
		lmremove_usage(stdout);
		return 0;
	}
	const char *source = NULL;
	bool by_handle = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		case 'h': by_handle = true; break;
		case 'j': lm_report_json(); break;
		case 'H': lmremove_usage(stdout); return 0;
		default: lmremove_usage(stderr); return 2;
		}
	}
	int nargs = argc - optind;
	if (by_handle ? nargs != 2 : (nargs < 3 || nargs > 4)) {
		lmremove_usage(stderr);
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
			lm_report_fail(LMC_EINVAL,
			               "handle %s: expected a number as lmstat -a prints", a[1]);
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
	if (lm_admin_load_servers(source, &list) != 0)
		return 2;
	Lm__Envelope req, *reply;
	lm_envelope_init(&req, 1);
	req.body_case = LM__ENVELOPE__BODY_REMOVE_REQUEST;
	req.remove_request = &q;
	struct lm_frame_conn c;
	int status = 1;
	if (lm_admin_ask_leader(&list, &req, &c, &reply) == 0) {
		struct outcome o;
		snprintf(o.address, sizeof o.address, "%s", c.name);
		if (take_answer("lmremove", &c, 0, reply, &o) == 0) {
			status = 0;
			if (lm_report_is_json())
				lm_report_print(outcome_json(&o));
		}
	}
	lm_source_free(&list);
	return status;
}

static void lmreread_usage(FILE *out)
{
	fprintf(out, "usage: lmutil lmreread -c SERVERS [--json]\n"
	             "Makes every license server of SERVERS read its license file again and\n"
	             "serve it.  Exit 0 when some server reloaded and none refused.\n");
}

/* Every server reloads its own license file: the leader proposes it as the
 * cluster's license set, which every server then serves; the followers keep
 * their file so that lmstat can tell whether each copy matches.  A server
 * that is down reads its file when it starts, and lmstat says so if it
 * differs from the cluster's set. */
int lm_cmd_lmreread(int argc, char **argv)
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
		case 'h': lmreread_usage(stdout); return 0;
		default: lmreread_usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		lmreread_usage(stderr);
		return 2;
	}
	struct lm_source list;
	if (lm_admin_load_servers(source, &list) != 0)
		return 2;
	Lm__Envelope req;
	lm_envelope_init(&req, 1);
	Lm__RereadRequest q = LM__REREAD_REQUEST__INIT;
	req.body_case = LM__ENVELOPE__BODY_REREAD_REQUEST;
	req.reread_request = &q;
	/* A server that is down reads its file when it starts; one that
	 * answered and refused has a wrong file. */
	size_t refused;
	size_t done = ask_every_server("lmreread", &list, &req, &refused);
	lm_source_free(&list);
	return done > 0 && refused == 0 ? 0 : 1;
}
