/* lmutil lmstat: asks every server of the source for its status and prints
 * the servers, the features and who holds their seats.  The flags are
 * FlexLM's, and so is the text by default (lmutil_lmstat.h):
 *   (none)        the server and vendor daemon blocks
 *   -a            and every feature, with holders and reservations
 *   -f [FEATURE]  one feature's users (every feature's without FEATURE)
 *   -i [FEATURE]  the features' table: version, seats, vendor, expiry
 *   -s [SERVER]   the server block, of one server when named
 *   -S [VENDOR]   the users of the vendor's features
 *   -t SECONDS    how long to wait for each server
 *   -v            lmstat's version
 * --lmd gives lmd's own layout, --json the whole status as JSON. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "proto/frame.h"
#include "tools/cmd.h"
#include "tools/lmutil_admin.h"
#include "tools/lmutil_lmstat.h"
#include "tools/report.h"

/* The longest -t: an hour is already far past any monitor's patience. */
#define LMSTAT_TIMEOUT_MAX_S 3600

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

unsigned lm_lmstat_default_timeout_ms(void)
{
	const char *env = getenv("FLEXLM_TIMEOUT");
	char *end;
	unsigned long long us = env && *env ? strtoull(env, &end, 10) : 0;
	if (!us || *end || us / 1000 > LMSTAT_TIMEOUT_MAX_S * 1000ull)
		return LM_ADMIN_CALL_TIMEOUT_MS;
	return us < 1000 ? 1 : (unsigned)(us / 1000);
}

bool lm_lmstat_names(const struct server_view *v, const char *name)
{
	if (strcmp(v->address, name) == 0)
		return true;
	const char *at = strchr(v->address, '@');
	return at && strcasecmp(at + 1, name) == 0;
}

const char *lm_lmstat_vendor(const struct server_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].self && v[i].self->vendor && *v[i].self->vendor)
			return v[i].self->vendor;
	return "lmd";
}

/* Connect, Hello and the status request, each within timeout_ms. */
static int ask_one(struct server_view *v, const struct lm_address *a, const Lm__Envelope *req,
                   Lm__Envelope **reply, unsigned timeout_ms)
{
	*reply = NULL;
	int rc = lm_admin_connect(&v->conn, a, LM_FRAME_REPLY_MAX, timeout_ms);
	/* Over the admin socket, where this machine has it, the server shows
	 * an admin every holder and the last admin actions. */
	if (rc == 0)
		lm_admin_use_socket(&v->conn, LM_FRAME_REPLY_MAX, timeout_ms);
	if (rc == 0)
		rc = lm_frame_conn_call(&v->conn, req, reply, timeout_ms);
	if (!*reply)
		lm_frame_conn_close(&v->conn);
	return rc;
}

