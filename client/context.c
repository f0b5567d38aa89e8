/* lmc contexts: what an application opens once and checks seats out of.
 *
 * A context holds the vendor public key, the licenses found through the
 * license source, this machine's lock code and the servers the source
 * names.  Node-locked (uncounted) licenses are honoured here with no server
 * at all; everything else goes through the session with the servers
 * (session.c), started at the first checkout that needs it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/clock_mark.h"
#include "client/lmc.h"
#include "client/session.h"
#include "client/source.h"
#include "core/date.h"
#include "core/key.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "core/nodelock.h"
#include "core/vendor_data.h"

#define MAX_HANDLES 1024
/* Offline handles have the top bit set, so that they never meet the
 * handles of a server (small counters) in lmc_checkin(). */
#define LOCAL_HANDLE_BIT (UINT64_C(1) << 63)

struct held_seat {
	uint64_t handle;
	char feature[LM_NAME_MAX + 1];
	unsigned count;
};

struct lmc_ctx {
	pthread_mutex_t lock;
	EVP_PKEY *vendor_key;
	struct lm_machine machine;
	struct lm_license_file files[LM_SOURCE_FILES_MAX];
	size_t nfiles;
	struct lm_source sources;           /* the servers to ask, from every entry */
	struct held_seat held[MAX_HANDLES]; /* offline checkouts */
	size_t nheld;
	uint64_t next_handle;
	char app_version[LM_VERSION_MAX + 1];
	unsigned heartbeat_ms;
	struct lm_session *session; /* NULL until the first server checkout */
	bool idle;                  /* lmc_set_idle, for a session started later */
	/* lmc_set_checkout_data: sent with every server checkout from then on
	 * ("": none). */
	char checkout_data[LM_WIRE_VENDOR_DATA_MAX + 1];
	lmc_lost_cb on_lost;
	lmc_regained_cb on_regained;
	void *cb_arg;
	char last_error[512];
};

static int set_error(char *buf, size_t size, int code, const char *message, const char *arg)
{
	if (buf && size)
		snprintf(buf, size, "%s%s", message, arg ? arg : "");
	return code;
}

/* Reads every license file the source names (source.h tells files
 * from servers) and adds their SERVER lines to the servers to ask. */
static int load_sources(struct lmc_ctx *ctx, const char *source, char *err, size_t errsize)
{
	int rc = lm_source_parse(&ctx->sources, source, err, errsize);
	for (size_t i = 0; rc == 0 && i < ctx->sources.nfiles; i++) {
		const char *path = ctx->sources.files[i];
		struct lm_parse_error perr;
		/* As lmd does, a line that cannot be read is left out rather than
		 * the whole file: a checkout of its feature says why
		 * (skipped_line_reason). */
		struct lm_license_file *f = &ctx->files[ctx->nfiles];
		rc = lm_license_load_skipping(path, f, &perr);
		if (rc == 0 && f->nlines == 0 && f->nskipped > 0) {
			/* Nothing of it can be used: the file, not a line, is wrong. */
			rc = f->skipped[0].code;
			perr.lineno = f->skipped[0].lineno;
			int n = snprintf(perr.message, sizeof perr.message,
			                 "%s %s: ", f->skipped[0].type, f->skipped[0].name);
			snprintf(perr.message + n, sizeof perr.message - (size_t)n, "%.*s",
			         (int)(sizeof perr.message - (size_t)n - 1), f->skipped[0].message);
			lm_license_free(f);
		}
		if (rc != 0) {
			if (err && errsize)
				snprintf(err, errsize, "%s:%d: %s", path, perr.lineno,
				         perr.message);
			break;
		}
		rc = lm_source_add_file(&ctx->sources, &ctx->files[ctx->nfiles++]);
		if (rc != 0)
			set_error(err, errsize, rc,
			          "too many servers in the license source: ", path);
	}
	return rc;
}

/* An application version as the Hello carries it: a short printable word. */
static int app_version_valid(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > LM_VERSION_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
			return 0;
	return 1;
}

