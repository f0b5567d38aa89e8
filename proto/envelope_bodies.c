/* What each body of an Envelope must hold: required fields present,
 * identifiers within their limits (core/limits.h), counts in range.  Run by
 * lm_envelope_check() (envelope_check.c) once the body is known to be
 * there. */
#include "proto/envelope.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "proto/envelope_internal.h"

static int check_hello(struct lm_check *c, const Lm__Hello *m)
{
	LM_CHECK_TRY(lm_check_id(c, "hello.user", m->has_user, &m->user, LM_WIRE_USER_MAX,
	                         LM_CHECK_REQUIRED | LM_CHECK_SPACE));
	LM_CHECK_TRY(lm_check_id(c, "hello.host", m->has_host, &m->host, LM_WIRE_HOST_MAX,
	                         LM_CHECK_REQUIRED));
	LM_CHECK_TRY(lm_check_id(c, "hello.display", m->has_display, &m->display,
	                         LM_WIRE_DISPLAY_MAX, LM_CHECK_SPACE));
	LM_CHECK_TRY(lm_check_id(c, "hello.lock_code", m->has_lock_code, &m->lock_code,
	                         LM_WIRE_LOCKCODE_MAX, 0));
	LM_CHECK_TRY(lm_check_id(c, "hello.app_version", m->has_app_version, &m->app_version,
	                         LM_WIRE_VERSION_MAX, 0));
	LM_CHECK_TRY(lm_check_id(c, "hello.project", m->has_project, &m->project,
	                         LM_WIRE_PROJECT_MAX, LM_CHECK_SPACE));
	/* lmstat and the options file tell two runs of one user on one host
	 * apart by display, or by pid for a program without one. */
	if (!m->has_display && !m->has_pid)
		return lm_check_fail(c, "hello has neither a display nor a pid");
	return 0;
}

static int check_hello_reply(struct lm_check *c, const Lm__HelloReply *m)
{
	if (m->has_cluster_id)
		LM_CHECK_TRY(lm_check_exact(c, "hello_reply.cluster_id", 1, &m->cluster_id,
		                            LM_CLUSTER_ID_SIZE));
	if (m->has_instance)
		LM_CHECK_TRY(lm_check_exact(c, "hello_reply.instance", 1, &m->instance,
		                            LM_ADMIN_INSTANCE_LEN));
	LM_CHECK_TRY(lm_check_text(c, "hello_reply.admin_socket", m->admin_socket,
	                           LM_ADMIN_SOCKET_PATH_MAX, 0));
	return lm_check_text(c, "hello_reply.server_version", m->server_version, LM_WIRE_TEXT_MAX,
	                     LM_CHECK_SPACE);
}

static int check_session_open(struct lm_check *c, const Lm__SessionOpen *m)
{
	/* Both or neither: a session is resumed only by whoever holds its
	 * secret. */
	if (m->has_session_id != m->has_secret)
		return lm_check_fail(c,
		                     "session_open needs both session_id and secret, or neither");
	if (m->has_secret)
		LM_CHECK_TRY(lm_check_exact(c, "session_open.secret", 1, &m->secret,
		                            LM_SESSION_SECRET_LEN));
	return 0;
}

static int check_session_reply(struct lm_check *c, const Lm__SessionReply *m)
{
	if (!m->has_session_id)
		return lm_check_fail(c, "session_reply.session_id is missing");
	if (m->has_cluster_id)
		LM_CHECK_TRY(lm_check_exact(c, "session_reply.cluster_id", 1, &m->cluster_id,
		                            LM_CLUSTER_ID_SIZE));
	/* A resumed session keeps the secret the client already has. */
	if (m->has_resumed && m->resumed && !m->has_secret)
		return 0;
	return lm_check_exact(c, "session_reply.secret", m->has_secret, &m->secret,
	                      LM_SESSION_SECRET_LEN);
}

