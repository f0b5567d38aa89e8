/* libFuzzer harness for what lmd does with bytes it did not write: a
 * client's byte stream, and the entries of the raft log.
 *
 * The input is a byte stream as a client would send it.  It is cut into
 * frames twice by an lm_frame_reader sized as lmd sizes its reads
 * (LM_FRAME_BUFSIZE(LM_FRAME_MAX)), once in large reads and once in small
 * uneven ones, and both cuts must match a model of lmd's own header check
 * (lmd/connection.c process(): a payload over LM_FRAME_MAX ends the connection,
 * a shorter one is waited for).  Each frame, up to the first that lmd
 * refuses (it answers and closes the connection there), is then:
 *
 * - decoded with lm_envelope_decode() in an arena of
 *   LM_ARENA_SIZE(LM_FRAME_MAX), as lmd/daemon.c sizes it.  An accepted
 *   envelope passes its checks again, its identifiers copy out as C
 *   strings, and it packs to bytes that decode and pack to the same bytes;
 *   a refused one has a sentence, no body, and an ErrorReply that lmd can
 *   send and a client accepts;
 * - unpacked as a raft entry (lmcmd.Command) in an arena of
 *   LM_ARENA_SIZE(64 KiB) as lmd/pool.c does, and with malloc, the path the
 *   pool takes for larger entries: both agree, and a command goes through
 *   the checks the pool makes before it touches the store
 *   (lm_pool_identity_copy, lm_pool_lines_parse, the field checks of a
 *   Checkout).
 *
 *   make fuzz && ./tests/fuzz/fuzz_frame -max_total_time=60 CORPUS_DIR
 *
 * The seed corpus (tests/fuzz/corpus_frame) is written by
 * tests/fuzz/gen_corpus_frame.c: `make fuzz-corpus-frame`. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/license.h"
#include "core/vendor_data.h"
#include "lmd/pool_internal.h"
#include "proto/arena.h"
#include "proto/command.pb-c.h"
#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* lmd/pool.c's ARENA_COMMAND_MAX: entries up to this size are unpacked in
 * the pool's arena, larger ones with malloc. */
#define POOL_ARENA_COMMAND_MAX (64 * 1024)

/* Aborts with the reason, so that a crash report says which invariant
 * broke. */
#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_frame: %s:%d: expected %s\n", __FILE__, __LINE__,    \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A block and the arena over it. */
struct arena_buf {
	struct lm_arena arena;
	uint8_t *block;
};

static struct {
	bool ready;
	uint8_t *read_buf;        /* the reader's block, as lmd's read buffer */
	struct arena_buf request; /* lmd/daemon.c: LM_ARENA_SIZE(LM_FRAME_MAX) */
	struct arena_buf again;   /* for decoding what we re-packed */
	struct arena_buf reply;   /* a client reading lmd's ErrorReply */
	struct arena_buf command; /* lmd/pool.c: LM_ARENA_SIZE(64 KiB) */
	uint8_t *pack[2];         /* re-packed messages */
	size_t pack_cap[2];
} g;

static void arena_buf_init(struct arena_buf *b, size_t size)
{
	b->block = malloc(size);
	EXPECT(b->block != NULL);
	lm_arena_init(&b->arena, b->block, size);
}

static void setup(void)
{
	g.read_buf = malloc(LM_FRAME_BUFSIZE(LM_FRAME_MAX));
	EXPECT(g.read_buf != NULL);
	arena_buf_init(&g.request, LM_ARENA_SIZE(LM_FRAME_MAX));
	/* Re-packing may spell a message longer than it came (a 5-byte varint
	 * read into a negative int32 goes out as 10 bytes), so its decode
	 * gets room for a reply-sized frame rather than a request's. */
	arena_buf_init(&g.again, LM_ARENA_SIZE(LM_FRAME_REPLY_MAX));
	arena_buf_init(&g.reply, LM_ARENA_SIZE(LM_FRAME_MAX));
	arena_buf_init(&g.command, LM_ARENA_SIZE(POOL_ARENA_COMMAND_MAX));
	g.ready = true;
}

/* Scratch buffer i, at least n bytes. */
static uint8_t *scratch(int i, size_t n)
{
	if (g.pack_cap[i] < n) {
		free(g.pack[i]);
		g.pack[i] = malloc(n);
		EXPECT(g.pack[i] != NULL);
		g.pack_cap[i] = n;
	}
	return g.pack[i];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* protobuf-c 1.4 refuses field number 0 only when its tag is one byte: it
 * reads "81 00" as an unknown field 0, keeps it, and writes it back as the
 * byte "01", which it then refuses.  A message holding one does not survive
 * a round trip through no fault of ours, so the round trips skip it.  Walks
 * every sub-message through the descriptors. */
static bool has_field_zero(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v =
			        *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < n; k++)
				if (has_field_zero(v[k]))
					return true;
			continue;
		}
		/* The arms of a oneof share one pointer: only the chosen one
		 * may be followed. */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
		if (sub && has_field_zero(sub))
			return true;
	}
	return false;
}