int lmc_open(struct lmc_ctx **out, const struct lmc_options *opts, char *err, size_t errsize)
{
	*out = NULL;
	if (!opts || !opts->vendor_pubkey)
		return set_error(err, errsize, LMC_EINVAL,
		                 "lmc_open: the vendor public key is required", NULL);
	const char *source =
	        opts->license_source ? opts->license_source : getenv("LM_LICENSE_FILE");
	if (!source || !*source)
		return set_error(err, errsize, LMC_ENOFEATURE,
		                 "no license source: pass one to lmc_open or set LM_LICENSE_FILE",
		                 NULL);
	if (opts->app_version && !app_version_valid(opts->app_version))
		return set_error(err, errsize, LMC_EINVAL,
		                 "lmc_open: app_version must be 1 to 16 printable characters "
		                 "without spaces",
		                 NULL);
	struct lmc_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return LMC_ENOMEM;
	lm_source_init(&ctx->sources);
	int rc = lm_key_load_public(opts->vendor_pubkey, &ctx->vendor_key, err, errsize);
	if (rc != 0)
		goto fail_key;
	rc = load_sources(ctx, source, err, errsize);
	if (rc != 0)
		goto fail_sources;
	/* Only node-locked lines need this machine's lock code: a context
	 * that only talks to servers works on a machine without one. */
	rc = lm_machine_probe(NULL, &ctx->machine);
	if (rc != 0 && ctx->nfiles > 0) {
		set_error(err, errsize, rc, "cannot read any lock criterion of this machine", NULL);
		goto fail_sources;
	}
	rc = 0;
	if (ctx->nfiles == 0 && ctx->sources.nservers == 0) {
		rc = set_error(err, errsize, LMC_ENOFEATURE,
		               "the license source names neither a license file nor a server",
		               NULL);
		goto fail_sources;
	}
	if (opts->app_version)
		snprintf(ctx->app_version, sizeof ctx->app_version, "%s", opts->app_version);
	ctx->heartbeat_ms = opts->heartbeat_ms;
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->next_handle = 1;
	*out = ctx;
	return 0;

fail_sources:
	for (size_t i = 0; i < ctx->nfiles; i++)
		lm_license_free(&ctx->files[i]);
	lm_source_free(&ctx->sources);
	EVP_PKEY_free(ctx->vendor_key);
fail_key:
	free(ctx);
	return rc;
}

void lmc_close(struct lmc_ctx *ctx)
{
	if (!ctx)
		return;
	/* First, while the key it borrows is alive: returns the server seats. */
	lm_session_stop(ctx->session);
	for (size_t i = 0; i < ctx->nfiles; i++)
		lm_license_free(&ctx->files[i]);
	lm_source_free(&ctx->sources);
	EVP_PKEY_free(ctx->vendor_key);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

static int is_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= max;
}

/* When a file's line for feature was left out because it could not be
 * read, says so in buf: a better answer than "no license line". */
static bool skipped_line_reason(const struct lmc_ctx *ctx, const char *feature, char *buf,
                                size_t size)
{
	for (size_t i = 0; i < ctx->nfiles; i++) {
		const struct lm_license_file *f = &ctx->files[i];
		for (size_t k = 0; k < f->nskipped; k++) {
			const struct lm_license_skipped *line = &f->skipped[k];
			if (strcmp(line->name, feature) != 0)
				continue;
			snprintf(buf, size, "%s:%d: %s %s was left out, it cannot be read: %s",
			         ctx->sources.files[i], line->lineno, line->type, line->name,
			         line->message);
			return true;
		}
	}
	return false;
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
		/* A dated line judged by a clock set back could be revived:
		 * the offline high-water mark says (clock_mark.h). */
		if (rc == 0 &&
		    (usable->expiry != LM_DATE_PERMANENT || usable->start != LM_DATE_NONE))
			rc = lm_clock_mark_check((int64_t)time(NULL), reason, sizeof reason);
		if (rc == 0)
			return 0;
		if (rc == LMC_ECLOCK) {
			snprintf(ctx->last_error, sizeof ctx->last_error, "%s", reason);
			return rc;
		}
		if (lm_nodelock_stage(rc) > lm_nodelock_stage(best)) {
			best = rc;
			snprintf(ctx->last_error, sizeof ctx->last_error, "%s", reason);
		}
	}
	if (best == LMC_ENOFEATURE)
		skipped_line_reason(ctx, feature, ctx->last_error, sizeof ctx->last_error);
	return best;
}