static int check_checkout(struct lm_check *c, const Lm__Checkout *m)
{
	LM_CHECK_TRY(lm_check_id(c, "checkout.feature", m->has_feature, &m->feature,
	                         LM_WIRE_FEATURE_MAX, LM_CHECK_REQUIRED));
	LM_CHECK_TRY(lm_check_id(c, "checkout.version", m->has_version, &m->version,
	                         LM_WIRE_VERSION_MAX, LM_CHECK_REQUIRED));
	LM_CHECK_TRY(lm_check_count(c, "checkout.count", m->has_count, m->count, true));
	if (m->has_wait_ms && m->wait_ms > LM_CHECKOUT_WAIT_MAX_MS)
		return lm_check_fail(c, "checkout.wait_ms is %" PRIu32 ", the limit is %u",
		                     m->wait_ms, LM_CHECKOUT_WAIT_MAX_MS);
	if (m->has_nonce)
		LM_CHECK_TRY(lm_check_exact(c, "checkout.nonce", 1, &m->nonce, LM_WIRE_NONCE_LEN));
	/* The rule of core/vendor_data.h: printable ASCII, spaces allowed. */
	return lm_check_id(c, "checkout.vendor_data", m->has_vendor_data, &m->vendor_data,
	                   LM_WIRE_VENDOR_DATA_MAX, LM_CHECK_SPACE);
}

static int check_checkout_reply(struct lm_check *c, const Lm__CheckoutReply *m)
{
	if (!m->has_handle)
		return lm_check_fail(c, "checkout_reply.handle is missing");
	LM_CHECK_TRY(lm_check_count(c, "checkout_reply.count", m->has_count, m->count, false));
	const Lm__SignedLicense *l = m->license;
	if (l == NULL)
		return lm_check_fail(c, "checkout_reply.license is missing");
	/* The client parses the text as a C string and checks the signature
	 * over exactly those bytes, so a NUL inside must not get through. */
	LM_CHECK_TRY(lm_check_id(c, "checkout_reply.license.text", l->has_text, &l->text,
	                         LM_WIRE_LICENSE_MAX, LM_CHECK_REQUIRED | LM_CHECK_SPACE));
	if (m->has_grant_signature)
		LM_CHECK_TRY(lm_check_exact(c, "checkout_reply.grant_signature", 1,
		                            &m->grant_signature, LM_WIRE_SIG_LEN));
	if (m->has_grant_signature && !m->has_grant_time_ms)
		return lm_check_fail(c, "checkout_reply.grant_time_ms is missing");
	if (m->n_pool_lines > LM_WIRE_POOL_LINES_MAX)
		return lm_check_fail(c, "checkout_reply.pool_lines has %zu lines, the limit is %d",
		                     m->n_pool_lines, LM_WIRE_POOL_LINES_MAX);
	for (size_t i = 0; i < m->n_pool_lines; i++) {
		const Lm__SignedLicense *p = m->pool_lines[i];
		if (p == NULL)
			return lm_check_fail(c, "checkout_reply.pool_lines has an empty line");
		LM_CHECK_TRY(lm_check_id(c, "checkout_reply.pool_lines.text", p->has_text, &p->text,
		                         LM_WIRE_LICENSE_MAX, LM_CHECK_REQUIRED | LM_CHECK_SPACE));
		LM_CHECK_TRY(lm_check_exact(c, "checkout_reply.pool_lines.signature",
		                            p->has_signature, &p->signature, LM_WIRE_SIG_LEN));
	}
	const Lm__SignedLicense *pkg = m->package;
	if (pkg) {
		LM_CHECK_TRY(lm_check_id(c, "checkout_reply.package.text", pkg->has_text,
		                         &pkg->text, LM_WIRE_LICENSE_MAX,
		                         LM_CHECK_REQUIRED | LM_CHECK_SPACE));
		LM_CHECK_TRY(lm_check_exact(c, "checkout_reply.package.signature",
		                            pkg->has_signature, &pkg->signature, LM_WIRE_SIG_LEN));
	}
	return lm_check_exact(c, "checkout_reply.license.signature", l->has_signature,
	                      &l->signature, LM_WIRE_SIG_LEN);
}

static int check_handle(struct lm_check *c, const char *name, protobuf_c_boolean has)
{
	return has ? 0 : lm_check_fail(c, "%s.handle is missing", name);
}

