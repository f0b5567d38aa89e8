/* lmc contexts: what an application opens once and checks seats out of.
 *
 * A context holds the vendor public key, the licenses found through the
 * license source and this machine's lock code.  Node-locked (uncounted)
 * licenses are honoured here with no server at all. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/date.h"
#include "client/key.h"
#include "client/license.h"
#include "client/lmc.h"
#include "client/lockcode.h"
#include "client/nodelock.h"

#define MAX_SOURCES 16
#define MAX_HANDLES 1024

struct held_seat {
	uint64_t handle;
	char feature[LM_NAME_MAX + 1];
	unsigned count;
};

struct lmc_ctx {
	pthread_mutex_t lock;
	EVP_PKEY *vendor_key;
	struct lm_machine machine;
	struct lm_license_file files[MAX_SOURCES];
	size_t nfiles;
	struct held_seat held[MAX_HANDLES];
	size_t nheld;
	uint64_t next_handle;
	char last_error[512];
};

static int set_error(char *buf, size_t size, int code, const char *message, const char *arg)
{
	if (buf && size)
		snprintf(buf, size, "%s%s", message, arg ? arg : "");
	return code;
}

/* Splits a license source ("a,b" or "a:b" as LM_LICENSE_FILE allows) and
 * loads each file entry.  Server entries (port@host) are for the server
 * client; a context with only those has no local licenses. */
static int load_sources(struct lmc_ctx *ctx, const char *source, char *err, size_t errsize)
{
	char *copy = strdup(source);
	if (!copy)
		return LMC_ENOMEM;
	int rc = 0;
	char *save = NULL;
	for (char *entry = strtok_r(copy, ",:", &save); entry; entry = strtok_r(NULL, ",:", &save)) {
		if (strchr(entry, '@'))
			continue;
		if (ctx->nfiles == MAX_SOURCES) {
			rc = set_error(err, errsize, LMC_ETOOLARGE,
			               "too many license files in the license source (at most 16): ",
			               entry);
			break;
		}
		struct lm_parse_error perr;
		rc = lm_license_load(entry, &ctx->files[ctx->nfiles], &perr);
		if (rc != 0) {
			if (err && errsize)
				snprintf(err, errsize, "%s:%d: %s", entry, perr.lineno, perr.message);
			break;
		}
		ctx->nfiles++;
	}
	free(copy);
	return rc;
}

int lmc_open(struct lmc_ctx **out, const struct lmc_options *opts, char *err, size_t errsize)
{
	*out = NULL;
	if (!opts || !opts->vendor_pubkey)
		return set_error(err, errsize, LMC_EINVAL,
		                 "lmc_open: the vendor public key is required", NULL);
	const char *source = opts->license_source ? opts->license_source : getenv("LM_LICENSE_FILE");
	if (!source || !*source)
		return set_error(err, errsize, LMC_ENOFEATURE,
		                 "no license source: pass one to lmc_open or set LM_LICENSE_FILE",
		                 NULL);
	struct lmc_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return LMC_ENOMEM;
	int rc = lm_key_load_public(opts->vendor_pubkey, &ctx->vendor_key, err, errsize);
	if (rc != 0)
		goto fail_key;
	rc = lm_machine_probe(NULL, &ctx->machine);
	if (rc != 0) {
		set_error(err, errsize, rc, "cannot read any lock criterion of this machine", NULL);
		goto fail_probe;
	}
	rc = load_sources(ctx, source, err, errsize);
	if (rc != 0)
		goto fail_sources;
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->next_handle = 1;
	*out = ctx;
	return 0;

fail_sources:
	for (size_t i = 0; i < ctx->nfiles; i++)
		lm_license_free(&ctx->files[i]);
fail_probe:
	EVP_PKEY_free(ctx->vendor_key);
fail_key:
	free(ctx);
	return rc;
}

void lmc_close(struct lmc_ctx *ctx)
{
	if (!ctx)
		return;
	for (size_t i = 0; i < ctx->nfiles; i++)
		lm_license_free(&ctx->files[i]);
	EVP_PKEY_free(ctx->vendor_key);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

static int is_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= max;
}

/* Looks for a usable node-locked line in every file, keeping the most
 * telling failure (see nodelock.c) when none is usable. */
static int checkout_nodelocked(struct lmc_ctx *ctx, const char *feature, const char *version)
{
	int best = LMC_ENOFEATURE;
	char reason[512];
	snprintf(ctx->last_error, sizeof ctx->last_error, "no license line for feature %s",
	         feature);
	int32_t today = lm_date_today();
	for (size_t i = 0; i < ctx->nfiles; i++) {
		const struct lm_license *usable;
		int rc = lm_nodelock_check(&ctx->files[i], ctx->vendor_key, &ctx->machine, feature,
		                           version, today, &usable, reason, sizeof reason);
		if (rc == 0)
			return 0;
		if (lm_nodelock_stage(rc) > lm_nodelock_stage(best)) {
			best = rc;
			snprintf(ctx->last_error, sizeof ctx->last_error, "%s", reason);
		}
	}
	return best;
}

int lmc_checkout(struct lmc_ctx *ctx, const char *feature, const char *version, unsigned count,
                 unsigned timeout_ms, uint64_t *handle)
{
	if (!ctx || !handle || !is_name(feature, LM_NAME_MAX) || count == 0 ||
	    (version && !lm_version_valid(version)))
		return LMC_EINVAL;
	pthread_mutex_lock(&ctx->lock);
	int rc = checkout_nodelocked(ctx, feature, version);
	if (rc == 0 && ctx->nheld == MAX_HANDLES) {
		rc = LMC_ELIMIT;
		snprintf(ctx->last_error, sizeof ctx->last_error,
		         "this context already holds %d checkouts", MAX_HANDLES);
	}
	if (rc == 0) {
		struct held_seat *h = &ctx->held[ctx->nheld++];
		h->handle = ctx->next_handle++;
		snprintf(h->feature, sizeof h->feature, "%s", feature);
		h->count = count;
		*handle = h->handle;
		ctx->last_error[0] = '\0';
	}
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

int lmc_checkin(struct lmc_ctx *ctx, uint64_t handle)
{
	if (!ctx)
		return LMC_EINVAL;
	int rc = LMC_ENOHANDLE;
	pthread_mutex_lock(&ctx->lock);
	for (size_t i = 0; i < ctx->nheld; i++) {
		if (ctx->held[i].handle == handle) {
			ctx->held[i] = ctx->held[--ctx->nheld];
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

const char *lmc_last_error(const struct lmc_ctx *ctx)
{
	return ctx ? ctx->last_error : "no context";
}
