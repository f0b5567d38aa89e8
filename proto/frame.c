#include "proto/frame.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/lmc.h"

/* ---- Writing frames ---- */

void lm_envelope_init(Lm__Envelope *e, uint64_t request_id)
{
	lm__envelope__init(e);
	e->has_protocol_version = 1;
	e->protocol_version = LM_PROTOCOL_VERSION;
	e->has_request_id = 1;
	e->request_id = request_id;
}

bool lm_body_is_reply(Lm__Envelope__BodyCase body)
{
	switch (body) {
	case LM__ENVELOPE__BODY_HELLO_REPLY:
	case LM__ENVELOPE__BODY_SESSION_REPLY:
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY:
	case LM__ENVELOPE__BODY_CHECKIN_REPLY:
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY:
	case LM__ENVELOPE__BODY_STATUS_REPLY:
	case LM__ENVELOPE__BODY_ADMIN_REPLY:
	case LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY:
	case LM__ENVELOPE__BODY_ERROR_REPLY: return true;
	default: return false;
	}
}

const char *lm_body_name(Lm__Envelope__BodyCase body)
{
	switch (body) {
	case LM__ENVELOPE__BODY_HELLO: return "hello";
	case LM__ENVELOPE__BODY_HELLO_REPLY: return "hello_reply";
	case LM__ENVELOPE__BODY_SESSION_OPEN: return "session_open";
	case LM__ENVELOPE__BODY_SESSION_REPLY: return "session_reply";
	case LM__ENVELOPE__BODY_CHECKOUT: return "checkout";
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY: return "checkout_reply";
	case LM__ENVELOPE__BODY_CHECKIN: return "checkin";
	case LM__ENVELOPE__BODY_CHECKIN_REPLY: return "checkin_reply";
	case LM__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY: return "heartbeat_reply";
	case LM__ENVELOPE__BODY_STATUS_REQUEST: return "status_request";
	case LM__ENVELOPE__BODY_STATUS_REPLY: return "status_reply";
	case LM__ENVELOPE__BODY_REMOVE_REQUEST: return "remove_request";
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST: return "shutdown_request";
	case LM__ENVELOPE__BODY_REREAD_REQUEST: return "reread_request";
	case LM__ENVELOPE__BODY_ADMIN_REPLY: return "admin_reply";
	case LM__ENVELOPE__BODY_ERROR_REPLY: return "error_reply";
	case LM__ENVELOPE__BODY_SESSION_CLOSE: return "session_close";
	case LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY: return "session_close_reply";
	case LM__ENVELOPE__BODY_REPLACE_REQUEST: return "replace_request";
	default: return "unknown";
	}
}