static int check_status_request(struct lm_check *c, const Lm__StatusRequest *m)
{
	return lm_check_id(c, "status_request.feature", m->has_feature, &m->feature,
	                   LM_WIRE_FEATURE_MAX, 0);
}

static int check_server(struct lm_check *c, const Lm__ServerStatus *s)
{
	LM_CHECK_TRY(lm_check_text(c, "status_reply.servers.address", s->address,
	                           LM_WIRE_ADDRESS_MAX, 0));
	LM_CHECK_TRY(lm_check_text(c, "status_reply.servers.version", s->version, LM_WIRE_TEXT_MAX,
	                           LM_CHECK_SPACE));
	LM_CHECK_TRY(lm_check_text(c, "status_reply.servers.raft_address", s->raft_address,
	                           LM_WIRE_ADDRESS_MAX, 0));
	if (s->has_digest)
		LM_CHECK_TRY(lm_check_exact(c, "status_reply.servers.digest", 1, &s->digest,
		                            LM_WIRE_DIGEST_LEN));
	if (s->has_cluster_id)
		LM_CHECK_TRY(lm_check_exact(c, "status_reply.servers.cluster_id", 1, &s->cluster_id,
		                            LM_CLUSTER_ID_SIZE));
	/* protobuf-c stores any enum number it reads; only ours mean
	 * anything. */
	int role = (int)s->role;
	if (s->has_role && (role < LM__SERVER_ROLE__SERVER_ROLE_UNKNOWN ||
	                    role > LM__SERVER_ROLE__SERVER_ROLE_LEADER))
		return lm_check_fail(c, "status_reply.servers.role %d is unknown", role);
	return 0;
}

static int check_holder(struct lm_check *c, const Lm__Holder *h)
{
	LM_CHECK_TRY(lm_check_id(c, "status_reply.holders.user", h->has_user, &h->user,
	                         LM_WIRE_USER_MAX, LM_CHECK_REQUIRED | LM_CHECK_SPACE));
	LM_CHECK_TRY(lm_check_id(c, "status_reply.holders.host", h->has_host, &h->host,
	                         LM_WIRE_HOST_MAX, LM_CHECK_REQUIRED));
	LM_CHECK_TRY(lm_check_id(c, "status_reply.holders.display", h->has_display, &h->display,
	                         LM_WIRE_DISPLAY_MAX, LM_CHECK_SPACE));
	LM_CHECK_TRY(lm_check_id(c, "status_reply.holders.version", h->has_version, &h->version,
	                         LM_WIRE_VERSION_MAX, 0));
	LM_CHECK_TRY(lm_check_id(c, "status_reply.holders.vendor_data", h->has_vendor_data,
	                         &h->vendor_data, LM_WIRE_VENDOR_DATA_MAX, LM_CHECK_SPACE));
	return lm_check_count(c, "status_reply.holders.count", h->has_count, h->count, false);
}

/* A RESERVE rule's who: an options file name (LM_OPTIONS_NAME_MAX). */
static int check_reservation(struct lm_check *c, const Lm__Reservation *r)
{
	LM_CHECK_TRY(
	        lm_check_text(c, "status_reply.reservations.type", r->type, 16, LM_CHECK_REQUIRED));
	return lm_check_id(c, "status_reply.reservations.name", r->has_name, &r->name,
	                   LM_WIRE_USER_MAX, LM_CHECK_REQUIRED | LM_CHECK_SPACE | LM_CHECK_HIGH);
}

static int check_feature(struct lm_check *c, const Lm__FeatureStatus *f)
{
	LM_CHECK_TRY(lm_check_id(c, "status_reply.features.name", f->has_name, &f->name,
	                         LM_WIRE_FEATURE_MAX, LM_CHECK_REQUIRED));
	LM_CHECK_TRY(lm_check_id(c, "status_reply.features.version", f->has_version, &f->version,
	                         LM_WIRE_VERSION_MAX, 0));
	LM_CHECK_TRY(lm_check_id(c, "status_reply.features.package", f->has_package, &f->package,
	                         LM_WIRE_FEATURE_MAX, 0));
	for (size_t i = 0; i < f->n_holders; i++)
		LM_CHECK_TRY(check_holder(c, f->holders[i]));
	for (size_t i = 0; i < f->n_reservations; i++)
		LM_CHECK_TRY(check_reservation(c, f->reservations[i]));
	return 0;
}

