/* The checks every received Envelope passes before anyone reads it, and
 * the decoder that runs them (proto/envelope.h): the rules for identifiers
 * and text (short printable ASCII without NUL, counts in range), the
 * protocol version and a known, present body.  What each body must hold is
 * envelope_bodies.c. */
#include "proto/envelope.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "proto/envelope_internal.h"

/* ---- The rules for fields ---- */

int lm_check_fail(struct lm_check *c, const char *fmt, ...)
{
	if (c->err && c->errsize) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errsize, fmt, ap);
		va_end(ap);
	}
	return LMC_EPROTO;
}

/* The character rules shared by bytes and strings: never NUL or another
 * control character (a name must print as itself in logs and lmstat), a
 * space only where allowed. */
static int check_chars(struct lm_check *c, const char *name, const uint8_t *p, size_t len,
                       unsigned flags)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = p[i];
		if (ch == 0)
			return lm_check_fail(c, "%s contains a NUL byte at offset %zu", name, i);
		if (ch == ' ' && !(flags & LM_CHECK_SPACE))
			return lm_check_fail(c, "%s contains a space at offset %zu", name, i);
		if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && !(flags & LM_CHECK_HIGH)))
			return lm_check_fail(
			        c, "%s contains byte 0x%02x at offset %zu, not printable ASCII",
			        name, ch, i);
	}
	return 0;
}

int lm_check_id(struct lm_check *c, const char *name, protobuf_c_boolean has,
                const ProtobufCBinaryData *b, size_t max, unsigned flags)
{
	if (!has)
		return (flags & LM_CHECK_REQUIRED) ? lm_check_fail(c, "%s is missing", name) : 0;
	if (b->len == 0)
		return lm_check_fail(c, "%s is empty", name);
	if (b->len > max)
		return lm_check_fail(c, "%s is %zu bytes long, the limit is %zu", name, b->len,
		                     max);
	return check_chars(c, name, b->data, b->len, flags);
}

/* A string field (free text or an address that lmd writes).  protobuf-c
 * already cut it at its first NUL, which is harmless for text we only
 * print. */
int lm_check_text(struct lm_check *c, const char *name, const char *s, size_t max, unsigned flags)
{
	if (s == NULL)
		return (flags & LM_CHECK_REQUIRED) ? lm_check_fail(c, "%s is missing", name) : 0;
	size_t len = strnlen(s, max + 1);
	if (len > max)
		return lm_check_fail(c, "%s is longer than %zu bytes", name, max);
	return check_chars(c, name, (const uint8_t *)s, len, flags);
}

int lm_check_exact(struct lm_check *c, const char *name, protobuf_c_boolean has,
                   const ProtobufCBinaryData *b, size_t want)
{
	if (!has)
		return lm_check_fail(c, "%s is missing", name);
	if (b->len != want)
		return lm_check_fail(c, "%s is %zu bytes long, it must be %zu", name, b->len, want);
	return 0;
}

int lm_check_count(struct lm_check *c, const char *name, protobuf_c_boolean has, uint32_t v,
                   bool required)
{
	if (!has)
		return required ? lm_check_fail(c, "%s is missing", name) : 0;
	if (v < 1 || v > LM_CHECKOUT_COUNT_MAX)
		return lm_check_fail(c, "%s is %" PRIu32 ", it must be 1 to %d", name, v,
		                     LM_CHECKOUT_COUNT_MAX);
	return 0;
}

/* ---- The envelope ---- */

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
	case LM__ENVELOPE__BODY_ADMIN_CHALLENGE_REQUEST: return e->admin_challenge_request;
	case LM__ENVELOPE__BODY_ADMIN_CHALLENGE: return e->admin_challenge;
	case LM__ENVELOPE__BODY_SIGNED_ADMIN_REQUEST: return e->signed_admin_request;
	default: *known = false; return NULL;
	}
}

int lm_envelope_check(const Lm__Envelope *e, char *err, size_t errsize)
{
	struct lm_check c = {err, errsize};

	if (!e->has_protocol_version)
		return lm_check_fail(&c, "protocol_version is missing");
	/* An ErrorReply is read whatever its version, so that a peer of
	 * another version can still learn why it was turned away. */
	if (e->body_case != LM__ENVELOPE__BODY_ERROR_REPLY &&
	    (e->protocol_version < LM_PROTOCOL_VERSION_MIN ||
	     e->protocol_version > LM_PROTOCOL_VERSION)) {
		if (LM_PROTOCOL_VERSION_MIN == LM_PROTOCOL_VERSION)
			return lm_check_fail(
			        &c, "protocol version %" PRIu32 " is not supported, only %d",
			        e->protocol_version, LM_PROTOCOL_VERSION);
		return lm_check_fail(
		        &c, "protocol version %" PRIu32 " is not supported, only %d to %d",
		        e->protocol_version, LM_PROTOCOL_VERSION_MIN, LM_PROTOCOL_VERSION);
	}
	if (e->body_case == LM__ENVELOPE__BODY__NOT_SET) {
		/* A newer peer's request arrives as an unknown field: name it,
		 * so that the log says what to upgrade. */
		uint32_t field = unknown_body_field(e);
		if (field)
			return lm_check_fail(&c, "unknown message kind (field %" PRIu32 ")", field);
		return lm_check_fail(&c, "the envelope has no body");
	}
	bool known;
	if (body_ptr(e, &known) == NULL) {
		if (!known)
			return lm_check_fail(&c, "unknown message kind %d", (int)e->body_case);
		return lm_check_fail(&c, "the %s body is NULL", lm_body_name(e->body_case));
	}
	return lm_envelope_check_body(&c, e);
}

int lm_envelope_decode(const uint8_t *payload, size_t len, struct lm_arena *arena,
                       Lm__Envelope **env, char *err, size_t errsize)
{
	struct lm_check c = {err, errsize};

	*env = NULL;
	arena->exhausted = false;
	Lm__Envelope *e = lm__envelope__unpack(lm_arena_allocator(arena), len, payload);
	if (e == NULL) {
		/* protobuf-c says only "no"; the arena tells the two causes
		 * apart. */
		if (arena->exhausted) {
			lm_check_fail(&c,
			              "a %zu-byte message needs more than the %zu bytes of memory "
			              "allowed",
			              len, arena->size);
			return LMC_ETOOLARGE;
		}
		return lm_check_fail(&c, "malformed message (%zu bytes)", len);
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