const Lm__StatusReply *lm_lmstat_ask(const struct lm_source *list, struct server_view *v,
                                     const struct lmstat_query *q)
{
	const Lm__StatusReply *best = NULL;
	for (size_t i = 0; i < list->nservers; i++) {
		lm_address_format(&list->servers[i], v[i].address, sizeof v[i].address);
		if (q->only_server && !lm_lmstat_names(&v[i], q->only_server)) {
			v[i].role = "not asked";
			continue;
		}
		v[i].asked = true;
		Lm__Envelope req, *reply;
		lm_envelope_init(&req, 1);
		Lm__StatusRequest sq = LM__STATUS_REQUEST__INIT;
		sq.has_holders = 1;
		sq.holders = q->holders;
		sq.has_digest = 1;
		sq.digest = q->digest;
		if (q->feature) {
			sq.has_feature = 1;
			sq.feature = lm_bytes_from_cstr(q->feature);
		}
		req.body_case = LM__ENVELOPE__BODY_STATUS_REQUEST;
		req.status_request = &sq;
		int rc = ask_one(&v[i], &list->servers[i], &req, &reply, q->timeout_ms);
		if (rc != 0 || reply->body_case != LM__ENVELOPE__BODY_STATUS_REPLY) {
			v[i].role = "down";
			v[i].error = rc ? rc : LMC_EPROTO;
			/* Not a server that is down: someone may be in the
			 * middle, and the report alone would not say so. */
			if (rc == LMC_EKEYPIN || rc == LMC_ETLS || rc == LMC_ENEEDTLS)
				fprintf(stderr, "lmutil: %s (%s)\n", v[i].conn.error,
				        lmc_errname(rc));
			if (reply)
				lm_frame_conn_close(&v[i].conn);
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
	for (size_t i = 0; i < list->nservers; i++)
		if (v[i].self && v[i].self->role == LM__SERVER_ROLE__SERVER_ROLE_LEADER &&
		    (!lead || v[i].self->term > lead->term))
			lead = v[i].self;
	for (size_t i = 0; lead && i < list->nservers; i++) {
		if (!v[i].self)
			continue;
		v[i].has_lag = true;
		v[i].lag = v[i].self->applied_index < lead->applied_index
		                   ? lead->applied_index - v[i].self->applied_index
		                   : 0;
	}
	return best;
}

void lm_lmstat_close(struct server_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].up)
			lm_frame_conn_close(&v[i].conn);
	free(v);
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmutil lmstat [-c SERVERS] [-a] [-f [FEATURE]] [-i [FEATURE]] [-s "
	        "[SERVER]]\n"
	        "                     [-S [VENDOR]] [-t SECONDS] [--lmd] [--digest] [--json]\n"
	        "       lmutil lmstat -v\n"
	        "Shows the license servers and the vendor daemon, with -a every feature's seats\n"
	        "issued and in use (idle reserved seats count as in use), who holds them and\n"
	        "the reservations, in FlexLM's layout (the one lmstat monitors parse).\n"
	        "  -f [FEATURE]  the users of FEATURE (of every feature without it)\n"
	        "  -i [FEATURE]  a table of the features: version, seats, vendor, expiry\n"
	        "  -s [SERVER]   the servers' status only (SERVER: port@host or host)\n"
	        "  -S [VENDOR]   the users of the features VENDOR serves\n"
	        "  -t SECONDS    wait at most this long for each server (default 5, or\n"
	        "                FLEXLM_TIMEOUT microseconds)\n"
	        "  -v            print lmstat's version\n"
	        "  --lmd         lmd's own layout: each server's role, uptime, term, applied\n"
	        "                index and lag\n"
	        "  --digest      (implied by --json) each server's digest of its pool state;\n"
	        "                servers at the same applied index must show the same\n"
	        "-c is port@host[,port@host,...] or a license file; LM_LICENSE_FILE otherwise.\n"
	        "-old (FlexLM's switch for old servers) is accepted and ignored.\n");
}

/* What the command line asks for. */
struct lmstat_args {
	const char *source;
	bool all, features, info, servers, vendors, version;
	const char *feature, *info_feature, *server, *vendor;
	bool json, digest, extended;
	unsigned timeout_ms;
};

/* FlexLM's optional arguments are separate words: "-f stats". */
static const char *optional_word(int argc, char **argv)
{
	if (optarg)
		return optarg;
	if (optind < argc && argv[optind][0] != '-')
		return argv[optind++];
	return NULL;
}

int lm_lmstat_parse_timeout(const char *text, unsigned *ms)
{
	char *end;
	unsigned long s = strtoul(text, &end, 10);
	if (!*text || *end || s < 1 || s > LMSTAT_TIMEOUT_MAX_S) {
		lm_report_fail(LMC_EINVAL, "-t takes whole seconds from 1 to %d, not '%s'",
		               LMSTAT_TIMEOUT_MAX_S, text);
		return -1;
	}
	*ms = (unsigned)s * 1000;
	return 0;
}