/* The session's events, passed on to the application's callbacks.  The
 * sentence that comes with lost seats becomes the context's last error, for
 * the callback to read with lmc_last_error(). */
static void on_session_lost(void *arg, uint64_t handle, const char *feature, int code,
                            const char *message)
{
	struct lmc_ctx *ctx = arg;
	pthread_mutex_lock(&ctx->lock);
	snprintf(ctx->last_error, sizeof ctx->last_error, "%s", message);
	lmc_lost_cb cb = ctx->on_lost;
	void *cb_arg = ctx->cb_arg;
	pthread_mutex_unlock(&ctx->lock);
	if (cb)
		cb(cb_arg, handle, feature, code);
}

static void on_session_regained(void *arg, uint64_t handle, const char *feature)
{
	struct lmc_ctx *ctx = arg;
	pthread_mutex_lock(&ctx->lock);
	lmc_regained_cb cb = ctx->on_regained;
	void *cb_arg = ctx->cb_arg;
	pthread_mutex_unlock(&ctx->lock);
	if (cb)
		cb(cb_arg, handle, feature);
}

/* The session with the servers, started on first use (lock held). */
static int session_get(struct lmc_ctx *ctx, struct lm_session **out)
{
	if (!ctx->session) {
		struct lm_session_config cfg;
		lm_session_config_init(&cfg);
		cfg.servers = ctx->sources.servers;
		cfg.nservers = ctx->sources.nservers;
		cfg.files = ctx->files;
		cfg.nfiles = ctx->nfiles;
		cfg.vendor_key = ctx->vendor_key;
		cfg.app_version = ctx->app_version[0] ? ctx->app_version : NULL;
		cfg.heartbeat_ms = ctx->heartbeat_ms;
		if (lm_frame_conn_tls_use(getenv("LMC_TLS"), &cfg.tls_use) != 0) {
			snprintf(ctx->last_error, sizeof ctx->last_error,
			         "LMC_TLS=%.40s: say off, on or require", getenv("LMC_TLS"));
			return LMC_EINVAL;
		}
		/* They run on the session thread, which never holds the
		 * session's lock while they do: taking ctx->lock there cannot
		 * deadlock with lmc_server(), which takes both. */
		cfg.on_lost = on_session_lost;
		cfg.on_regained = on_session_regained;
		cfg.cb_arg = ctx;
		int rc = lm_session_start(&ctx->session, &cfg);
		if (rc != 0) {
			snprintf(ctx->last_error, sizeof ctx->last_error,
			         "cannot start the license server session: %s", lmc_strerror(rc));
			return rc;
		}
		if (ctx->idle)
			lm_session_set_idle(ctx->session, true);
	}
	*out = ctx->session;
	return 0;
}

