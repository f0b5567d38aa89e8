/* The records of each applied command (report_events.h). */
#include "config.h"

#include "lmd/report_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/date.h"
#include "core/error.h"
#include "proto/command.pb-c.h"

#define DAY_US INT64_C(86400000000)

struct lm_report_events {
	struct lm_report_log *log;
	bool hide_user;

	/* The command being applied; NULL when the log already holds it. */
	Lmcmd__Command *cmd;
	uint64_t index;

	/* What the pool held before it: the session the command is about,
	 * the handle it returns, a closing session's handles. */
	bool had_session, had_handle, had_cluster_id;
	struct lm_pool_session session;
	struct lm_pool_handle handle;
	struct lm_pool_handle *handles;
	int nhandles;
};

int lm_report_events_new(struct lm_report_events **out, struct lm_report_log *log, bool hide_user)
{
	struct lm_report_events *e = calloc(1, sizeof *e);
	if (e)
		e->handles = malloc(LM_POOL_HANDLES_PER_SESSION_MAX * sizeof *e->handles);
	if (!e || !e->handles) {
		free(e);
		return LMC_ENOMEM;
	}
	e->log = log;
	e->hide_user = hide_user;
	*out = e;
	return 0;
}

void lm_report_events_free(struct lm_report_events *e)
{
	if (!e)
		return;
	if (e->cmd)
		lmcmd__command__free_unpacked(e->cmd, NULL);
	free(e->handles);
	free(e);
}

void lm_report_events_before(struct lm_report_events *e, struct lm_pool *pool, uint64_t index,
                             const void *buf, size_t len)
{
	if (e->cmd)
		lmcmd__command__free_unpacked(e->cmd, NULL);
	e->cmd = NULL;
	e->had_session = e->had_handle = e->had_cluster_id = false;
	e->nhandles = 0;
	if (!lm_report_log_wants(e->log, index))
		return;
	/* Bytes that are not a command stop the server in fsm_apply. */
	Lmcmd__Command *cmd = lmcmd__command__unpack(NULL, len, buf);
	if (!cmd)
		return;
	e->cmd = cmd;
	e->index = index;
	switch (cmd->body_case) {
	case LMCMD__COMMAND__BODY_OPEN_SESSION:
		e->had_session =
		        lm_pool_session(pool, cmd->open_session->session_id, &e->session) == 0;
		break;
	case LMCMD__COMMAND__BODY_CHECKIN:
		e->had_handle = lm_pool_handle(pool, cmd->checkin->handle, &e->handle) == 0;
		e->had_session = lm_pool_session(pool, cmd->checkin->session_id, &e->session) == 0;
		break;
	case LMCMD__COMMAND__BODY_REMOVE_HANDLE:
		e->had_handle = lm_pool_handle(pool, cmd->remove_handle->handle, &e->handle) == 0;
		e->had_session = e->had_handle &&
		                 lm_pool_session(pool, e->handle.session_id, &e->session) == 0;
		break;
	case LMCMD__COMMAND__BODY_CLOSE_SESSION: {
		uint64_t id = cmd->close_session->session_id;
		e->had_session = lm_pool_session(pool, id, &e->session) == 0;
		int n = e->had_session ? lm_pool_session_handles(pool, id, e->handles,
		                                                 LM_POOL_HANDLES_PER_SESSION_MAX)
		                       : 0;
		e->nhandles = n < 0 ? 0
		              : n > LM_POOL_HANDLES_PER_SESSION_MAX
		                      ? LM_POOL_HANDLES_PER_SESSION_MAX
		                      : n;
		break;
	}
	case LMCMD__COMMAND__BODY_SET_CLUSTER_ID: {
		uint8_t id[LM_CLUSTER_ID_SIZE];
		if (lm_pool_cluster_id(pool, id, &e->had_cluster_id) != 0)
			e->had_cluster_id = true;
		break;
	}
	default: break;
	}
}

static void record(struct lm_report_events *e, const char *event)
{
	lm_report_log_record(e->log, e->index, e->cmd->time_us, event);
}

static void hex_field(struct lm_report_events *e, const char *key, const uint8_t *data, size_t len)
{
	char hex[2 * 64 + 1];
	size_t n = len > 64 ? 64 : len;
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", data[i]);
	hex[2 * n] = '\0';
	lm_report_log_str(e->log, key, hex);
}

static void bytes_field(struct lm_report_events *e, const char *key, ProtobufCBinaryData b)
{
	lm_report_log_strn(e->log, key, b.data ? (const char *)b.data : "", b.len);
}

/* The session a record is about, and who holds it. */
static void who(struct lm_report_events *e, uint64_t session_id, const struct lm_pool_session *s)
{
	char id[17];
	snprintf(id, sizeof id, "%016llx", (unsigned long long)session_id);
	lm_report_log_str(e->log, "session", id);
	if (s && !e->hide_user) {
		lm_report_log_str(e->log, "user", s->user);
		lm_report_log_str(e->log, "host", s->host);
	}
}