/* ---- Envelopes ---- */

/* A bytes field of an accepted envelope copies out as a C string of the
 * same length (frame.h's promise to whoever reads it). */
static void expect_id(protobuf_c_boolean has, const ProtobufCBinaryData *b, size_t max)
{
	char out[LM_WIRE_TEXT_MAX + 1];
	if (!has)
		return;
	EXPECT(max < sizeof out);
	EXPECT(lm_bytes_to_cstr(b, out, max + 1) == 0);
	EXPECT(strlen(out) == b->len);
}

static void expect_ids(const Lm__Envelope *e)
{
	switch (e->body_case) {
	case LM__ENVELOPE__BODY_HELLO: {
		const Lm__Hello *m = e->hello;
		expect_id(m->has_user, &m->user, LM_WIRE_USER_MAX);
		expect_id(m->has_host, &m->host, LM_WIRE_HOST_MAX);
		expect_id(m->has_display, &m->display, LM_WIRE_DISPLAY_MAX);
		expect_id(m->has_lock_code, &m->lock_code, LM_WIRE_LOCKCODE_MAX);
		expect_id(m->has_app_version, &m->app_version, LM_WIRE_VERSION_MAX);
		break;
	}
	case LM__ENVELOPE__BODY_CHECKOUT:
		expect_id(e->checkout->has_feature, &e->checkout->feature, LM_WIRE_FEATURE_MAX);
		expect_id(e->checkout->has_version, &e->checkout->version, LM_WIRE_VERSION_MAX);
		expect_id(e->checkout->has_vendor_data, &e->checkout->vendor_data,
		          LM_WIRE_VENDOR_DATA_MAX);
		/* The envelope's rule is core/vendor_data.h's. */
		EXPECT(!e->checkout->has_vendor_data ||
		       lm_vendor_data_valid((const char *)e->checkout->vendor_data.data,
		                            e->checkout->vendor_data.len));
		break;
	case LM__ENVELOPE__BODY_STATUS_REQUEST:
		expect_id(e->status_request->has_feature, &e->status_request->feature,
		          LM_WIRE_FEATURE_MAX);
		break;
	case LM__ENVELOPE__BODY_REMOVE_REQUEST: {
		const Lm__RemoveRequest *m = e->remove_request;
		expect_id(m->has_feature, &m->feature, LM_WIRE_FEATURE_MAX);
		expect_id(m->has_user, &m->user, LM_WIRE_USER_MAX);
		expect_id(m->has_host, &m->host, LM_WIRE_HOST_MAX);
		expect_id(m->has_display, &m->display, LM_WIRE_DISPLAY_MAX);
		break;
	}
	default: break;
	}
}

/* Packs e into scratch buffer i and returns its length. */
static size_t pack_envelope(const Lm__Envelope *e, int i)
{
	size_t n = lm__envelope__get_packed_size(e);
	uint8_t *buf = scratch(i, n ? n : 1);
	EXPECT(lm__envelope__pack(e, buf) == n);
	return n;
}

/* What lmd sends back for a refused frame (lmd/connection_write.c
 * lm_connection_send_error) must be a frame a client accepts, carrying the
 * same code. */
static void expect_error_reply(uint64_t request_id, int code, const char *err)
{
	uint8_t buf[LM_FRAME_BUFSIZE(LM_WIRE_TEXT_MAX + 64)];
	size_t len;
	Lm__Envelope *e;
	char why[300];

	EXPECT(lm_frame_pack_error(request_id, code, err, buf, sizeof buf, &len) == 0);
	EXPECT(len >= LM_FRAME_HEADER && be32(buf) == len - LM_FRAME_HEADER);
	lm_arena_reset(&g.reply.arena);
	int rc = lm_envelope_decode(buf + LM_FRAME_HEADER, len - LM_FRAME_HEADER, &g.reply.arena,
	                            &e, why, sizeof why);
	if (rc != 0)
		fprintf(stderr, "fuzz_frame: lmd's ErrorReply is refused: %s\n", why);
	EXPECT(rc == 0);
	EXPECT(e->body_case == LM__ENVELOPE__BODY_ERROR_REPLY);
	EXPECT(e->error_reply->code == code && e->request_id == request_id);
}