static int check_admin_action(struct lm_check *c, const Lm__AdminAction *a)
{
	LM_CHECK_TRY(lm_check_text(c, "status_reply.admin_actions.who", a->who, LM_WIRE_TEXT_MAX,
	                           LM_CHECK_REQUIRED | LM_CHECK_SPACE | LM_CHECK_HIGH));
	LM_CHECK_TRY(lm_check_text(c, "status_reply.admin_actions.address", a->address,
	                           LM_WIRE_TEXT_MAX, LM_CHECK_SPACE));
	LM_CHECK_TRY(lm_check_text(c, "status_reply.admin_actions.action", a->action, 32,
	                           LM_CHECK_REQUIRED));
	return lm_check_text(c, "status_reply.admin_actions.detail", a->detail, LM_WIRE_TEXT_MAX,
	                     LM_CHECK_SPACE | LM_CHECK_HIGH);
}

static int check_status_reply(struct lm_check *c, const Lm__StatusReply *m)
{
	for (size_t i = 0; i < m->n_servers; i++)
		LM_CHECK_TRY(check_server(c, m->servers[i]));
	for (size_t i = 0; i < m->n_features; i++)
		LM_CHECK_TRY(check_feature(c, m->features[i]));
	for (size_t i = 0; i < m->n_admin_actions; i++)
		LM_CHECK_TRY(check_admin_action(c, m->admin_actions[i]));
	return 0;
}

static int check_admin_challenge(struct lm_check *c, const Lm__AdminChallenge *m)
{
	return lm_check_exact(c, "admin_challenge.nonce", m->has_nonce, &m->nonce,
	                      LM_ADMIN_NONCE_LEN);
}

/* The inner request is decoded and checked on its own by the server once
 * the signature holds (lmd/admin_auth.c). */
static int check_signed_admin(struct lm_check *c, const Lm__SignedAdminRequest *m)
{
	LM_CHECK_TRY(lm_check_id(c, "signed_admin_request.key_name", m->has_key_name, &m->key_name,
	                         LM_ADMIN_KEY_NAME_MAX, LM_CHECK_REQUIRED));
	LM_CHECK_TRY(lm_check_exact(c, "signed_admin_request.signature", m->has_signature,
	                            &m->signature, LM_WIRE_SIG_LEN));
	if (!m->has_request || m->request.len == 0)
		return lm_check_fail(c, "signed_admin_request.request is missing");
	return 0;
}

static int check_remove(struct lm_check *c, const Lm__RemoveRequest *m)
{
	LM_CHECK_TRY(lm_check_id(c, "remove_request.feature", m->has_feature, &m->feature,
	                         LM_WIRE_FEATURE_MAX, LM_CHECK_REQUIRED));
	LM_CHECK_TRY(lm_check_id(c, "remove_request.user", m->has_user, &m->user, LM_WIRE_USER_MAX,
	                         LM_CHECK_SPACE));
	LM_CHECK_TRY(
	        lm_check_id(c, "remove_request.host", m->has_host, &m->host, LM_WIRE_HOST_MAX, 0));
	LM_CHECK_TRY(lm_check_id(c, "remove_request.display", m->has_display, &m->display,
	                         LM_WIRE_DISPLAY_MAX, LM_CHECK_SPACE));
	LM_CHECK_TRY(lm_check_id(c, "remove_request.named", m->has_named, &m->named,
	                         LM_WIRE_USER_MAX, LM_CHECK_SPACE));
	/* lmremove names a holder one way or the other; named-user remove a
	 * name of the list. */
	if (!m->has_handle && !m->has_user && !m->has_named)
		return lm_check_fail(c, "remove_request names neither a handle nor a user");
	return 0;
}