/* 0, 1 when --help was printed, or 2 (a usage error, reported). */
static int parse_args(int argc, char **argv, struct lmstat_args *a)
{
	static const struct option options[] = {{"json", no_argument, NULL, 'j'},
	                                        {"lmd", no_argument, NULL, 'L'},
	                                        {"digest", no_argument, NULL, 'D'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	int opt;
	a->timeout_ms = lm_lmstat_default_timeout_ms();
	optind = 1;
	/* '+': stop at the first word that is no flag, so that the optional
	 * arguments can be read as the next word. */
	while ((opt = getopt_long(argc, argv, "+c:af::i::s::S::t:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': a->source = optarg; break;
		case 'a': a->all = true; break;
		case 'f':
			a->features = true;
			a->feature = optional_word(argc, argv);
			break;
		case 'i':
			a->info = true;
			a->info_feature = optional_word(argc, argv);
			break;
		case 's':
			a->servers = true;
			a->server = optional_word(argc, argv);
			break;
		case 'S':
			a->vendors = true;
			a->vendor = optional_word(argc, argv);
			break;
		case 't':
			if (lm_lmstat_parse_timeout(optarg, &a->timeout_ms) != 0)
				return 2;
			break;
		case 'v': a->version = true; break;
		case 'j':
			a->json = true;
			lm_report_json();
			break;
		case 'D': a->digest = true; break;
		case 'L': a->extended = true; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lmstat: unexpected '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* FlexLM's text for what the command line asked. */
static int print_flexlm(const struct lmstat_args *a, struct server_view *v, size_t n,
                        const Lm__StatusReply *r)
{
	const char *vendor = lm_lmstat_vendor(v, n);
	if (a->vendors && a->vendor && r && strcmp(a->vendor, vendor) != 0) {
		lm_report_fail(LMC_ENOFEATURE, "these servers serve vendor %s, not %s", vendor,
		               a->vendor);
		return 1;
	}
	bool usage_part = a->all || a->features || a->vendors;
	if (a->info && !usage_part && !a->servers) {
		if (!r) {
			lm_report_fail(LMC_ENOSERVER, "no server answered");
			return 1;
		}
		lm_lmstat_flexlm_info(r, vendor, a->info_feature, true);
		return 0;
	}
	lm_lmstat_flexlm_header();
	/* -f alone is the feature's block; -s alone the servers'. */
	if (!a->features || a->all || a->vendors || a->servers)
		lm_lmstat_flexlm_servers(v, n);
	if ((!a->features && !a->servers) || a->all || a->vendors)
		lm_lmstat_flexlm_vendor(v, n);
	if (a->vendors)
		printf("Users of features served by %s:\n", vendor);
	else if (a->all)
		printf("Feature usage info:\n\n");
	if (usage_part && r)
		lm_lmstat_flexlm_features(v, n, r, a->all || a->vendors ? NULL : a->feature);
	else if (usage_part && !a->all && !a->vendors && !a->servers)
		/* -f alone has no server block to say that none answered. */
		printf("Error getting status: %s\n",
		       n && v[0].error == LMC_ETIMEDOUT
		               ? "Cannot read data from license server system. (-16,287)"
		               : "Cannot connect to license server system. (-15,570:111 "
		                 "\"Connection refused\")");
	if (a->info && r)
		lm_lmstat_flexlm_info(r, vendor, a->info_feature, false);
	/* A report printed is exit status 0, servers down or not: the
	 * exporter drops every figure otherwise. */
	return 0;
}

int lm_cmd_lmstat(int argc, char **argv)
{
	/* FlexLM's -old (for servers before v2) means nothing here. */
	char **args = calloc((size_t)argc + 1, sizeof *args);
	if (!args) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		return 1;
	}
	int nargs = 0;
	for (int i = 0; i < argc; i++)
		if (i == 0 || strcmp(argv[i], "-old") != 0)
			args[nargs++] = argv[i];
	struct lmstat_args a = {0};
	int rc = parse_args(nargs, args, &a);
	free(args);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (a.version) {
		lm_lmstat_flexlm_version();
		return 0;
	}
	struct lm_source list;
	if (lm_admin_load_servers(a.source, &list) != 0)
		return 2;
	struct server_view *v = calloc(list.nservers, sizeof *v);
	if (!v) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		lm_source_free(&list);
		return 1;
	}
	/* Ask for one feature when only one is shown. */
	const char *feature = a.all || a.vendors ? NULL : a.features ? a.feature : a.info_feature;
	struct lmstat_query q = {
	        .feature = feature,
	        .holders = a.all || a.features || a.vendors || a.json,
	        .digest = a.digest || a.json,
	        .timeout_ms = a.timeout_ms,
	        .only_server = a.servers ? a.server : NULL,
	};
	bool known = !q.only_server;
	for (size_t i = 0; !known && i < list.nservers; i++) {
		lm_address_format(&list.servers[i], v[i].address, sizeof v[i].address);
		known = lm_lmstat_names(&v[i], q.only_server);
	}
	int status;
	if (!known) {
		lm_report_fail(LMC_EINVAL, "%s is not one of the servers of %s", q.only_server,
		               a.source ? a.source : "LM_LICENSE_FILE");
		status = 2;
	} else {
		const Lm__StatusReply *best = lm_lmstat_ask(&list, v, &q);
		if (a.json) {
			status = lm_lmstat_json(v, list.nservers, best) != 0 || !best;
		} else if (a.extended || a.digest) {
			lm_lmstat_lmd_text(v, list.nservers, best, a.all);
			status = best ? 0 : 1;
		} else {
			status = print_flexlm(&a, v, list.nservers, best);
		}
	}
	lm_lmstat_close(v, list.nservers);
	lm_source_free(&list);
	return status;
}