/* Returns true when lmd would go on reading the connection. */
static bool envelope_one(const uint8_t *payload, size_t len)
{
	Lm__Envelope *e, *again;
	char err[300];

	lm_arena_reset(&g.request.arena);
	err[0] = '\0';
	int rc = lm_envelope_decode(payload, len, &g.request.arena, &e, err, sizeof err);
	EXPECT(g.request.arena.used <= g.request.arena.size);
	if (rc != 0) {
		EXPECT(rc == LMC_EPROTO || rc == LMC_ETOOLARGE);
		EXPECT(err[0] != '\0');
		if (rc == LMC_ETOOLARGE)
			EXPECT(e == NULL && g.request.arena.exhausted);
		/* lmd answers with the request's id when it has one, and
		 * never looks at the body. */
		if (e) {
			EXPECT(e->body_case == LM__ENVELOPE__BODY__NOT_SET);
			pack_envelope(e, 0);
		}
		expect_error_reply(e ? e->request_id : 0, rc, err);
		return false;
	}
	EXPECT(e != NULL && e->body_case != LM__ENVELOPE__BODY__NOT_SET);
	EXPECT(lm_envelope_check(e, NULL, 0) == 0);
	expect_ids(e);
	(void)lm_body_name(e->body_case);
	(void)lm_frame_limit(e);

	/* Packing what was accepted and decoding it again gives the same
	 * message: same bytes when packed once more.  (The input itself may
	 * differ: repeated keys, non-minimal varints, a cut string.) */
	size_t n = pack_envelope(e, 0);
	if (has_field_zero(&e->base))
		return !lm_body_is_reply(e->body_case);
	lm_arena_reset(&g.again.arena);
	rc = lm_envelope_decode(g.pack[0], n, &g.again.arena, &again, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "fuzz_frame: re-packed envelope refused: %s\n", err);
	EXPECT(rc == 0);
	EXPECT(again->body_case == e->body_case && again->request_id == e->request_id);
	EXPECT(pack_envelope(again, 1) == n);
	EXPECT(n == 0 || memcmp(g.pack[0], g.pack[1], n) == 0);
	/* A client sending a reply is refused too. */
	return !lm_body_is_reply(e->body_case);
}

/* ---- Raft entries ---- */

