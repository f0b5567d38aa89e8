/* Frames: how Envelopes (proto/envelope.h) travel on a byte stream.
 *
 * A frame is a 4-byte big-endian payload length followed by that many bytes
 * of one packed Envelope.  The reader refuses a length above its maximum as
 * soon as the 4-byte header has arrived, before it waits for, buffers or
 * allocates anything for the payload (LM_FRAME_MAX for requests,
 * LM_FRAME_REPLY_MAX for replies: core/limits.h); lm_envelope_decode() then
 * unpacks and checks the payload. */
#ifndef LM_FRAME_H
#define LM_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h" /* LM_FRAME_MAX, LM_FRAME_REPLY_MAX */
#include "proto/envelope.h"
#include "proto/lm.pb-c.h"

/* Bytes of the length prefix. */
#define LM_FRAME_HEADER 4
/* Buffer a reader needs for payloads of up to max bytes. */
#define LM_FRAME_BUFSIZE(max) ((size_t)(max) + LM_FRAME_HEADER)

/* ---- Writing frames ---- */

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
 * space again: then at least one byte of space is always free.
 *
 * A server holding thousands of connections cannot give each a buffer for
 * the largest frame.  A growing reader (lm_frame_reader_init_growing) holds
 * only the bytes not yet handed out: the caller reads into a buffer of its
 * own, shared by every connection, and copies each read in with
 * lm_frame_reader_feed().  Its block grows with what it holds and is given
 * back once it is empty; the caller's resize function provides the memory,
 * so that it can count every connection's bytes against one budget:
 *
 *   read_cb:  rc = lm_frame_reader_feed(r, shared, nread);
 *             if (rc < 0) the budget or the memory ran out: close;
 *             while ((rc = lm_frame_reader_next(r, &payload, &len)) == 1)
 *                     handle(payload, len);
 *
 * Frames not yet taken (the connection was busy) stay until the next call
 * of next. */

/* Resizes *block from old_size to new_size bytes (a NULL *block and 0 are
 * none yet; new_size 0 frees it) and returns 0, or returns a negative LMC_E*
 * code and leaves *block as it was: LMC_ENOMEM, or the caller's refusal (a
 * budget spent). */
typedef int (*lm_frame_resize_fn)(void *arg, uint8_t **block, size_t old_size, size_t new_size);

struct lm_frame_reader {
	uint8_t *buf;
	size_t size;  /* LM_FRAME_BUFSIZE(max), or a growing reader's block size */
	size_t max;   /* largest payload accepted */
	size_t start; /* first byte not yet handed out as a frame */
	size_t end;   /* one past the last byte received */
	int error;    /* once set, every call to next returns it */
	bool owned;   /* buf was allocated by init */
	/* A growing reader's memory (NULL for a reader over one block). */
	lm_frame_resize_fn resize;
	void *resize_arg;
};

/* Sets r up over buf[0..size) (a caller-owned block that must outlive r) or,
 * when buf is NULL, over a block of size bytes it allocates.  The largest
 * payload accepted is size - LM_FRAME_HEADER: pass
 * LM_FRAME_BUFSIZE(LM_FRAME_MAX) on a server.  Returns 0, LMC_EINVAL (size
 * too small for a header and one byte) or LMC_ENOMEM. */
int lm_frame_reader_init(struct lm_frame_reader *r, uint8_t *buf, size_t size);
/* Sets r up as a growing reader of payloads up to max bytes, with no block
 * yet: resize(arg, ...) provides one as bytes are fed.  Returns 0 or
 * LMC_EINVAL (max 0 or over 4 GiB). */
int lm_frame_reader_init_growing(struct lm_frame_reader *r, size_t max, lm_frame_resize_fn resize,
                                 void *arg);
/* Frees the block if init allocated it, or gives a growing reader's back. */
void lm_frame_reader_close(struct lm_frame_reader *r);

/* Copies n bytes read from the stream into a growing reader, its block
 * grown (doubling from 256 bytes) to hold them after the bytes not yet
 * handed out.  Returns 0, or resize's code with nothing copied; a stream
 * missing bytes cannot be read on, so the caller ends it. */
int lm_frame_reader_feed(struct lm_frame_reader *r, const uint8_t *data, size_t n);

/* The largest block an idle growing reader keeps. */
#define LM_FRAME_READER_KEEP 4096

/* The free tail of the buffer, where the next bytes read should go (not for
 * a growing reader). */
void lm_frame_reader_space(struct lm_frame_reader *r, uint8_t **base, size_t *len);
/* Records that n bytes were written at the start of the space. */
void lm_frame_reader_commit(struct lm_frame_reader *r, size_t n);

/* The next complete frame: returns 1 with *payload and *len set (the
 * payload stays valid until the next call of any lm_frame_reader function
 * on r), 0 when more bytes are needed, or LMC_ETOOLARGE as soon as a header
 * announces a payload over the maximum, with that announced length in
 * *len; that error is final.  A growing reader that returns 0 with nothing
 * pending gives a block over LM_FRAME_READER_KEEP bytes back. */
int lm_frame_reader_next(struct lm_frame_reader *r, const uint8_t **payload, size_t *len);

/* Bytes received but not yet handed out as frames: non-zero at the end of
 * the stream means that the peer hung up in the middle of a frame. */
size_t lm_frame_reader_pending(const struct lm_frame_reader *r);

#endif