size_t lm_frame_limit(const Lm__Envelope *e)
{
	return lm_body_is_reply(e->body_case) ? LM_FRAME_REPLY_MAX : LM_FRAME_MAX;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void pack_into(const Lm__Envelope *e, uint8_t *buf, size_t n)
{
	put_be32(buf, (uint32_t)n);
	size_t written = lm__envelope__pack(e, buf + LM_FRAME_HEADER);
	assert(written == n);
	(void)written;
}

int lm_frame_pack(const Lm__Envelope *e, uint8_t *buf, size_t size, size_t *len)
{
	size_t n = lm__envelope__get_packed_size(e);
	if (n > lm_frame_limit(e) || size < LM_FRAME_HEADER || n > size - LM_FRAME_HEADER)
		return LMC_ETOOLARGE;
	pack_into(e, buf, n);
	*len = LM_FRAME_HEADER + n;
	return 0;
}

int lm_frame_pack_alloc(const Lm__Envelope *e, uint8_t **buf, size_t *cap, size_t *len)
{
	size_t n = lm__envelope__get_packed_size(e);
	if (n > lm_frame_limit(e))
		return LMC_ETOOLARGE;
	size_t need = LM_FRAME_HEADER + n;
	if (*cap < need) {
		uint8_t *p = realloc(*buf, need);
		if (p == NULL)
			return LMC_ENOMEM;
		*buf = p;
		*cap = need;
	}
	pack_into(e, *buf, n);
	*len = need;
	return 0;
}

void lm_envelope_error(Lm__Envelope *e, Lm__ErrorReply *r, uint64_t request_id, int code,
                       const char *message)
{
	assert(code < 0);
	lm_envelope_init(e, request_id);
	lm__error_reply__init(r);
	r->has_code = 1;
	r->code = code;
	/* protobuf-c declares string fields char * but never writes through
	 * them when packing. */
	r->message = (char *)message;
	e->body_case = LM__ENVELOPE__BODY_ERROR_REPLY;
	e->error_reply = r;
}

int lm_frame_pack_error(uint64_t request_id, int code, const char *message, uint8_t *buf,
                        size_t size, size_t *len)
{
	char text[LM_WIRE_TEXT_MAX + 1];
	size_t n = 0;

	for (const char *p = message ? message : ""; *p && n < LM_WIRE_TEXT_MAX; p++) {
		unsigned char c = (unsigned char)*p;
		text[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	text[n] = '\0';

	Lm__Envelope e;
	Lm__ErrorReply r;
	lm_envelope_error(&e, &r, request_id, code, text);
	return lm_frame_pack(&e, buf, size, len);
}

/* ---- Reading frames from a stream ---- */

int lm_frame_reader_init(struct lm_frame_reader *r, uint8_t *buf, size_t size)
{
	if (size <= LM_FRAME_HEADER || size - LM_FRAME_HEADER > UINT32_MAX)
		return LMC_EINVAL;
	r->owned = false;
	if (buf == NULL) {
		buf = malloc(size);
		if (buf == NULL)
			return LMC_ENOMEM;
		r->owned = true;
	}
	r->buf = buf;
	r->size = size;
	r->max = size - LM_FRAME_HEADER;
	r->start = 0;
	r->end = 0;
	r->error = 0;
	return 0;
}

void lm_frame_reader_close(struct lm_frame_reader *r)
{
	if (r->owned)
		free(r->buf);
	r->buf = NULL;
	r->size = 0;
	r->owned = false;
}

/* Moves the bytes not yet handed out to the front of the buffer, which
 * makes room at the tail for the rest of a partial frame: a whole frame
 * always fits in the buffer once it starts at offset 0. */
static void compact(struct lm_frame_reader *r)
{
	if (r->start == 0)
		return;
	size_t n = r->end - r->start;
	memmove(r->buf, r->buf + r->start, n);
	r->start = 0;
	r->end = n;
}

void lm_frame_reader_space(struct lm_frame_reader *r, uint8_t **base, size_t *len)
{
	compact(r);
	*base = r->buf + r->end;
	*len = r->size - r->end;
}

void lm_frame_reader_commit(struct lm_frame_reader *r, size_t n)
{
	assert(n <= r->size - r->end);
	r->end += n;
}

int lm_frame_reader_next(struct lm_frame_reader *r, const uint8_t **payload, size_t *len)
{
	if (r->error)
		return r->error;

	size_t avail = r->end - r->start;
	if (avail < LM_FRAME_HEADER) {
		compact(r);
		return 0;
	}
	/* The header alone decides: a peer announcing more than we accept is
	 * refused before we wait for or hold any of its payload. */
	uint32_t n = get_be32(r->buf + r->start);
	if (n > r->max) {
		r->error = LMC_ETOOLARGE;
		return r->error;
	}
	if (avail - LM_FRAME_HEADER < n) {
		compact(r);
		return 0;
	}
	*payload = r->buf + r->start + LM_FRAME_HEADER;
	*len = n;
	r->start += LM_FRAME_HEADER + n;
	if (r->start == r->end)
		r->start = r->end = 0;
	return 1;
}

size_t lm_frame_reader_pending(const struct lm_frame_reader *r)
{
	return r->end - r->start;
}

/* ---- Checks ---- */

/* Where a check writes its sentence. */
struct check {
	char *err;
	size_t errsize;
};

__attribute__((format(printf, 2, 3))) static int fail(struct check *c, const char *fmt, ...)
{
	if (c->err && c->errsize) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errsize, fmt, ap);
		va_end(ap);
	}
	return LMC_EPROTO;
}

/* How an identifier or text field may look. */
enum {
	F_REQUIRED = 1, /* absence is an error */
	F_SPACE = 2,    /* may contain spaces (user names, displays, text) */
	F_HIGH = 4,     /* may contain bytes >= 0x80 (UTF-8 in messages) */
};

/* The character rules shared by bytes and strings: never NUL or another
 * control character (a name must print as itself in logs and lmstat), a
 * space only where allowed. */
static int check_chars(struct check *c, const char *name, const uint8_t *p, size_t len,
                       unsigned flags)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = p[i];
		if (ch == 0)
			return fail(c, "%s contains a NUL byte at offset %zu", name, i);
		if (ch == ' ' && !(flags & F_SPACE))
			return fail(c, "%s contains a space at offset %zu", name, i);
		if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && !(flags & F_HIGH)))
			return fail(c, "%s contains byte 0x%02x at offset %zu, not printable ASCII",
			            name, ch, i);
	}
	return 0;
}

