/* Envelopes: the one message of proto/lm.proto that travels in a frame
 * (proto/frame.h), and the checks every received Envelope passes before
 * anyone reads it.
 *
 * The decoder unpacks into a capped arena (proto/arena.h) and then
 * validates what protobuf-c cannot: that the protocol version is spoken
 * here, that a known body is present, that each identifier is short
 * printable ASCII without NUL and that counts are in range (the limits of
 * core/limits.h).  Whoever receives an Envelope from lm_envelope_decode()
 * may copy its identifiers with lm_bytes_to_cstr() and use them without
 * further checks of form (their meaning, such as "is this feature
 * licensed", is theirs). */
#ifndef LM_ENVELOPE_H
#define LM_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "proto/arena.h"
#include "proto/lm.pb-c.h"

/* The version this build speaks, and the oldest it still accepts; other
 * versions get LMC_EPROTO.  Bumped only for a break in meaning. */
#define LM_PROTOCOL_VERSION     1
#define LM_PROTOCOL_VERSION_MIN 1
/* Body field numbers start here; lower numbers are envelope headers. */
#define LM_BODY_FIELD_MIN 10

/* ---- Building envelopes ---- */

/* Resets e to an empty envelope of this protocol version answering or
 * naming request_id.  The caller then sets one body. */
void lm_envelope_init(Lm__Envelope *e, uint64_t request_id);

/* Points e at r and fills r as the ErrorReply for code (a negative LMC_E*)
 * and message, which e borrows and which must stay alive until e is packed.
 * The receiver refuses messages longer than LM_WIRE_TEXT_MAX or with control
 * characters; lm_frame_pack_error() cleans them up. */
void lm_envelope_error(Lm__Envelope *e, Lm__ErrorReply *r, uint64_t request_id, int code,
                       const char *message);

/* ---- Decoding and validating ---- */

/* Unpacks payload into arena and checks it with lm_envelope_check().  On
 * success returns 0 and *env points into the arena (valid until the arena is
 * reset; the caller resets it when done with the request).  On failure:
 * - LMC_ETOOLARGE: decoding needed more memory than the arena holds;
 * - LMC_EPROTO: not an Envelope, or a check failed.
 * Either way a sentence naming the problem goes to err (which may be NULL).
 * When unpacking worked but a check failed, *env is the envelope with its
 * body removed, so that the ErrorReply can carry the request's request_id;
 * otherwise *env is NULL. */
int lm_envelope_decode(const uint8_t *payload, size_t len, struct lm_arena *arena,
                       Lm__Envelope **env, char *err, size_t errsize);

/* The checks of lm_envelope_decode() on an Envelope already in memory (a
 * test can run them on what it is about to send).  Returns 0 or LMC_EPROTO
 * with a sentence in err. */
int lm_envelope_check(const Lm__Envelope *e, char *err, size_t errsize);

/* "checkout", "error_reply"..., or "unknown", for logs and messages. */
const char *lm_body_name(Lm__Envelope__BodyCase body);
/* True for the bodies a server sends, false for those a client sends. */
bool lm_body_is_reply(Lm__Envelope__BodyCase body);

/* ---- Identifiers ---- */

/* Copies a bytes field into out as a C string.  Returns 0, LMC_ETOOLARGE
 * when it needs more than size bytes with the NUL, or LMC_EPROTO when it
 * contains a NUL (which a checked envelope never does). */
int lm_bytes_to_cstr(const ProtobufCBinaryData *b, char *out, size_t size);
/* lm_bytes_to_cstr for an optional field: an absent one (has false) gives
 * "" and 0. */
int lm_bytes_opt_to_cstr(bool has, const ProtobufCBinaryData *b, char *out, size_t size);
/* A bytes field that borrows the C string s (without its NUL), for building
 * messages to pack; NULL gives an empty field. */
ProtobufCBinaryData lm_bytes_from_cstr(const char *s);
/* True when b holds exactly the characters of s. */
bool lm_bytes_equal(const ProtobufCBinaryData *b, const char *s);

#endif