static void seats_back(struct lm_report_events *e, const char *event,
                       const struct lm_pool_handle *h, const struct lm_pool_session *s)
{
	record(e, event);
	who(e, h->session_id, s);
	lm_report_log_str(e->log, "feature", h->feature);
	lm_report_log_str(e->log, "version", h->pool_version);
	lm_report_log_int(e->log, "count", h->count);
	lm_report_log_int(e->log, "handle", (int64_t)h->handle);
	lm_report_log_time(e->log, "since", h->since_us);
}

static int issued(void *arg, const struct lm_pool_feature *f)
{
	struct lm_report_events *e = arg;
	char expiry[32];
	lm_date_format(f->expiry, expiry, sizeof expiry);
	record(e, "issued");
	lm_report_log_str(e->log, "feature", f->name);
	lm_report_log_str(e->log, "version", f->version);
	lm_report_log_int(e->log, "count", f->issued);
	lm_report_log_str(e->log, "expiry", expiry);
	return 0;
}

/* The license's SHA-256: over each line's canonical text and a newline. */
static void license_sha256(const Lmcmd__SetLicense *m, uint8_t digest[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	memset(digest, 0, 32);
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	for (size_t i = 0; i < m->n_lines; i++) {
		EVP_DigestUpdate(ctx, m->lines[i]->text.data, m->lines[i]->text.len);
		EVP_DigestUpdate(ctx, "\n", 1);
	}
	EVP_DigestFinal_ex(ctx, digest, NULL);
out:
	EVP_MD_CTX_free(ctx);
}

static void set_license(struct lm_report_events *e, struct lm_pool *pool,
                        const struct lm_pool_result *res)
{
	const Lmcmd__SetLicense *m = e->cmd->set_license;
	uint8_t digest[32];
	record(e, "license");
	lm_report_log_int(e->log, "lines", res->count);
	license_sha256(m, digest);
	hex_field(e, "license_sha256", digest, sizeof digest);
	if (m->has_options_text) {
		unsigned int n = 0;
		EVP_Digest(m->options_text.data, m->options_text.len, digest, &n, EVP_sha256(),
		           NULL);
		bytes_field(e, "options", m->options_name);
		hex_field(e, "options_sha256", digest, sizeof digest);
	}
	int64_t us = e->cmd->time_us;
	int32_t today = (int32_t)(us / DAY_US - (us % DAY_US < 0));
	lm_pool_each_feature(pool, today, issued, NULL, e);
}

static void open_session(struct lm_report_events *e, const struct lm_pool_result *res)
{
	const Lmcmd__OpenSession *m = e->cmd->open_session;
	if (e->had_session)
		return; /* a retried open: nothing changed */
	if (res->code != 0) {
		record(e, "session_refused");
		lm_report_log_str(e->log, "code", lmc_errname(res->code));
		lm_report_log_str(e->log, "reason", res->message);
		return;
	}
	record(e, "session_open");
	who(e, m->session_id, NULL);
	if (!e->hide_user) {
		bytes_field(e, "user", m->user);
		bytes_field(e, "host", m->host);
		bytes_field(e, "display", m->display);
		bytes_field(e, "ip", m->ip);
	}
	bytes_field(e, "project", m->project);
	lm_report_log_int(e->log, "pid", m->pid);
	bytes_field(e, "app_version", m->app_version);
}

static void checkout(struct lm_report_events *e, struct lm_pool *pool,
                     const struct lm_pool_result *res)
{
	const Lmcmd__Checkout *m = e->cmd->checkout;
	struct lm_pool_handle h;
	bool known = lm_pool_session(pool, m->session_id, &e->session) == 0;
	/* A stale request id (LMC_EPROTO) is a confused client, not a use. */
	if (res->replayed || res->code == LMC_EPROTO)
		return;
	record(e, res->code == 0 ? "checkout" : "denied");
	who(e, m->session_id, known ? &e->session : NULL);
	bytes_field(e, "feature", m->feature);
	bytes_field(e, "version", m->version);
	/* The application's vendor data, hidden with the user: it may well
	 * name what the user works on. */
	if (m->has_vendor_data && !e->hide_user)
		bytes_field(e, "vendor_data", m->vendor_data);
	if (res->code == 0 && lm_pool_handle(pool, res->handle, &h) == 0)
		lm_report_log_str(e->log, "pool_version", h.pool_version);
	lm_report_log_int(e->log, "count", res->code == 0 ? res->count : m->count);
	if (res->code == 0) {
		lm_report_log_int(e->log, "handle", (int64_t)res->handle);
		if (res->overdraft)
			lm_report_log_int(e->log, "overdraft", res->overdraft);
		return;
	}
	lm_report_log_str(e->log, "code", lmc_errname(res->code));
	lm_report_log_str(e->log, "reason", res->message);
}

static const char *close_reason(Lmcmd__CloseReason reason)
{
	switch (reason) {
	case LMCMD__CLOSE_REASON__CLOSE_EXPIRED: return "expired";
	case LMCMD__CLOSE_REASON__CLOSE_REMOVED: return "removed";
	case LMCMD__CLOSE_REASON__CLOSE_ABANDONED: return "abandoned";
	default: return "clean";
	}
}

static void close_session(struct lm_report_events *e, const struct lm_pool_result *res)
{
	const Lmcmd__CloseSession *m = e->cmd->close_session;
	if (res->code != 0 || !e->had_session)
		return;
	const char *reason = close_reason(m->reason);
	/* A clean close returns its seats as checkins do. */
	const char *event = strcmp(reason, "clean") == 0 ? "checkin" : reason;
	for (int i = 0; i < e->nhandles; i++)
		seats_back(e, event, &e->handles[i], &e->session);
	record(e, "session_close");
	who(e, m->session_id, &e->session);
	lm_report_log_str(e->log, "reason", reason);
	lm_report_log_int(e->log, "count", res->count);
}

/* lmremove, or the options file's TIMEOUT taking back an idle
 * application's seats. */
static void remove_handle(struct lm_report_events *e, const struct lm_pool_result *res)
{
	const Lmcmd__RemoveHandle *m = e->cmd->remove_handle;
	if (res->code != 0 || !e->had_handle)
		return;
	bool idle = m->has_reason && m->reason == LMCMD__REMOVE_REASON__REMOVE_IDLE;
	seats_back(e, idle ? "timeout" : "removed", &e->handle,
	           e->had_session ? &e->session : NULL);
	if (idle)
		lm_report_log_int(e->log, "idle_s", m->idle_s);
}

/* An admin request a leader saw (admin_audit.h). */
static void admin_action(struct lm_report_events *e)
{
	const Lmcmd__AdminAction *m = e->cmd->admin_action;
	record(e, "admin");
	lm_report_log_str(e->log, "action", m->action ? m->action : "");
	lm_report_log_str(e->log, "outcome", m->accepted ? "allowed" : "refused");
	lm_report_log_str(e->log, "who", m->who ? m->who : "");
	lm_report_log_str(e->log, "from", m->address ? m->address : "");
	lm_report_log_str(e->log, "detail", m->detail ? m->detail : "");
	if (m->has_suppressed)
		lm_report_log_int(e->log, "refusals_left_out", m->suppressed);
}

static void leader_change(struct lm_report_events *e)
{
	const Lmcmd__LeaderChange *m = e->cmd->leader_change;
	record(e, "leader");
	lm_report_log_int(e->log, "raft_id", m->raft_id);
	lm_report_log_int(e->log, "node", m->node);
	lm_report_log_str(e->log, "address", m->address ? m->address : "");
	lm_report_log_int(e->log, "term", (int64_t)m->term);
}

void lm_report_events_after(struct lm_report_events *e, struct lm_pool *pool,
                            const struct lm_pool_result *res)
{
	if (!e->cmd)
		return;
	switch (e->cmd->body_case) {
	case LMCMD__COMMAND__BODY_SET_LICENSE:
		if (res->code == 0)
			set_license(e, pool, res);
		break;
	case LMCMD__COMMAND__BODY_OPEN_SESSION: open_session(e, res); break;
	case LMCMD__COMMAND__BODY_CHECKOUT: checkout(e, pool, res); break;
	case LMCMD__COMMAND__BODY_CHECKIN:
		if (res->code == 0 && !res->replayed && e->had_handle)
			seats_back(e, "checkin", &e->handle, e->had_session ? &e->session : NULL);
		break;
	case LMCMD__COMMAND__BODY_CLOSE_SESSION: close_session(e, res); break;
	case LMCMD__COMMAND__BODY_REMOVE_HANDLE: remove_handle(e, res); break;
	case LMCMD__COMMAND__BODY_SET_CLUSTER_ID:
		if (res->code == 0 && !e->had_cluster_id && e->cmd->set_cluster_id->has_id) {
			record(e, "cluster_id");
			hex_field(e, "id", e->cmd->set_cluster_id->id.data,
			          e->cmd->set_cluster_id->id.len);
		}
		break;
	case LMCMD__COMMAND__BODY_ADMIN_ACTION: admin_action(e); break;
	case LMCMD__COMMAND__BODY_LEADER_CHANGE: leader_change(e); break;
	default: break;
	}
	lm_report_log_commit(e->log);
	lmcmd__command__free_unpacked(e->cmd, NULL);
	e->cmd = NULL;
}