static int check_id(struct check *c, const char *name, protobuf_c_boolean has,
                    const ProtobufCBinaryData *b, size_t max, unsigned flags)
{
	if (!has)
		return (flags & F_REQUIRED) ? fail(c, "%s is missing", name) : 0;
	if (b->len == 0)
		return fail(c, "%s is empty", name);
	if (b->len > max)
		return fail(c, "%s is %zu bytes long, the limit is %zu", name, b->len, max);
	return check_chars(c, name, b->data, b->len, flags);
}

/* A string field (free text or an address that lmd writes).  protobuf-c
 * already cut it at its first NUL, which is harmless for text we only
 * print. */
static int check_text(struct check *c, const char *name, const char *s, size_t max, unsigned flags)
{
	if (s == NULL)
		return (flags & F_REQUIRED) ? fail(c, "%s is missing", name) : 0;
	size_t len = strnlen(s, max + 1);
	if (len > max)
		return fail(c, "%s is longer than %zu bytes", name, max);
	return check_chars(c, name, (const uint8_t *)s, len, flags);
}

static int check_exact(struct check *c, const char *name, protobuf_c_boolean has,
                       const ProtobufCBinaryData *b, size_t want)
{
	if (!has)
		return fail(c, "%s is missing", name);
	if (b->len != want)
		return fail(c, "%s is %zu bytes long, it must be %zu", name, b->len, want);
	return 0;
}

static int check_count(struct check *c, const char *name, protobuf_c_boolean has, uint32_t v,
                       bool required)
{
	if (!has)
		return required ? fail(c, "%s is missing", name) : 0;
	if (v < 1 || v > LM_CHECKOUT_COUNT_MAX)
		return fail(c, "%s is %" PRIu32 ", it must be 1 to %d", name, v,
		            LM_CHECKOUT_COUNT_MAX);
	return 0;
}

/* Chains checks: the first failure wins and its sentence stays in err. */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
	} while (0)