int lmc_checkout(struct lmc_ctx *ctx, const char *feature, const char *version, unsigned count,
                 unsigned timeout_ms, uint64_t *handle)
{
	if (!ctx || !handle || !is_name(feature, LM_NAME_MAX) || count == 0 ||
	    (version && !lm_version_valid(version)))
		return LMC_EINVAL;
	pthread_mutex_lock(&ctx->lock);
	int local = checkout_nodelocked(ctx, feature, version);
	if (local == 0 && ctx->nheld == MAX_HANDLES) {
		local = LMC_ELIMIT;
		snprintf(ctx->last_error, sizeof ctx->last_error,
		         "this context already holds %d checkouts", MAX_HANDLES);
	}
	if (local == 0) {
		struct held_seat *h = &ctx->held[ctx->nheld++];
		h->handle = LOCAL_HANDLE_BIT | ctx->next_handle++;
		snprintf(h->feature, sizeof h->feature, "%s", feature);
		h->count = count;
		*handle = h->handle;
		ctx->last_error[0] = '\0';
	}
	struct lm_session *session = NULL;
	int rc = local;
	if (local != 0 && local != LMC_ELIMIT && ctx->sources.nservers > 0)
		rc = session_get(ctx, &session);
	char checkout_data[sizeof ctx->checkout_data];
	memcpy(checkout_data, ctx->checkout_data, sizeof checkout_data);
	pthread_mutex_unlock(&ctx->lock);
	if (!session)
		return rc;

	/* The lock is not held while the server is asked: other threads
	 * check out and in meanwhile. */
	char msg[512];
	rc = lm_session_checkout(session, feature, version, count, checkout_data, timeout_ms,
	                         handle, msg, sizeof msg);
	pthread_mutex_lock(&ctx->lock);
	if (rc == 0) {
		ctx->last_error[0] = '\0';
	} else if (rc == LMC_ENOFEATURE &&
	           lm_nodelock_stage(local) > lm_nodelock_stage(LMC_ECOUNTED)) {
		/* The servers do not know the feature, but a local line for it
		 * got past the signature and failed for a reason worth telling
		 * (not started, expired, version, other host): that explains
		 * more. */
		rc = local;
	} else {
		snprintf(ctx->last_error, sizeof ctx->last_error, "%s", msg);
	}
	pthread_mutex_unlock(&ctx->lock);
	return rc;
}

int lmc_checkin(struct lmc_ctx *ctx, uint64_t handle)
{
	if (!ctx)
		return LMC_EINVAL;
	pthread_mutex_lock(&ctx->lock);
	for (size_t i = 0; i < ctx->nheld; i++) {
		if (ctx->held[i].handle == handle) {
			ctx->held[i] = ctx->held[--ctx->nheld];
			pthread_mutex_unlock(&ctx->lock);
			return 0;
		}
	}
	struct lm_session *session = ctx->session;
	pthread_mutex_unlock(&ctx->lock);
	if (!session)
		return LMC_ENOHANDLE;
	char msg[512];
	int rc = lm_session_checkin(session, handle, msg, sizeof msg);
	if (rc != 0) {
		pthread_mutex_lock(&ctx->lock);
		snprintf(ctx->last_error, sizeof ctx->last_error, "%s", msg);
		pthread_mutex_unlock(&ctx->lock);
	}
	return rc;
}

int lmc_set_callbacks(struct lmc_ctx *ctx, lmc_lost_cb on_lost, lmc_regained_cb on_regained,
                      void *arg)
{
	if (!ctx)
		return LMC_EINVAL;
	pthread_mutex_lock(&ctx->lock);
	ctx->on_lost = on_lost;
	ctx->on_regained = on_regained;
	ctx->cb_arg = arg;
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}

int lmc_set_idle(struct lmc_ctx *ctx, int idle)
{
	if (!ctx)
		return LMC_EINVAL;
	pthread_mutex_lock(&ctx->lock);
	ctx->idle = idle != 0;
	if (ctx->session)
		lm_session_set_idle(ctx->session, ctx->idle);
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}

int lmc_set_checkout_data(struct lmc_ctx *ctx, const char *data)
{
	if (!ctx)
		return LMC_EINVAL;
	if (!data)
		data = "";
	size_t len = strnlen(data, LM_WIRE_VENDOR_DATA_MAX + 1);
	if (!lm_vendor_data_valid(data, len)) {
		pthread_mutex_lock(&ctx->lock);
		snprintf(ctx->last_error, sizeof ctx->last_error,
		         "checkout data must be at most %d printable ASCII characters "
		         "(no control characters)",
		         LM_WIRE_VENDOR_DATA_MAX);
		pthread_mutex_unlock(&ctx->lock);
		return LMC_EINVAL;
	}
	pthread_mutex_lock(&ctx->lock);
	memcpy(ctx->checkout_data, data, len);
	ctx->checkout_data[len] = '\0';
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}

int lmc_server(struct lmc_ctx *ctx, char *buf, size_t size)
{
	if (!ctx || !buf || size == 0)
		return LMC_EINVAL;
	char name[LM_ADDRESS_TEXT_MAX] = "";
	pthread_mutex_lock(&ctx->lock);
	if (ctx->session)
		lm_session_server(ctx->session, name, sizeof name);
	pthread_mutex_unlock(&ctx->lock);
	return (size_t)snprintf(buf, size, "%s", name) >= size ? LMC_ETOOLARGE : 0;
}