static size_t pack_command(const Lmcmd__Command *c, int i)
{
	size_t n = lmcmd__command__get_packed_size(c);
	uint8_t *buf = scratch(i, n ? n : 1);
	EXPECT(lmcmd__command__pack(c, buf) == n);
	return n;
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* lm_version_valid() and the pool's version key agree on what a version
 * is, and memcmp of keys orders versions as lm_version_compare() does. */
static void expect_version_key(const char *v, uint8_t key[LM_POOL_VKEY_LEN])
{
	EXPECT(!lm_version_valid(v) == (lm_pool_version_key(v, key) != 0));
}

static void check_set_license(const Lmcmd__SetLicense *m)
{
	struct lm_pool_result res;

	/* lm_pool_do_set_license() refuses this many lines before parsing. */
	if (m->n_lines > LM_LICENSE_LINES_MAX)
		return;
	struct lm_pool_parsed_line *pl = calloc(m->n_lines ? m->n_lines : 1, sizeof *pl);
	EXPECT(pl != NULL);
	memset(&res, 0, sizeof res);
	EXPECT(lm_pool_lines_parse(m->lines, m->n_lines, pl, &res) == 0);
	if (res.code != 0) {
		EXPECT(res.code < 0 && res.message[0] != '\0');
	} else {
		for (size_t i = 0; i < m->n_lines; i++) {
			uint8_t key[LM_POOL_VKEY_LEN];
			EXPECT(pl[i].index == i);
			expect_version_key(pl[i].lic.version, key);
			EXPECT(memcmp(key, pl[i].vkey, sizeof key) == 0);
			if (i > 0) {
				const struct lm_pool_parsed_line *a = &pl[i - 1], *b = &pl[i];
				EXPECT(sign(memcmp(a->vkey, b->vkey, LM_POOL_VKEY_LEN)) ==
				       sign(lm_version_compare(a->lic.version, b->lic.version)));
			}
		}
	}
	free(pl);
}

static void check_open_session(const Lmcmd__OpenSession *m)
{
	struct lm_pool_session_rec s;
	if (!lm_pool_identity_copy(m, &s))
		return;
	EXPECT(m->has_session_id && s.pub.id == m->session_id && s.pub.id != 0);
	EXPECT(!m->has_user || strlen(s.pub.user) == m->user.len);
	EXPECT(!m->has_host || strlen(s.pub.host) == m->host.len);
	EXPECT(!m->has_display || strlen(s.pub.display) == m->display.len);
	EXPECT(!m->has_lock_code || strlen(s.pub.lock_code) == m->lock_code.len);
	EXPECT(!m->has_app_version || strlen(s.pub.app_version) == m->app_version.len);
}

/* The checks of lmd/pool_seats.c checkout() on the command's own fields,
 * before it looks anything up in the store. */
static void check_checkout(const Lmcmd__Checkout *m)
{
	struct lm_pool_handle h;
	uint8_t key[LM_POOL_VKEY_LEN];

	if (m->has_feature &&
	    lm_bytes_opt_to_cstr(1, &m->feature, h.feature, sizeof h.feature) == 0)
		EXPECT(strlen(h.feature) == m->feature.len);
	if (lm_bytes_opt_to_cstr(m->has_version, &m->version, h.version, sizeof h.version) == 0)
		expect_version_key(h.version, key);
	if (lm_bytes_opt_to_cstr(m->has_vendor_data, &m->vendor_data, h.vendor_data,
	                         sizeof h.vendor_data) == 0)
		EXPECT(strlen(h.vendor_data) == m->vendor_data.len || !m->has_vendor_data);
}

static void check_command(const Lmcmd__Command *c)
{
	switch (c->body_case) {
	case LMCMD__COMMAND__BODY_SET_LICENSE: check_set_license(c->set_license); break;
	case LMCMD__COMMAND__BODY_OPEN_SESSION: check_open_session(c->open_session); break;
	case LMCMD__COMMAND__BODY_CHECKOUT: check_checkout(c->checkout); break;
	/* Checkin, CloseSession and RemoveHandle carry only numbers, which
	 * the pool looks up in the store. */
	default: break;
	}
}

static void command_one(const uint8_t *entry, size_t len)
{
	EXPECT(len <= POOL_ARENA_COMMAND_MAX);
	lm_arena_reset(&g.command.arena);
	Lmcmd__Command *a =
	        lmcmd__command__unpack(lm_arena_allocator(&g.command.arena), len, entry);
	Lmcmd__Command *m = lmcmd__command__unpack(NULL, len, entry);

	/* The arena only ever adds a reason to fail: running out. */
	if (m == NULL)
		EXPECT(a == NULL);
	if (a == NULL && !g.command.arena.exhausted)
		EXPECT(m == NULL);
	if (a && m) {
		size_t n = pack_command(a, 0);
		EXPECT(pack_command(m, 1) == n);
		EXPECT(n == 0 || memcmp(g.pack[0], g.pack[1], n) == 0);
		/* Packed again, it reads back the same. */
		if (!has_field_zero(&a->base)) {
			Lmcmd__Command *again = lmcmd__command__unpack(NULL, n, g.pack[0]);
			EXPECT(again != NULL);
			EXPECT(pack_command(again, 1) == n);
			EXPECT(n == 0 || memcmp(g.pack[0], g.pack[1], n) == 0);
			lmcmd__command__free_unpacked(again, NULL);
		}
	}
	/* lm_pool_apply refuses a command without a body as "not a command";
	 * everything else reaches its handler. */
	if (a && a->body_case != LMCMD__COMMAND__BODY__NOT_SET)
		check_command(a);
	if (m)
		lmcmd__command__free_unpacked(m, NULL);
	lm_arena_reset(&g.command.arena);
}

/* ---- The stream ---- */

/* Read sizes for the second cut: small and uneven, so that headers and
 * payloads arrive split at every kind of place. */
static const size_t small_reads[] = {1, 3, 2, 7, 4, 1, 64, 5, 13, 1000, 2, 1};

/* Cuts data into frames with an lm_frame_reader fed reads of at most
 * `reads` bytes (cycling; NULL for as much as fits), checking each frame
 * against the model of lmd's header check.  When `handle` is set, frames
 * are handled up to the first that lmd refuses (lmd/connection.c
 * handle_frame() answers it and closes the connection), which also keeps a
 * stream of thousands of tiny garbage frames cheap.  Returns the number of
 * frames. */
static size_t cut(const uint8_t *data, size_t size, const size_t *reads, size_t nreads, bool handle)
{
	struct lm_frame_reader r;
	size_t fed = 0, pos = 0, nframes = 0, k = 0;
	int rc = 0;

	EXPECT(lm_frame_reader_init(&r, g.read_buf, LM_FRAME_BUFSIZE(LM_FRAME_MAX)) == 0);
	while (fed < size && rc >= 0) {
		uint8_t *base;
		size_t room;
		lm_frame_reader_space(&r, &base, &room);
		/* frame.h: once drained, at least one byte is always free. */
		EXPECT(room >= 1);
		size_t n = size - fed < room ? size - fed : room;
		if (reads && n > reads[k % nreads])
			n = reads[k % nreads];
		k++;
		memcpy(base, data + fed, n);
		lm_frame_reader_commit(&r, n);
		fed += n;

		const uint8_t *payload;
		size_t len;
		while ((rc = lm_frame_reader_next(&r, &payload, &len)) == 1) {
			/* The model: the next frame starts at pos, has the
			 * announced length, which is within LM_FRAME_MAX, and
			 * has fully arrived. */
			EXPECT(size - pos >= LM_FRAME_HEADER);
			uint32_t want = be32(data + pos);
			EXPECT(want <= LM_FRAME_MAX && len == want);
			EXPECT(pos + LM_FRAME_HEADER + len <= fed);
			EXPECT(len == 0 || memcmp(payload, data + pos + LM_FRAME_HEADER, len) == 0);
			pos += LM_FRAME_HEADER + len;
			nframes++;
			if (handle) {
				handle = envelope_one(payload, len);
				command_one(payload, len);
			}
		}
	}
	size_t left = size - pos;
	if (rc < 0) {
		/* Refused as soon as the header arrived: lmd closes. */
		EXPECT(rc == LMC_ETOOLARGE);
		EXPECT(left >= LM_FRAME_HEADER && be32(data + pos) > LM_FRAME_MAX);
		EXPECT(lm_frame_reader_next(&r, &(const uint8_t *){NULL}, &(size_t){0}) == rc);
		if (handle) {
			char msg[128];
			snprintf(msg, sizeof msg, "frame of %u bytes exceeds the limit of %u",
			         (unsigned)be32(data + pos), (unsigned)LM_FRAME_MAX);
			expect_error_reply(0, rc, msg);
		}
	} else {
		/* What is left is one incomplete frame that lmd waits for. */
		EXPECT(lm_frame_reader_pending(&r) == left);
		EXPECT(left < LM_FRAME_HEADER || (be32(data + pos) <= LM_FRAME_MAX &&
		                                  left - LM_FRAME_HEADER < be32(data + pos)));
	}
	lm_frame_reader_close(&r);
	return nframes;
}

/* lmd's own cut (lmd/connection.c): each read lands in one shared buffer
 * and is fed to the connection's growing reader, whose memory comes from a
 * budget.  Fed in the small reads, it must cut the frames the model cuts,
 * refuse the same header, hold exactly what is left, and give every byte
 * back at the end. */
static size_t growing_used;

static int growing_resize(void *arg, uint8_t **block, size_t old_size, size_t new_size)
{
	(void)arg;
	if (new_size == 0) {
		free(*block);
		*block = NULL;
		growing_used -= old_size;
		return 0;
	}
	uint8_t *p = realloc(*block, new_size);
	if (!p)
		return LMC_ENOMEM;
	*block = p;
	growing_used = growing_used - old_size + new_size;
	return 0;
}

static size_t cut_growing(const uint8_t *data, size_t size)
{
	struct lm_frame_reader r;
	size_t fed = 0, pos = 0, nframes = 0, k = 0;
	int rc = 0;

	EXPECT(lm_frame_reader_init_growing(&r, LM_FRAME_MAX, growing_resize, NULL) == 0);
	while (fed < size && rc >= 0) {
		size_t n = small_reads[k++ % (sizeof small_reads / sizeof small_reads[0])];
		if (n > size - fed)
			n = size - fed;
		EXPECT(lm_frame_reader_feed(&r, data + fed, n) == 0);
		fed += n;
		const uint8_t *payload;
		size_t len;
		while ((rc = lm_frame_reader_next(&r, &payload, &len)) == 1) {
			EXPECT(len == be32(data + pos));
			EXPECT(len == 0 || memcmp(payload, data + pos + LM_FRAME_HEADER, len) == 0);
			pos += LM_FRAME_HEADER + len;
			nframes++;
		}
		if (rc < 0)
			EXPECT(rc == LMC_ETOOLARGE && len == be32(data + pos) &&
			       len > LM_FRAME_MAX);
		else
			EXPECT(lm_frame_reader_pending(&r) == fed - pos);
	}
	lm_frame_reader_close(&r);
	EXPECT(growing_used == 0);
	return nframes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g.ready)
		setup();
	size_t n = cut(data, size, NULL, 0, true);
	EXPECT(cut(data, size, small_reads, sizeof small_reads / sizeof small_reads[0], false) ==
	       n);
	EXPECT(cut_growing(data, size) == n);
	return 0;
}