static int check_hello(struct check *c, const Lm__Hello *m)
{
	TRY(check_id(c, "hello.user", m->has_user, &m->user, LM_WIRE_USER_MAX,
	             F_REQUIRED | F_SPACE));
	TRY(check_id(c, "hello.host", m->has_host, &m->host, LM_WIRE_HOST_MAX, F_REQUIRED));
	TRY(check_id(c, "hello.display", m->has_display, &m->display, LM_WIRE_DISPLAY_MAX,
	             F_SPACE));
	TRY(check_id(c, "hello.lock_code", m->has_lock_code, &m->lock_code, LM_WIRE_LOCKCODE_MAX,
	             0));
	TRY(check_id(c, "hello.app_version", m->has_app_version, &m->app_version,
	             LM_WIRE_VERSION_MAX, 0));
	/* lmstat and the options file tell two runs of one user on one host
	 * apart by display, or by pid for a program without one. */
	if (!m->has_display && !m->has_pid)
		return fail(c, "hello has neither a display nor a pid");
	return 0;
}

static int check_hello_reply(struct check *c, const Lm__HelloReply *m)
{
	if (m->has_cluster_id)
		TRY(check_exact(c, "hello_reply.cluster_id", 1, &m->cluster_id,
		                LM_WIRE_CLUSTER_ID_LEN));
	return check_text(c, "hello_reply.server_version", m->server_version, LM_WIRE_TEXT_MAX,
	                  F_SPACE);
}

static int check_session_open(struct check *c, const Lm__SessionOpen *m)
{
	/* Both or neither: a session is resumed only by whoever holds its
	 * secret. */
	if (m->has_session_id != m->has_secret)
		return fail(c, "session_open needs both session_id and secret, or neither");
	if (m->has_secret)
		TRY(check_exact(c, "session_open.secret", 1, &m->secret, LM_SESSION_SECRET_LEN));
	return 0;
}

static int check_session_reply(struct check *c, const Lm__SessionReply *m)
{
	if (!m->has_session_id)
		return fail(c, "session_reply.session_id is missing");
	if (m->has_cluster_id)
		TRY(check_exact(c, "session_reply.cluster_id", 1, &m->cluster_id,
		                LM_WIRE_CLUSTER_ID_LEN));
	/* A resumed session keeps the secret the client already has. */
	if (m->has_resumed && m->resumed && !m->has_secret)
		return 0;
	return check_exact(c, "session_reply.secret", m->has_secret, &m->secret,
	                   LM_SESSION_SECRET_LEN);
}

static int check_checkout(struct check *c, const Lm__Checkout *m)
{
	TRY(check_id(c, "checkout.feature", m->has_feature, &m->feature, LM_WIRE_FEATURE_MAX,
	             F_REQUIRED));
	TRY(check_id(c, "checkout.version", m->has_version, &m->version, LM_WIRE_VERSION_MAX,
	             F_REQUIRED));
	TRY(check_count(c, "checkout.count", m->has_count, m->count, true));
	if (m->has_wait_ms && m->wait_ms > LM_CHECKOUT_WAIT_MAX_MS)
		return fail(c, "checkout.wait_ms is %" PRIu32 ", the limit is %u", m->wait_ms,
		            LM_CHECKOUT_WAIT_MAX_MS);
	return 0;
}

static int check_checkout_reply(struct check *c, const Lm__CheckoutReply *m)
{
	if (!m->has_handle)
		return fail(c, "checkout_reply.handle is missing");
	TRY(check_count(c, "checkout_reply.count", m->has_count, m->count, false));
	const Lm__SignedLicense *l = m->license;
	if (l == NULL)
		return fail(c, "checkout_reply.license is missing");
	/* The client parses the text as a C string and checks the signature
	 * over exactly those bytes, so a NUL inside must not get through. */
	TRY(check_id(c, "checkout_reply.license.text", l->has_text, &l->text, LM_WIRE_LICENSE_MAX,
	             F_REQUIRED | F_SPACE));
	return check_exact(c, "checkout_reply.license.signature", l->has_signature, &l->signature,
	                   LM_WIRE_SIG_LEN);
}

static int check_handle(struct check *c, const char *name, protobuf_c_boolean has)
{
	return has ? 0 : fail(c, "%s.handle is missing", name);
}

static int check_status_request(struct check *c, const Lm__StatusRequest *m)
{
	return check_id(c, "status_request.feature", m->has_feature, &m->feature,
	                LM_WIRE_FEATURE_MAX, 0);
}

