/* Frames: writing an Envelope as a length-prefixed frame, and cutting a
 * byte stream back into frames (proto/frame.h). */
#include "proto/frame.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/error.h"

/* ---- Writing frames ---- */

size_t lm_frame_limit(const Lm__Envelope *e)
{
	return lm_body_is_reply(e->body_case) ? LM_FRAME_REPLY_MAX : LM_FRAME_MAX;
}

static void pack_into(const Lm__Envelope *e, uint8_t *buf, size_t n)
{
	lm_be32_put(buf, (uint32_t)n);
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
	r->resize = NULL;
	r->resize_arg = NULL;
	return 0;
}

int lm_frame_reader_init_growing(struct lm_frame_reader *r, size_t max, lm_frame_resize_fn resize,
                                 void *arg)
{
	if (max == 0 || max > UINT32_MAX || resize == NULL)
		return LMC_EINVAL;
	*r = (struct lm_frame_reader){.max = max, .resize = resize, .resize_arg = arg};
	return 0;
}

void lm_frame_reader_close(struct lm_frame_reader *r)
{
	if (r->resize && r->buf)
		r->resize(r->resize_arg, &r->buf, r->size, 0);
	else if (r->owned)
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
	assert(r->resize == NULL);
	compact(r);
	*base = r->buf + r->end;
	*len = r->size - r->end;
}

void lm_frame_reader_commit(struct lm_frame_reader *r, size_t n)
{
	assert(n <= r->size - r->end);
	r->end += n;
}

int lm_frame_reader_feed(struct lm_frame_reader *r, const uint8_t *data, size_t n)
{
	assert(r->resize != NULL);
	compact(r);
	size_t need = r->end + n;
	if (need > r->size) {
		size_t size = r->size ? r->size : 256;
		while (size < need)
			size *= 2;
		int rc = r->resize(r->resize_arg, &r->buf, r->size, size);
		if (rc != 0)
			return rc;
		r->size = size;
	}
	if (n)
		memcpy(r->buf + r->end, data, n);
	r->end = need;
	return 0;
}

/* An idle connection holds no large block: a growing reader with nothing
 * pending gives back a block grown for a big frame. */
static void trim(struct lm_frame_reader *r)
{
	if (r->resize && r->end == r->start && r->size > LM_FRAME_READER_KEEP &&
	    r->resize(r->resize_arg, &r->buf, r->size, 0) == 0) {
		r->buf = NULL;
		r->size = 0;
		r->start = r->end = 0;
	}
}

int lm_frame_reader_next(struct lm_frame_reader *r, const uint8_t **payload, size_t *len)
{
	if (r->error) {
		*len = lm_be32_get(r->buf + r->start);
		return r->error;
	}

	size_t avail = r->end - r->start;
	if (avail < LM_FRAME_HEADER) {
		compact(r);
		trim(r);
		return 0;
	}
	/* The header alone decides: a peer announcing more than we accept is
	 * refused before we wait for or hold any of its payload. */
	uint32_t n = lm_be32_get(r->buf + r->start);
	if (n > r->max) {
		r->error = LMC_ETOOLARGE;
		*len = n;
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
