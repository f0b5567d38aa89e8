/* Frames: how Envelopes (proto/lm.proto) travel on a byte stream, and the
 * checks every received Envelope passes before anyone reads it.
 *
 * A frame is a 4-byte big-endian payload length followed by that many bytes
 * of one packed Envelope.  The reader refuses a length above its maximum as
 * soon as the 4-byte header has arrived, before it waits for, buffers or
 * allocates anything for the payload; the decoder unpacks into a capped
 * arena (proto/arena.h) and then validates what protobuf-c cannot: that the
 * protocol version is spoken here, that a known body is present, that each
 * identifier is short printable ASCII without NUL and that counts are in
 * range.  Whoever receives an Envelope from lm_envelope_decode() may copy its
 * identifiers with lm_bytes_to_cstr() and use them without further checks
 * of form (their meaning, such as "is this feature licensed", is theirs). */
#ifndef LM_FRAME_H
#define LM_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/license.h"
#include "core/lockcode.h"
#include "proto/arena.h"
#include "proto/lm.pb-c.h"

/* ---- Limits of the wire protocol, each refused with the code named ---- */

/* The version this build speaks, and the oldest it still accepts; other
 * versions get LMC_EPROTO.  Bumped only for a break in meaning. */
#define LM_PROTOCOL_VERSION     1
#define LM_PROTOCOL_VERSION_MIN 1

/* Bytes of the length prefix. */
#define LM_FRAME_HEADER 4
/* Largest payload of a request (a frame a client sends): LMC_ETOOLARGE. */
#define LM_FRAME_MAX (64 * 1024)
/* Largest payload of a reply.  Only a StatusReply listing every holder of a
 * big site needs more than LM_FRAME_MAX, so a client that never asks for
 * status reads with an LM_FRAME_MAX reader: LMC_ETOOLARGE. */
#define LM_FRAME_REPLY_MAX (4 * 1024 * 1024)
/* Buffer a reader needs for payloads of up to max bytes. */
#define LM_FRAME_BUFSIZE(max) ((size_t)(max) + LM_FRAME_HEADER)

/* Identifiers, in bytes (all LMC_EPROTO).  Names and versions share the
 * license file's limits, so that anything a license can name fits. */
#define LM_WIRE_FEATURE_MAX  LM_NAME_MAX    /* 64 */
#define LM_WIRE_VERSION_MAX  LM_VERSION_MAX /* 16 */
#define LM_WIRE_HOST_MAX     LM_HOST_MAX    /* 255 */
#define LM_WIRE_USER_MAX     255
#define LM_WIRE_DISPLAY_MAX  255
#define LM_WIRE_LOCKCODE_MAX (LM_LOCKCODE_TEXT_MAX - 1) /* 63 */
/* "port@host". */
#define LM_WIRE_ADDRESS_MAX (LM_HOST_MAX + 6)
/* Free text for people: error messages, server versions. */
#define LM_WIRE_TEXT_MAX 1024
/* A signed license line's canonical text, and its signature. */
#define LM_WIRE_LICENSE_MAX LM_LINE_MAX /* 4096 */
#define LM_WIRE_SIG_LEN     LM_SIG_LEN  /* 64 */
/* The digest of a pool state in a ServerStatus: exactly this long. */
#define LM_WIRE_DIGEST_LEN 32
/* A cluster id (HelloReply, SessionReply, ServerStatus): exactly this long. */
#define LM_WIRE_CLUSTER_ID_LEN 16
/* A session secret: exactly this long. */
#define LM_SESSION_SECRET_LEN 32
/* Seats in one checkout: 1..LM_CHECKOUT_COUNT_MAX. */
#define LM_CHECKOUT_COUNT_MAX 1000000
/* Longest a checkout may wait in the server's queue. */
#define LM_CHECKOUT_WAIT_MAX_MS (3600u * 1000u)
/* Body field numbers start here; lower numbers are envelope headers. */
#define LM_BODY_FIELD_MIN 10

/* ---- Writing frames ---- */

/* Resets e to an empty envelope of this protocol version answering or
 * naming request_id.  The caller then sets one body. */
void lm_envelope_init(Lm__Envelope *e, uint64_t request_id);

/* The largest payload allowed for e: LM_FRAME_REPLY_MAX for a reply body,
 * LM_FRAME_MAX for a request. */
size_t lm_frame_limit(const Lm__Envelope *e);