static int check_server(struct check *c, const Lm__ServerStatus *s)
{
	TRY(check_text(c, "status_reply.servers.address", s->address, LM_WIRE_ADDRESS_MAX, 0));
	TRY(check_text(c, "status_reply.servers.version", s->version, LM_WIRE_TEXT_MAX, F_SPACE));
	TRY(check_text(c, "status_reply.servers.raft_address", s->raft_address, LM_WIRE_ADDRESS_MAX,
	               0));
	if (s->has_digest)
		TRY(check_exact(c, "status_reply.servers.digest", 1, &s->digest,
		                LM_WIRE_DIGEST_LEN));
	if (s->has_cluster_id)
		TRY(check_exact(c, "status_reply.servers.cluster_id", 1, &s->cluster_id,
		                LM_WIRE_CLUSTER_ID_LEN));
	/* protobuf-c stores any enum number it reads; only ours mean
	 * anything. */
	int role = (int)s->role;
	if (s->has_role && (role < LM__SERVER_ROLE__SERVER_ROLE_UNKNOWN ||
	                    role > LM__SERVER_ROLE__SERVER_ROLE_LEADER))
		return fail(c, "status_reply.servers.role %d is unknown", role);
	return 0;
}

static int check_holder(struct check *c, const Lm__Holder *h)
{
	TRY(check_id(c, "status_reply.holders.user", h->has_user, &h->user, LM_WIRE_USER_MAX,
	             F_REQUIRED | F_SPACE));
	TRY(check_id(c, "status_reply.holders.host", h->has_host, &h->host, LM_WIRE_HOST_MAX,
	             F_REQUIRED));
	TRY(check_id(c, "status_reply.holders.display", h->has_display, &h->display,
	             LM_WIRE_DISPLAY_MAX, F_SPACE));
	TRY(check_id(c, "status_reply.holders.version", h->has_version, &h->version,
	             LM_WIRE_VERSION_MAX, 0));
	return check_count(c, "status_reply.holders.count", h->has_count, h->count, false);
}

static int check_feature(struct check *c, const Lm__FeatureStatus *f)
{
	TRY(check_id(c, "status_reply.features.name", f->has_name, &f->name, LM_WIRE_FEATURE_MAX,
	             F_REQUIRED));
	TRY(check_id(c, "status_reply.features.version", f->has_version, &f->version,
	             LM_WIRE_VERSION_MAX, 0));
	for (size_t i = 0; i < f->n_holders; i++)
		TRY(check_holder(c, f->holders[i]));
	return 0;
}

static int check_status_reply(struct check *c, const Lm__StatusReply *m)
{
	for (size_t i = 0; i < m->n_servers; i++)
		TRY(check_server(c, m->servers[i]));
	for (size_t i = 0; i < m->n_features; i++)
		TRY(check_feature(c, m->features[i]));
	return 0;
}

static int check_remove(struct check *c, const Lm__RemoveRequest *m)
{
	TRY(check_id(c, "remove_request.feature", m->has_feature, &m->feature, LM_WIRE_FEATURE_MAX,
	             F_REQUIRED));
	TRY(check_id(c, "remove_request.user", m->has_user, &m->user, LM_WIRE_USER_MAX, F_SPACE));
	TRY(check_id(c, "remove_request.host", m->has_host, &m->host, LM_WIRE_HOST_MAX, 0));
	TRY(check_id(c, "remove_request.display", m->has_display, &m->display, LM_WIRE_DISPLAY_MAX,
	             F_SPACE));
	/* lmremove names a holder one way or the other. */
	if (!m->has_handle && !m->has_user)
		return fail(c, "remove_request names neither a handle nor a user");
	return 0;
}