static int check_replace(struct lm_check *c, const Lm__ReplaceRequest *m)
{
	if (!m->has_node || m->node < 1 || m->node > 3)
		return lm_check_fail(c, "replace_request.node must name SERVER line 1, 2 or 3");
	if (!m->has_new_id || m->new_id == 0)
		return lm_check_fail(c, "replace_request.new_id is missing");
	return lm_check_text(c, "replace_request.new_address", m->new_address, LM_WIRE_ADDRESS_MAX,
	                     LM_CHECK_REQUIRED);
}

static int check_admin_reply(struct lm_check *c, const Lm__AdminReply *m)
{
	return lm_check_text(c, "admin_reply.message", m->message, LM_WIRE_TEXT_MAX,
	                     LM_CHECK_SPACE | LM_CHECK_HIGH);
}

static int check_error_reply(struct lm_check *c, const Lm__ErrorReply *m)
{
	if (!m->has_code)
		return lm_check_fail(c, "error_reply.code is missing");
	/* Codes newer than this build are fine (lmc_strerror names them
	 * "unknown"), but an error is never 0 or positive. */
	if (m->code >= 0)
		return lm_check_fail(
		        c, "error_reply.code is %" PRId32 ", not a negative LMC_E* code", m->code);
	LM_CHECK_TRY(lm_check_text(c, "error_reply.message", m->message, LM_WIRE_TEXT_MAX,
	                           LM_CHECK_SPACE | LM_CHECK_HIGH));
	return lm_check_text(c, "error_reply.leader", m->leader, LM_WIRE_ADDRESS_MAX, 0);
}

int lm_envelope_check_body(struct lm_check *c, const Lm__Envelope *e)
{
	switch (e->body_case) {
	case LM__ENVELOPE__BODY_HELLO: return check_hello(c, e->hello);
	case LM__ENVELOPE__BODY_HELLO_REPLY: return check_hello_reply(c, e->hello_reply);
	case LM__ENVELOPE__BODY_SESSION_OPEN: return check_session_open(c, e->session_open);
	case LM__ENVELOPE__BODY_SESSION_REPLY: return check_session_reply(c, e->session_reply);
	case LM__ENVELOPE__BODY_CHECKOUT: return check_checkout(c, e->checkout);
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY: return check_checkout_reply(c, e->checkout_reply);
	case LM__ENVELOPE__BODY_CHECKIN: return check_handle(c, "checkin", e->checkin->has_handle);
	case LM__ENVELOPE__BODY_CHECKIN_REPLY:
		return check_handle(c, "checkin_reply", e->checkin_reply->has_handle);
	case LM__ENVELOPE__BODY_STATUS_REQUEST: return check_status_request(c, e->status_request);
	case LM__ENVELOPE__BODY_STATUS_REPLY: return check_status_reply(c, e->status_reply);
	case LM__ENVELOPE__BODY_REMOVE_REQUEST: return check_remove(c, e->remove_request);
	case LM__ENVELOPE__BODY_REPLACE_REQUEST: return check_replace(c, e->replace_request);
	case LM__ENVELOPE__BODY_ADMIN_REPLY: return check_admin_reply(c, e->admin_reply);
	case LM__ENVELOPE__BODY_ERROR_REPLY: return check_error_reply(c, e->error_reply);
	case LM__ENVELOPE__BODY_ADMIN_CHALLENGE:
		return check_admin_challenge(c, e->admin_challenge);
	case LM__ENVELOPE__BODY_SIGNED_ADMIN_REQUEST:
		return check_signed_admin(c, e->signed_admin_request);
	/* Nothing in these to check beyond what protobuf-c did: a
	 * HeartbeatReply's handle list is bounded by the frame. */
	case LM__ENVELOPE__BODY_HEARTBEAT:
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY:
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST:
	case LM__ENVELOPE__BODY_REREAD_REQUEST:
	case LM__ENVELOPE__BODY_ADMIN_CHALLENGE_REQUEST:
	case LM__ENVELOPE__BODY_SESSION_CLOSE:
	case LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY: return 0;
	default: return lm_check_fail(c, "unknown message kind %d", (int)e->body_case);
	}
}
