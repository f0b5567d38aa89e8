/* lmutil lmavail FEATURE[:N]...: the seats of each feature free now, for
 * scripts and batch schedulers (README: Slurm's remote licenses).  Exit
 * status 0 when every feature named has at least N free (1 by default), 1
 * when one has fewer (or is not served), 2 for a usage error, 3 when no
 * server answered.
 *
 * Free means free for anyone: the seats issued, less those held, less the
 * idle reserved seats, which only the parties their RESERVE names may take
 * (they are shown apart).  The pools of all versions of a feature add up,
 * as in lmstat's "Users of" line. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "tools/cmd.h"
#include "tools/json.h"
#include "tools/lmutil_admin.h"
#include "tools/lmutil_lmstat.h"
#include "tools/report.h"

enum { AVAIL_ENOUGH = 0, AVAIL_SHORT = 1, AVAIL_USAGE = 2, AVAIL_NO_SERVER = 3 };

struct wanted {
	char name[LM_NAME_MAX + 1];
	uint32_t want;
	bool served;
	uint64_t issued, in_use, reserved, free;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmutil lmavail [-c SERVERS] [-t SECONDS] [--json] FEATURE[:N]...\n"
	        "Prints the seats of each FEATURE free now: issued, less those in use, less\n"
	        "the idle reserved ones (which only the parties their RESERVE names may take).\n"
	        "Exit status: 0 when every FEATURE has at least N free (N is 1 unless given),\n"
	        "1 when one has fewer or is not served, 2 for a usage error, 3 when no\n"
	        "server answered.\n"
	        "-c is port@host[,port@host,...] or a license file; LM_LICENSE_FILE otherwise.\n");
}

/* "stats" or "stats:4". */
static int parse_wanted(const char *arg, struct wanted *w)
{
	const char *colon = strrchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	memset(w, 0, sizeof *w);
	w->want = 1;
	if (len == 0 || len > LM_NAME_MAX) {
		lm_report_fail(LMC_EINVAL, "'%s' names no feature (at most %d bytes)", arg,
		               LM_NAME_MAX);
		return -1;
	}
	memcpy(w->name, arg, len);
	if (colon) {
		char *end;
		unsigned long n = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || n < 1 || n > LM_CHECKOUT_COUNT_MAX) {
			lm_report_fail(LMC_EINVAL, "'%s': the seats wanted after ':' are 1 to %d",
			               arg, LM_CHECKOUT_COUNT_MAX);
			return -1;
		}
		w->want = (uint32_t)n;
	}
	return 0;
}

static void count(struct wanted *w, const Lm__StatusReply *r)
{
	for (size_t i = 0; i < r->n_features; i++) {
		const Lm__FeatureStatus *f = r->features[i];
		if (f->name.len != strlen(w->name) || memcmp(f->name.data, w->name, f->name.len))
			continue;
		uint64_t taken = (uint64_t)f->in_use + f->reserved;
		w->served = true;
		w->issued += f->issued;
		w->in_use += f->in_use;
		w->reserved += f->reserved;
		w->free += taken < f->issued ? f->issued - taken : 0;
	}
}

static int print_json(const struct wanted *w, size_t n, bool enough)
{
	json_t *doc = lm_json_object(), *list = lm_json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = lm_json_object();
		lm_json_set(o, "name", lm_json_text(w[i].name));
		lm_json_set(o, "served", lm_json_bool(w[i].served));
		lm_json_set(o, "wanted", lm_json_int(w[i].want));
		lm_json_set(o, "free", lm_json_u64(w[i].free));
		lm_json_set(o, "issued", lm_json_u64(w[i].issued));
		lm_json_set(o, "in_use", lm_json_u64(w[i].in_use));
		lm_json_set(o, "reserved", lm_json_u64(w[i].reserved));
		lm_json_set(o, "enough", lm_json_bool(w[i].free >= w[i].want));
		lm_json_append(list, o);
	}
	lm_json_set(doc, "features", list);
	lm_json_set(doc, "enough", lm_json_bool(enough));
	return lm_report_print(doc);
}

static void print_text(const struct wanted *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!w[i].served) {
			printf("%s 0 free: not served\n", w[i].name);
			continue;
		}
		printf("%s %llu free of %llu (%llu in use, %llu reserved)", w[i].name,
		       (unsigned long long)w[i].free, (unsigned long long)w[i].issued,
		       (unsigned long long)w[i].in_use, (unsigned long long)w[i].reserved);
		if (w[i].free < w[i].want)
			printf(", fewer than the %u wanted", w[i].want);
		printf("\n");
	}
}

int lm_cmd_lmavail(int argc, char **argv)
{
	static const struct option options[] = {{"json", no_argument, NULL, 'j'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	const char *source = NULL;
	unsigned timeout_ms = lm_lmstat_default_timeout_ms();
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:t:h", options, NULL)) != -1) {
		switch (opt) {
		case 'c': source = optarg; break;
		case 't':
			if (lm_lmstat_parse_timeout(optarg, &timeout_ms) != 0)
				return AVAIL_USAGE;
			break;
		case 'j':
			json = true;
			lm_report_json();
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return AVAIL_USAGE;
		}
	}
	if (optind == argc) {
		lm_report_fail(LMC_EINVAL, "name at least one FEATURE[:N]");
		usage(stderr);
		return AVAIL_USAGE;
	}
	size_t nwanted = (size_t)(argc - optind);
	struct wanted *w = calloc(nwanted, sizeof *w);
	if (!w) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		return AVAIL_NO_SERVER;
	}
	for (size_t i = 0; i < nwanted; i++)
		if (parse_wanted(argv[optind + (int)i], &w[i]) != 0) {
			free(w);
			return AVAIL_USAGE;
		}
	struct lm_source list;
	if (lm_admin_load_servers(source, &list) != 0) {
		free(w);
		return AVAIL_USAGE;
	}
	struct server_view *v = calloc(list.nservers, sizeof *v);
	if (!v) {
		lm_report_fail(LMC_ENOMEM, "out of memory");
		lm_source_free(&list);
		free(w);
		return AVAIL_NO_SERVER;
	}
	/* One feature: ask for it alone; more: one status of all. */
	struct lmstat_query q = {.feature = nwanted == 1 ? w[0].name : NULL,
	                         .timeout_ms = timeout_ms};
	const Lm__StatusReply *r = lm_lmstat_ask(&list, v, &q);
	int status;
	if (!r) {
		lm_report_fail(LMC_ENOSERVER, "no server of %s answered",
		               source ? source : "LM_LICENSE_FILE");
		status = AVAIL_NO_SERVER;
	} else {
		bool enough = true;
		for (size_t i = 0; i < nwanted; i++) {
			count(&w[i], r);
			enough &= w[i].free >= w[i].want;
		}
		status = enough ? AVAIL_ENOUGH : AVAIL_SHORT;
		if (json) {
			if (print_json(w, nwanted, enough) != 0)
				status = AVAIL_NO_SERVER;
		} else {
			print_text(w, nwanted);
		}
	}
	lm_lmstat_close(v, list.nservers);
	lm_source_free(&list);
	free(w);
	return status;
}