static int check_replace(struct check *c, const Lm__ReplaceRequest *m)
{
	if (!m->has_node || m->node < 1 || m->node > 3)
		return fail(c, "replace_request.node must name SERVER line 1, 2 or 3");
	if (!m->has_new_id || m->new_id == 0)
		return fail(c, "replace_request.new_id is missing");
	return check_text(c, "replace_request.new_address", m->new_address, LM_WIRE_ADDRESS_MAX,
	                  F_REQUIRED);
}

static int check_admin_reply(struct check *c, const Lm__AdminReply *m)
{
	return check_text(c, "admin_reply.message", m->message, LM_WIRE_TEXT_MAX, F_SPACE | F_HIGH);
}

static int check_error_reply(struct check *c, const Lm__ErrorReply *m)
{
	if (!m->has_code)
		return fail(c, "error_reply.code is missing");
	/* Codes newer than this build are fine (lmc_strerror names them
	 * "unknown"), but an error is never 0 or positive. */
	if (m->code >= 0)
		return fail(c, "error_reply.code is %" PRId32 ", not a negative LMC_E* code",
		            m->code);
	TRY(check_text(c, "error_reply.message", m->message, LM_WIRE_TEXT_MAX, F_SPACE | F_HIGH));
	return check_text(c, "error_reply.leader", m->leader, LM_WIRE_ADDRESS_MAX, 0);
}

/* The number of the first unknown field that could be a body, or 0. */
static uint32_t unknown_body_field(const Lm__Envelope *e)
{
	for (size_t i = 0; i < e->base.n_unknown_fields; i++)
		if (e->base.unknown_fields[i].tag >= LM_BODY_FIELD_MIN)
			return e->base.unknown_fields[i].tag;
	return 0;
}

/* The body pointer of e, whichever arm is set (every arm is a pointer to a
 * message, so one check for NULL serves them all); *known is false for a
 * body_case this build does not have. */
static const void *body_ptr(const Lm__Envelope *e, bool *known)
{
	*known = true;
	switch (e->body_case) {
	case LM__ENVELOPE__BODY_HELLO: return e->hello;
	case LM__ENVELOPE__BODY_HELLO_REPLY: return e->hello_reply;
	case LM__ENVELOPE__BODY_SESSION_OPEN: return e->session_open;
	case LM__ENVELOPE__BODY_SESSION_REPLY: return e->session_reply;
	case LM__ENVELOPE__BODY_CHECKOUT: return e->checkout;
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY: return e->checkout_reply;
	case LM__ENVELOPE__BODY_CHECKIN: return e->checkin;
	case LM__ENVELOPE__BODY_CHECKIN_REPLY: return e->checkin_reply;
	case LM__ENVELOPE__BODY_HEARTBEAT: return e->heartbeat;
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY: return e->heartbeat_reply;
	case LM__ENVELOPE__BODY_STATUS_REQUEST: return e->status_request;
	case LM__ENVELOPE__BODY_STATUS_REPLY: return e->status_reply;
	case LM__ENVELOPE__BODY_REMOVE_REQUEST: return e->remove_request;
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST: return e->shutdown_request;
	case LM__ENVELOPE__BODY_REREAD_REQUEST: return e->reread_request;
	case LM__ENVELOPE__BODY_ADMIN_REPLY: return e->admin_reply;
	case LM__ENVELOPE__BODY_ERROR_REPLY: return e->error_reply;
	case LM__ENVELOPE__BODY_SESSION_CLOSE: return e->session_close;
	case LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY: return e->session_close_reply;
	case LM__ENVELOPE__BODY_REPLACE_REQUEST: return e->replace_request;
	default: *known = false; return NULL;
	}
}

static int check_body(struct check *c, const Lm__Envelope *e)
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
	/* Nothing in these to check beyond what protobuf-c did: a
	 * HeartbeatReply's handle list is bounded by the frame. */
	case LM__ENVELOPE__BODY_HEARTBEAT:
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY:
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST:
	case LM__ENVELOPE__BODY_REREAD_REQUEST:
	case LM__ENVELOPE__BODY_SESSION_CLOSE:
	case LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY: return 0;
	default: return fail(c, "unknown message kind %d", (int)e->body_case);
	}
}

