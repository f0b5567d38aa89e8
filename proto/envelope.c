/* Envelopes: building them, naming their bodies, and the identifiers they
 * carry (proto/envelope.h).  The checks of a received Envelope are in
 * envelope_check.c. */
#include "proto/envelope.h"

#include <assert.h>
#include <string.h>

#include "core/error.h"

/* ---- Building envelopes ---- */

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
	case LM__ENVELOPE__BODY_ADMIN_CHALLENGE:
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
	case LM__ENVELOPE__BODY_ADMIN_CHALLENGE_REQUEST: return "admin_challenge_request";
	case LM__ENVELOPE__BODY_ADMIN_CHALLENGE: return "admin_challenge";
	case LM__ENVELOPE__BODY_SIGNED_ADMIN_REQUEST: return "signed_admin_request";
	default: return "unknown";
	}
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

int lm_bytes_opt_to_cstr(bool has, const ProtobufCBinaryData *b, char *out, size_t size)
{
	if (has)
		return lm_bytes_to_cstr(b, out, size);
	if (size)
		out[0] = '\0';
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