/* Writes e as one frame (header + payload) into buf[0..size) and its length
 * into *len.  Returns 0, or LMC_ETOOLARGE when the payload exceeds
 * lm_frame_limit(e) or does not fit in buf (nothing useful is written). */
int lm_frame_pack(const Lm__Envelope *e, uint8_t *buf, size_t size, size_t *len);

/* Like lm_frame_pack, into a heap buffer *buf of capacity *cap that the
 * caller owns (both may start as NULL and 0): it is grown with realloc when
 * the frame does not fit, and kept on failure.  Returns 0, LMC_ETOOLARGE or
 * LMC_ENOMEM. */
int lm_frame_pack_alloc(const Lm__Envelope *e, uint8_t **buf, size_t *cap, size_t *len);

/* Points e at r and fills r as the ErrorReply for code (a negative LMC_E*)
 * and message, which e borrows and which must stay alive until e is packed.
 * The receiver refuses messages longer than LM_WIRE_TEXT_MAX or with control
 * characters; lm_frame_pack_error() cleans them up. */
void lm_envelope_error(Lm__Envelope *e, Lm__ErrorReply *r, uint64_t request_id, int code,
                       const char *message);

/* Writes the ErrorReply frame for code and message into buf, the message cut
 * to LM_WIRE_TEXT_MAX bytes and its control characters replaced by '?', so
 * that the receiver always accepts it.  Returns 0 or LMC_ETOOLARGE (buf
 * smaller than the frame; LM_FRAME_BUFSIZE(LM_WIRE_TEXT_MAX + 32) always
 * suffices). */
int lm_frame_pack_error(uint64_t request_id, int code, const char *message, uint8_t *buf,
                        size_t size, size_t *len);

/* ---- Reading frames from a stream ---- */

/* Cuts a byte stream into frames without a copy or an allocation per frame.
 * With libuv:
 *
 *   alloc_cb: lm_frame_reader_space(r, &p, &n); buf->base = p; buf->len = n;
 *   read_cb:  lm_frame_reader_commit(r, nread);
 *             while ((rc = lm_frame_reader_next(r, &payload, &len)) == 1)
 *                     handle(payload, len);
 *             if (rc < 0) reply with an error and close;
 *
 * Drain with lm_frame_reader_next() until it returns 0 before asking for
 * space again: then at least one byte of space is always free. */
struct lm_frame_reader {
	uint8_t *buf;
	size_t size;  /* LM_FRAME_BUFSIZE(max) */
	size_t max;   /* largest payload accepted */
	size_t start; /* first byte not yet handed out as a frame */
	size_t end;   /* one past the last byte received */
	int error;    /* once set, every call to next returns it */
	bool owned;   /* buf was allocated by init */
};

/* Sets r up over buf[0..size) (a caller-owned block that must outlive r) or,
 * when buf is NULL, over a block of size bytes it allocates.  The largest
 * payload accepted is size - LM_FRAME_HEADER: pass
 * LM_FRAME_BUFSIZE(LM_FRAME_MAX) on a server.  Returns 0, LMC_EINVAL (size
 * too small for a header and one byte) or LMC_ENOMEM. */
int lm_frame_reader_init(struct lm_frame_reader *r, uint8_t *buf, size_t size);
/* Frees the block if init allocated it. */
void lm_frame_reader_close(struct lm_frame_reader *r);

/* The free tail of the buffer, where the next bytes read should go. */
void lm_frame_reader_space(struct lm_frame_reader *r, uint8_t **base, size_t *len);
/* Records that n bytes were written at the start of the space. */
void lm_frame_reader_commit(struct lm_frame_reader *r, size_t n);

/* The next complete frame: returns 1 with *payload and *len set (the
 * payload stays valid until the next call of any lm_frame_reader function
 * on r), 0 when more bytes are needed, or LMC_ETOOLARGE as soon as a header
 * announces a payload over the maximum; that error is final. */
int lm_frame_reader_next(struct lm_frame_reader *r, const uint8_t **payload, size_t *len);

/* Bytes received but not yet handed out as frames: non-zero at the end of
 * the stream means that the peer hung up in the middle of a frame. */
size_t lm_frame_reader_pending(const struct lm_frame_reader *r);

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
/* A bytes field that borrows the C string s (without its NUL), for building
 * messages to pack; NULL gives an empty field. */
ProtobufCBinaryData lm_bytes_from_cstr(const char *s);
/* True when b holds exactly the characters of s. */
bool lm_bytes_equal(const ProtobufCBinaryData *b, const char *s);

#endif