int lm_envelope_check(const Lm__Envelope *e, char *err, size_t errsize)
{
	struct check c = {err, errsize};

	if (!e->has_protocol_version)
		return fail(&c, "protocol_version is missing");
	/* An ErrorReply is read whatever its version, so that a peer of
	 * another version can still learn why it was turned away. */
	if (e->body_case != LM__ENVELOPE__BODY_ERROR_REPLY &&
	    (e->protocol_version < LM_PROTOCOL_VERSION_MIN ||
	     e->protocol_version > LM_PROTOCOL_VERSION)) {
		if (LM_PROTOCOL_VERSION_MIN == LM_PROTOCOL_VERSION)
			return fail(&c, "protocol version %" PRIu32 " is not supported, only %d",
			            e->protocol_version, LM_PROTOCOL_VERSION);
		return fail(&c, "protocol version %" PRIu32 " is not supported, only %d to %d",
		            e->protocol_version, LM_PROTOCOL_VERSION_MIN, LM_PROTOCOL_VERSION);
	}
	if (e->body_case == LM__ENVELOPE__BODY__NOT_SET) {
		/* A newer peer's request arrives as an unknown field: name it,
		 * so that the log says what to upgrade. */
		uint32_t field = unknown_body_field(e);
		if (field)
			return fail(&c, "unknown message kind (field %" PRIu32 ")", field);
		return fail(&c, "the envelope has no body");
	}
	bool known;
	if (body_ptr(e, &known) == NULL) {
		if (!known)
			return fail(&c, "unknown message kind %d", (int)e->body_case);
		return fail(&c, "the %s body is NULL", lm_body_name(e->body_case));
	}
	return check_body(&c, e);
}

int lm_envelope_decode(const uint8_t *payload, size_t len, struct lm_arena *arena,
                       Lm__Envelope **env, char *err, size_t errsize)
{
	struct check c = {err, errsize};

	*env = NULL;
	arena->exhausted = false;
	Lm__Envelope *e = lm__envelope__unpack(lm_arena_allocator(arena), len, payload);
	if (e == NULL) {
		/* protobuf-c says only "no"; the arena tells the two causes
		 * apart. */
		if (arena->exhausted) {
			fail(&c,
			     "a %zu-byte message needs more than the %zu bytes of memory allowed",
			     len, arena->size);
			return LMC_ETOOLARGE;
		}
		return fail(&c, "malformed message (%zu bytes)", len);
	}
	int rc = lm_envelope_check(e, err, errsize);
	if (rc < 0) {
		/* Keep the request_id for the ErrorReply, never the body. */
		e->body_case = LM__ENVELOPE__BODY__NOT_SET;
		e->hello = NULL;
	}
	*env = e;
	return rc;
}

/* ---- Identifiers ---- */

int lm_bytes_to_cstr(const ProtobufCBinaryData *b, char *out, size_t size)
{
	if (b->len >= size)
		return LMC_ETOOLARGE;
	if (b->len && memchr(b->data, 0, b->len))
		return LMC_EPROTO;
	if (b->len)
		memcpy(out, b->data, b->len);
	out[b->len] = '\0';
	return 0;
}

ProtobufCBinaryData lm_bytes_from_cstr(const char *s)
{
	ProtobufCBinaryData b = {0, NULL};
	if (s) {
		b.len = strlen(s);
		/* Borrowed: pack only reads it. */
		b.data = (uint8_t *)s;
	}
	return b;
}

bool lm_bytes_equal(const ProtobufCBinaryData *b, const char *s)
{
	size_t n = strlen(s);
	return b->len == n && (n == 0 || memcmp(b->data, s, n) == 0);
}