_Static_assert(sizeof((struct lmc_license_info *)0)->version > LM_VERSION_MAX,
               "lmc_license_info.version holds a version");
_Static_assert(sizeof((struct lmc_license_info *)0)->vendor_string >= LM_TEXT_MAX,
               "lmc_license_info.vendor_string holds a VENDOR_STRING");

/* node-locked lines have no server to say how early to warn: lmd's default. */
#define LOCAL_EXPIRY_WARN_DAYS 30

static void info_from_terms(struct lmc_license_info *info, const char *version, int32_t expiry,
                            const char *vendor_string, int server_warning_days)
{
	int32_t today = lm_date_today();
	snprintf(info->version, sizeof info->version, "%s", version);
	lm_date_format(expiry, info->expiry, sizeof info->expiry);
	snprintf(info->vendor_string, sizeof info->vendor_string, "%s", vendor_string);
	if (expiry == LM_DATE_PERMANENT) {
		info->days_left = -1;
		info->expires_soon = 0;
		return;
	}
	info->days_left = expiry >= today ? (int)(expiry - today) : 0;
	info->expires_soon = server_warning_days >= 0;
}

int lmc_license_info(struct lmc_ctx *ctx, const char *feature, struct lmc_license_info *info)
{
	if (!ctx || !info || !is_name(feature, LM_NAME_MAX))
		return LMC_EINVAL;
	memset(info, 0, sizeof *info);
	pthread_mutex_lock(&ctx->lock);
	struct lm_session *session = ctx->session;
	unsigned local = 0;
	for (size_t i = 0; i < ctx->nheld; i++)
		if (strcmp(ctx->held[i].feature, feature) == 0)
			local += ctx->held[i].count;
	int rc = LMC_ENOFEATURE;
	if (local) {
		/* The line that let the seats be taken offline, read again. */
		char reason[256];
		int32_t today = lm_date_today();
		for (size_t i = 0; i < ctx->nfiles && rc != 0; i++) {
			const struct lm_license *l;
			if (lm_nodelock_check(&ctx->files[i], ctx->vendor_key, &ctx->machine,
			                      feature, NULL, today, &l, reason, sizeof reason) != 0)
				continue;
			int32_t left = l->expiry - today;
			info_from_terms(info, l->version, l->expiry, l->vendor_string,
			                l->expiry != LM_DATE_PERMANENT &&
			                                left <= LOCAL_EXPIRY_WARN_DAYS
			                        ? (int)left
			                        : -1);
			rc = 0;
		}
		info->held = local;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (session) {
		unsigned held, overdraft;
		struct lm_session_grant last;
		if (lm_session_feature_info(session, feature, &held, &overdraft, &last) == 0) {
			if (rc != 0)
				info_from_terms(info, last.version, last.expiry, last.vendor_string,
				                last.expiry_warning_days);
			info->held += held;
			info->overdraft = overdraft;
			rc = 0;
		}
	}
	if (rc != 0) {
		pthread_mutex_lock(&ctx->lock);
		snprintf(ctx->last_error, sizeof ctx->last_error,
		         "this context holds no seat of %s", feature);
		pthread_mutex_unlock(&ctx->lock);
	}
	return rc;
}

/* The public face of core/machine.c, for `lmutil lmhostid` and
 * applications that show their users what to send the vendor. */
int lmc_lockcode(char *buf, size_t size)
{
	if (!buf || !size)
		return LMC_EINVAL;
	buf[0] = '\0';
	struct lm_machine *m = malloc(sizeof *m);
	if (!m)
		return LMC_ENOMEM;
	int rc = lm_machine_probe(NULL, m);
	if (rc == 0)
		rc = lm_lockcode_format(&m->code, buf, size);
	free(m);
	return rc;
}

const char *lmc_last_error(const struct lmc_ctx *ctx)
{
	return ctx ? ctx->last_error : "no context";
}
