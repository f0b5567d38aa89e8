/* The wire protocol: frames on a stream, bounded decoding, and the checks
 * every received message passes before lmd or liblmc reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "proto/arena.h"
#include "proto/frame.h"

/* A small deterministic generator, so that a failure can be replayed. */
static uint32_t rng_state = 20240601;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state % n;
}

/* One arena for the requests of a test, as a server keeps one per
 * connection. */
static uint8_t arena_block[LM_ARENA_SIZE(LM_FRAME_MAX)];
static struct lm_arena arena;

static int setup(void **state)
{
	lm_arena_init(&arena, arena_block, sizeof(arena_block));
	return 0;
}

/* ---- Sample messages of every kind ---- */

static uint8_t secret[LM_SESSION_SECRET_LEN];
static uint8_t signature[LM_WIRE_SIG_LEN];
static const char license_text[] =
        "FEATURE statistics acme 29.0 2027-12-31 10 ISSUED=\"2026-01-05\" "
        "SERVER_CODES=\"0000-1111-2222\"";

/* The storage a sample envelope points into. */
struct sample {
	Lm__Envelope env;
	Lm__Hello hello;
	Lm__HelloReply hello_reply;
	Lm__SessionOpen session_open;
	Lm__SessionReply session_reply;
	Lm__Checkout checkout;
	Lm__CheckoutReply checkout_reply;
	Lm__SignedLicense license;
	Lm__Checkin checkin;
	Lm__CheckinReply checkin_reply;
	Lm__Heartbeat heartbeat;
	Lm__HeartbeatReply heartbeat_reply;
	uint64_t handles[3];
	Lm__StatusRequest status_request;
	Lm__StatusReply status_reply;
	Lm__ServerStatus server;
	Lm__ServerStatus *servers[1];
	Lm__FeatureStatus feature;
	Lm__FeatureStatus *features[1];
	Lm__Holder holder[2];
	Lm__Holder *holders[2];
	Lm__RemoveRequest remove_request;
	Lm__ShutdownRequest shutdown_request;
	Lm__RereadRequest reread_request;
	Lm__AdminReply admin_reply;
	Lm__ErrorReply error_reply;
};

static const Lm__Envelope__BodyCase all_kinds[] = {
        LM__ENVELOPE__BODY_HELLO,          LM__ENVELOPE__BODY_HELLO_REPLY,
        LM__ENVELOPE__BODY_SESSION_OPEN,   LM__ENVELOPE__BODY_SESSION_REPLY,
        LM__ENVELOPE__BODY_CHECKOUT,       LM__ENVELOPE__BODY_CHECKOUT_REPLY,
        LM__ENVELOPE__BODY_CHECKIN,        LM__ENVELOPE__BODY_CHECKIN_REPLY,
        LM__ENVELOPE__BODY_HEARTBEAT,      LM__ENVELOPE__BODY_HEARTBEAT_REPLY,
        LM__ENVELOPE__BODY_STATUS_REQUEST, LM__ENVELOPE__BODY_STATUS_REPLY,
        LM__ENVELOPE__BODY_REMOVE_REQUEST, LM__ENVELOPE__BODY_SHUTDOWN_REQUEST,
        LM__ENVELOPE__BODY_REREAD_REQUEST, LM__ENVELOPE__BODY_ADMIN_REPLY,
        LM__ENVELOPE__BODY_ERROR_REPLY,
};
#define NKINDS (sizeof(all_kinds) / sizeof(all_kinds[0]))

#define SET_BYTES(m, field, text)                                                                  \
	do {                                                                                       \
		(m).has_##field = 1;                                                               \
		(m).field = lm_bytes_from_cstr(text);                                              \
	} while (0)

static void sample_holder(Lm__Holder *h, const char *user, uint64_t handle)
{
	lm__holder__init(h);
	SET_BYTES(*h, user, user);
	SET_BYTES(*h, host, "ws-17.example.com");
	SET_BYTES(*h, display, "/dev/pts/3");
	SET_BYTES(*h, version, "29.0");
	h->has_count = 1;
	h->count = 2;
	h->has_since = 1;
	h->since = 1767225600;
	h->has_handle = 1;
	h->handle = handle;
}

/* A valid envelope of the given kind, with request id 1000 + kind. */
static Lm__Envelope *sample(struct sample *s, Lm__Envelope__BodyCase kind)
{
	Lm__Envelope *e = &s->env;
	lm_envelope_init(e, 1000 + kind);
	e->body_case = kind;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(0xa0 + i);
	for (size_t i = 0; i < sizeof(signature); i++)
		signature[i] = (uint8_t)(i * 7);

	switch (kind) {
	case LM__ENVELOPE__BODY_HELLO:
		lm__hello__init(&s->hello);
		SET_BYTES(s->hello, user, "alice");
		SET_BYTES(s->hello, host, "ws-17.example.com");
		SET_BYTES(s->hello, display, ":0");
		s->hello.has_pid = 1;
		s->hello.pid = 4242;
		SET_BYTES(s->hello, lock_code, "7K2M-9QXA-44TR-0B1C");
		SET_BYTES(s->hello, app_version, "29.0.1");
		e->hello = &s->hello;
		break;
	case LM__ENVELOPE__BODY_HELLO_REPLY:
		lm__hello_reply__init(&s->hello_reply);
		s->hello_reply.server_version = "lmd 0.1.0";
		s->hello_reply.has_frame_max = 1;
		s->hello_reply.frame_max = LM_FRAME_MAX;
		e->hello_reply = &s->hello_reply;
		break;
	case LM__ENVELOPE__BODY_SESSION_OPEN:
		lm__session_open__init(&s->session_open);
		s->session_open.has_session_id = 1;
		s->session_open.session_id = 77;
		s->session_open.has_secret = 1;
		s->session_open.secret = (ProtobufCBinaryData){sizeof(secret), secret};
		e->session_open = &s->session_open;
		break;
	case LM__ENVELOPE__BODY_SESSION_REPLY:
		lm__session_reply__init(&s->session_reply);
		s->session_reply.has_session_id = 1;
		s->session_reply.session_id = 77;
		s->session_reply.has_secret = 1;
		s->session_reply.secret = (ProtobufCBinaryData){sizeof(secret), secret};
		s->session_reply.has_resumed = 1;
		s->session_reply.resumed = 1;
		s->session_reply.has_heartbeat_ms = 1;
		s->session_reply.heartbeat_ms = 30000;
		s->session_reply.has_timeout_ms = 1;
		s->session_reply.timeout_ms = 120000;
		e->session_reply = &s->session_reply;
		break;
	case LM__ENVELOPE__BODY_CHECKOUT:
		lm__checkout__init(&s->checkout);
		SET_BYTES(s->checkout, feature, "statistics");
		SET_BYTES(s->checkout, version, "29.0");
		s->checkout.has_count = 1;
		s->checkout.count = 2;
		s->checkout.has_wait_ms = 1;
		s->checkout.wait_ms = 5000;
		e->checkout = &s->checkout;
		break;
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY:
		lm__checkout_reply__init(&s->checkout_reply);
		lm__signed_license__init(&s->license);
		SET_BYTES(s->license, text, license_text);
		s->license.has_signature = 1;
		s->license.signature = (ProtobufCBinaryData){sizeof(signature), signature};
		s->checkout_reply.has_handle = 1;
		s->checkout_reply.handle = 0x1122334455667788u;
		s->checkout_reply.has_count = 1;
		s->checkout_reply.count = 2;
		s->checkout_reply.license = &s->license;
		e->checkout_reply = &s->checkout_reply;
		break;
	case LM__ENVELOPE__BODY_CHECKIN:
		lm__checkin__init(&s->checkin);
		s->checkin.has_handle = 1;
		s->checkin.handle = 0x1122334455667788u;
		e->checkin = &s->checkin;
		break;
	case LM__ENVELOPE__BODY_CHECKIN_REPLY:
		lm__checkin_reply__init(&s->checkin_reply);
		s->checkin_reply.has_handle = 1;
		s->checkin_reply.handle = 0x1122334455667788u;
		e->checkin_reply = &s->checkin_reply;
		break;
	case LM__ENVELOPE__BODY_HEARTBEAT:
		lm__heartbeat__init(&s->heartbeat);
		e->heartbeat = &s->heartbeat;
		break;
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY:
		lm__heartbeat_reply__init(&s->heartbeat_reply);
		s->handles[0] = 1;
		s->handles[1] = 300;
		s->handles[2] = UINT64_MAX;
		s->heartbeat_reply.n_handles = 3;
		s->heartbeat_reply.handles = s->handles;
		e->heartbeat_reply = &s->heartbeat_reply;
		break;
	case LM__ENVELOPE__BODY_STATUS_REQUEST:
		lm__status_request__init(&s->status_request);
		SET_BYTES(s->status_request, feature, "statistics");
		s->status_request.has_holders = 1;
		s->status_request.holders = 1;
		e->status_request = &s->status_request;
		break;
	case LM__ENVELOPE__BODY_STATUS_REPLY:
		lm__status_reply__init(&s->status_reply);
		lm__server_status__init(&s->server);
		s->server.address = "27000@lic1.example.com";
		s->server.has_role = 1;
		s->server.role = LM__SERVER_ROLE__SERVER_ROLE_LEADER;
		s->server.has_uptime_s = 1;
		s->server.uptime_s = 86400;
		s->server.version = "lmd 0.1.0";
		s->server.has_term = 1;
		s->server.term = 3;
		s->server.has_applied_index = 1;
		s->server.applied_index = 1234;
		s->servers[0] = &s->server;
		lm__feature_status__init(&s->feature);
		SET_BYTES(s->feature, name, "statistics");
		SET_BYTES(s->feature, version, "29.0");
		s->feature.has_issued = 1;
		s->feature.issued = 10;
		s->feature.has_in_use = 1;
		s->feature.in_use = 4;
		s->feature.has_expiry = 1;
		s->feature.expiry = 20818;
		sample_holder(&s->holder[0], "alice", 1);
		sample_holder(&s->holder[1], "Bob Smith", 2);
		s->holders[0] = &s->holder[0];
		s->holders[1] = &s->holder[1];
		s->feature.n_holders = 2;
		s->feature.holders = s->holders;
		s->features[0] = &s->feature;
		s->status_reply.n_servers = 1;
		s->status_reply.servers = s->servers;
		s->status_reply.n_features = 1;
		s->status_reply.features = s->features;
		e->status_reply = &s->status_reply;
		break;
	case LM__ENVELOPE__BODY_REMOVE_REQUEST:
		lm__remove_request__init(&s->remove_request);
		SET_BYTES(s->remove_request, feature, "statistics");
		SET_BYTES(s->remove_request, user, "alice");
		SET_BYTES(s->remove_request, host, "ws-17.example.com");
		SET_BYTES(s->remove_request, display, ":0");
		e->remove_request = &s->remove_request;
		break;
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST:
		lm__shutdown_request__init(&s->shutdown_request);
		s->shutdown_request.has_all = 1;
		s->shutdown_request.all = 1;
		e->shutdown_request = &s->shutdown_request;
		break;
	case LM__ENVELOPE__BODY_REREAD_REQUEST:
		lm__reread_request__init(&s->reread_request);
		e->reread_request = &s->reread_request;
		break;
	case LM__ENVELOPE__BODY_ADMIN_REPLY:
		lm__admin_reply__init(&s->admin_reply);
		s->admin_reply.has_affected = 1;
		s->admin_reply.affected = 12;
		s->admin_reply.message = "reread: 12 license lines";
		e->admin_reply = &s->admin_reply;
		break;
	case LM__ENVELOPE__BODY_ERROR_REPLY:
		lm_envelope_error(e, &s->error_reply, 1000 + kind, LMC_ENOTLEADER,
		                  "this server is not the leader");
		s->error_reply.leader = "27000@lic2.example.com";
		break;
	default: fail_msg("no sample for kind %d", (int)kind);
	}
	return e;
}

/* ---- Helpers ---- */

static size_t pack(const Lm__Envelope *e, uint8_t *buf, size_t size)
{
	size_t len = 0;
	assert_int_equal(lm_frame_pack(e, buf, size, &len), 0);
	return len;
}

/* Decodes payload, expecting success. */
static Lm__Envelope *decode_ok(const uint8_t *payload, size_t len)
{
	char err[256] = "";
	Lm__Envelope *env = NULL;
	int rc = lm_envelope_decode(payload, len, &arena, &env, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode failed (%d): %s", rc, err);
	assert_non_null(env);
	return env;
}

/* Packs e alone (no frame header) and decodes it, expecting code; the
 * sentence written is returned in a static buffer. */
static const char *decode_expect(const Lm__Envelope *e, int code)
{
	static char err[256];
	uint8_t buf[LM_FRAME_BUFSIZE(LM_FRAME_MAX)];
	size_t len = pack(e, buf, sizeof(buf));
	Lm__Envelope *env = NULL;
	err[0] = '\0';
	lm_arena_reset(&arena);
	assert_int_equal(lm_envelope_decode(buf + LM_FRAME_HEADER, len - LM_FRAME_HEADER, &arena,
	                                    &env, err, sizeof(err)),
	                 code);
	if (code == 0)
		return err;
	assert_true(err[0] != '\0');
	if (env) {
		/* A refused envelope keeps its request id, never its body. */
		assert_int_equal(env->body_case, LM__ENVELOPE__BODY__NOT_SET);
		assert_int_equal(env->request_id, e->request_id);
	}
	return err;
}

/* A decoded envelope re-packs to the exact bytes it was read from: every
 * field survived the trip (protobuf-c writes fields in number order). */
static void assert_same_payload(const Lm__Envelope *env, const uint8_t *payload, size_t len)
{
	uint8_t buf[LM_FRAME_BUFSIZE(LM_FRAME_MAX)];
	size_t n = pack(env, buf, sizeof(buf));
	assert_int_equal(n - LM_FRAME_HEADER, len);
	assert_memory_equal(buf + LM_FRAME_HEADER, payload, len);
}

/* Spot checks of the fields the server and the client act on. */
static void assert_sample_fields(const Lm__Envelope *env)
{
	char text[LM_WIRE_LICENSE_MAX + 1];

	assert_true(env->has_protocol_version);
	assert_int_equal(env->protocol_version, LM_PROTOCOL_VERSION);
	assert_int_equal(env->request_id, 1000 + env->body_case);
	switch (env->body_case) {
	case LM__ENVELOPE__BODY_HELLO:
		assert_true(lm_bytes_equal(&env->hello->user, "alice"));
		assert_true(lm_bytes_equal(&env->hello->host, "ws-17.example.com"));
		assert_true(lm_bytes_equal(&env->hello->display, ":0"));
		assert_int_equal(env->hello->pid, 4242);
		break;
	case LM__ENVELOPE__BODY_CHECKOUT:
		assert_int_equal(lm_bytes_to_cstr(&env->checkout->feature, text, sizeof(text)), 0);
		assert_string_equal(text, "statistics");
		assert_int_equal(env->checkout->count, 2);
		break;
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY:
		assert_int_equal(env->checkout_reply->handle, 0x1122334455667788u);
		assert_int_equal(
		        lm_bytes_to_cstr(&env->checkout_reply->license->text, text, sizeof(text)),
		        0);
		assert_string_equal(text, license_text);
		assert_memory_equal(env->checkout_reply->license->signature.data, signature,
		                    sizeof(signature));
		break;
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY:
		assert_int_equal(env->heartbeat_reply->n_handles, 3);
		assert_int_equal(env->heartbeat_reply->handles[2], UINT64_MAX);
		break;
	case LM__ENVELOPE__BODY_STATUS_REPLY:
		assert_int_equal(env->status_reply->servers[0]->role,
		                 LM__SERVER_ROLE__SERVER_ROLE_LEADER);
		assert_int_equal(env->status_reply->features[0]->n_holders, 2);
		assert_true(lm_bytes_equal(&env->status_reply->features[0]->holders[1]->user,
		                           "Bob Smith"));
		break;
	case LM__ENVELOPE__BODY_ERROR_REPLY:
		assert_int_equal(env->error_reply->code, LMC_ENOTLEADER);
		assert_string_equal(env->error_reply->leader, "27000@lic2.example.com");
		break;
	default: break;
	}
}

/* Every sample kind, packed one after the other into buf. */
static size_t pack_all(uint8_t *buf, size_t size, size_t *ends)
{
	size_t off = 0;
	for (size_t i = 0; i < NKINDS; i++) {
		struct sample s;
		off += pack(sample(&s, all_kinds[i]), buf + off, size - off);
		ends[i] = off;
	}
	return off;
}

/* Feeds stream to a fresh reader in chunks of the sizes chunk() gives and
 * checks that the frames come out as the samples, in order. */
static void feed_and_check(const uint8_t *stream, size_t total, size_t (*chunk)(size_t at))
{
	struct lm_frame_reader r;
	size_t nframes = 0;
	assert_int_equal(lm_frame_reader_init(&r, NULL, LM_FRAME_BUFSIZE(LM_FRAME_MAX)), 0);
	for (size_t at = 0; at < total;) {
		uint8_t *space;
		size_t room;
		lm_frame_reader_space(&r, &space, &room);
		assert_true(room > 0);
		size_t n = chunk(at);
		if (n > room)
			n = room;
		if (n > total - at)
			n = total - at;
		memcpy(space, stream + at, n);
		lm_frame_reader_commit(&r, n);
		at += n;

		const uint8_t *payload;
		size_t len;
		int rc;
		while ((rc = lm_frame_reader_next(&r, &payload, &len)) == 1) {
			assert_true(nframes < NKINDS);
			lm_arena_reset(&arena);
			Lm__Envelope *env = decode_ok(payload, len);
			assert_int_equal(env->body_case, all_kinds[nframes]);
			assert_sample_fields(env);
			assert_same_payload(env, payload, len);
			nframes++;
		}
		assert_int_equal(rc, 0);
	}
	assert_int_equal(nframes, NKINDS);
	assert_int_equal(lm_frame_reader_pending(&r), 0);
	lm_frame_reader_close(&r);
}

static size_t one_byte(size_t at)
{
	return 1;
}

static size_t everything(size_t at)
{
	return SIZE_MAX;
}

static size_t odd_sizes(size_t at)
{
	return 1 + (at * 7919) % 37;
}

/* ---- Round trips ---- */

static void test_each_kind_round_trips(void **state)
{
	for (size_t i = 0; i < NKINDS; i++) {
		struct sample s;
		Lm__Envelope *e = sample(&s, all_kinds[i]);
		char err[256] = "";
		if (lm_envelope_check(e, err, sizeof(err)) != 0)
			fail_msg("sample %s: %s", lm_body_name(all_kinds[i]), err);

		uint8_t buf[LM_FRAME_BUFSIZE(LM_FRAME_MAX)];
		size_t len = pack(e, buf, sizeof(buf));
		uint32_t n = (uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3];
		assert_int_equal(n, len - LM_FRAME_HEADER);

		lm_arena_reset(&arena);
		Lm__Envelope *env = decode_ok(buf + LM_FRAME_HEADER, n);
		assert_int_equal(env->body_case, all_kinds[i]);
		assert_sample_fields(env);
		assert_same_payload(env, buf + LM_FRAME_HEADER, n);
		assert_int_equal(lm_body_is_reply(all_kinds[i]),
		                 strstr(lm_body_name(all_kinds[i]), "reply") != NULL);
	}
}

static void test_reader_byte_by_byte(void **state)
{
	uint8_t stream[8192];
	size_t ends[NKINDS];
	size_t total = pack_all(stream, sizeof(stream), ends);
	feed_and_check(stream, total, one_byte);
}

static void test_reader_many_frames_in_one_read(void **state)
{
	uint8_t stream[8192];
	size_t ends[NKINDS];
	size_t total = pack_all(stream, sizeof(stream), ends);
	feed_and_check(stream, total, everything);
	feed_and_check(stream, total, odd_sizes);
}

/* A frame cut in two at every possible place, the header included. */
static void test_reader_frame_split_across_reads(void **state)
{
	struct sample s;
	uint8_t frame[1024];
	size_t total = pack(sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY), frame, sizeof(frame));

	for (size_t cut = 1; cut < total; cut++) {
		struct lm_frame_reader r;
		uint8_t buf[LM_FRAME_BUFSIZE(LM_FRAME_MAX)];
		const uint8_t *payload;
		size_t len;
		uint8_t *space;
		size_t room;

		assert_int_equal(lm_frame_reader_init(&r, buf, sizeof(buf)), 0);
		lm_frame_reader_space(&r, &space, &room);
		memcpy(space, frame, cut);
		lm_frame_reader_commit(&r, cut);
		assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 0);
		assert_int_equal(lm_frame_reader_pending(&r), cut);

		lm_frame_reader_space(&r, &space, &room);
		memcpy(space, frame + cut, total - cut);
		lm_frame_reader_commit(&r, total - cut);
		assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 1);
		assert_int_equal(len, total - LM_FRAME_HEADER);
		lm_arena_reset(&arena);
		assert_int_equal(decode_ok(payload, len)->body_case,
		                 LM__ENVELOPE__BODY_STATUS_REPLY);
		assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 0);
		lm_frame_reader_close(&r);
	}
}

/* The reader makes room for a partial frame behind complete ones by moving
 * it to the front of its buffer: a buffer of one maximum frame reads an
 * endless stream of frames that never line up with its end. */
static void test_reader_compacts(void **state)
{
	enum { MAX = 100, PAYLOAD = 90, FRAME = LM_FRAME_HEADER + PAYLOAD };
	uint8_t buf[LM_FRAME_BUFSIZE(MAX)];
	struct lm_frame_reader r;
	size_t sent = 0, got = 0;

	assert_int_equal(lm_frame_reader_init(&r, buf, sizeof(buf)), 0);
	assert_int_equal(r.max, MAX);
	while (got < 50) {
		uint8_t *space;
		size_t room;
		lm_frame_reader_space(&r, &space, &room);
		assert_true(room > 0);
		/* Frame k: a header announcing PAYLOAD, then PAYLOAD bytes of
		 * value k; reads of 37 bytes. */
		size_t n = room < 37 ? room : 37;
		for (size_t i = 0; i < n; i++, sent++) {
			size_t at = sent % FRAME;
			space[i] = at == 3 ? PAYLOAD : at < 3 ? 0 : (uint8_t)(sent / FRAME);
		}
		lm_frame_reader_commit(&r, n);
		const uint8_t *payload;
		size_t len;
		while (lm_frame_reader_next(&r, &payload, &len) == 1) {
			assert_int_equal(len, PAYLOAD);
			for (size_t i = 0; i < len; i++)
				assert_int_equal(payload[i], (uint8_t)got);
			got++;
		}
	}
	lm_frame_reader_close(&r);
}

/* ---- Limits of the framing ---- */

/* Four bytes announcing too much are enough to refuse the frame, and the
 * refusal sticks: the stream cannot be resynchronised. */
static void test_oversized_length_refused_from_header(void **state)
{
	static const uint32_t lengths[] = {LM_FRAME_MAX + 1, 0x7fffffff, 0xffffffff};
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		struct lm_frame_reader r;
		const uint8_t *payload;
		size_t len;
		uint8_t *space;
		size_t room;

		assert_int_equal(lm_frame_reader_init(&r, NULL, LM_FRAME_BUFSIZE(LM_FRAME_MAX)), 0);
		lm_frame_reader_space(&r, &space, &room);
		space[0] = (uint8_t)(lengths[i] >> 24);
		space[1] = (uint8_t)(lengths[i] >> 16);
		space[2] = (uint8_t)(lengths[i] >> 8);
		lm_frame_reader_commit(&r, 3);
		assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 0);
		lm_frame_reader_space(&r, &space, &room);
		space[0] = (uint8_t)lengths[i];
		lm_frame_reader_commit(&r, 1);
		assert_int_equal(lm_frame_reader_next(&r, &payload, &len), LMC_ETOOLARGE);
		assert_int_equal(lm_frame_reader_next(&r, &payload, &len), LMC_ETOOLARGE);
		lm_frame_reader_close(&r);
	}

	/* Exactly the maximum is fine. */
	struct lm_frame_reader r;
	const uint8_t *payload;
	size_t len;
	uint8_t *space;
	size_t room;
	assert_int_equal(lm_frame_reader_init(&r, NULL, LM_FRAME_BUFSIZE(LM_FRAME_MAX)), 0);
	lm_frame_reader_space(&r, &space, &room);
	assert_int_equal(room, LM_FRAME_BUFSIZE(LM_FRAME_MAX));
	memset(space, 0, room);
	space[1] = 1; /* 0x00010000 = 64 KiB */
	lm_frame_reader_commit(&r, room);
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 1);
	assert_int_equal(len, LM_FRAME_MAX);
	lm_frame_reader_close(&r);
}

static void test_truncated_payload_waits(void **state)
{
	struct sample s;
	uint8_t frame[256];
	size_t total = pack(sample(&s, LM__ENVELOPE__BODY_CHECKOUT), frame, sizeof(frame));
	struct lm_frame_reader r;
	uint8_t buf[LM_FRAME_BUFSIZE(LM_FRAME_MAX)];
	const uint8_t *payload;
	size_t len;
	uint8_t *space;
	size_t room;

	assert_int_equal(lm_frame_reader_init(&r, buf, sizeof(buf)), 0);
	lm_frame_reader_space(&r, &space, &room);
	memcpy(space, frame, total - 1);
	lm_frame_reader_commit(&r, total - 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 0);
	/* A peer hanging up now leaves a partial frame behind. */
	assert_int_equal(lm_frame_reader_pending(&r), total - 1);

	lm_frame_reader_space(&r, &space, &room);
	space[0] = frame[total - 1];
	lm_frame_reader_commit(&r, 1);
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 1);
	assert_int_equal(lm_frame_reader_pending(&r), 0);
	lm_frame_reader_close(&r);
}

static void test_reader_init_limits(void **state)
{
	struct lm_frame_reader r;
	uint8_t buf[8];
	assert_int_equal(lm_frame_reader_init(&r, buf, LM_FRAME_HEADER), LMC_EINVAL);
	assert_int_equal(lm_frame_reader_init(&r, buf, LM_FRAME_HEADER + 1), 0);
	assert_int_equal(r.max, 1);
	lm_frame_reader_close(&r);
}

/* A growing reader's memory, as lmd gives it: every block counted against
 * one budget, which a test can make small. */
struct budget {
	size_t used, max;
	unsigned resizes;
};

static int budget_resize(void *arg, uint8_t **block, size_t old_size, size_t new_size)
{
	struct budget *b = arg;
	b->resizes++;
	if (new_size == 0) {
		free(*block);
		*block = NULL;
		b->used -= old_size;
		return 0;
	}
	if (b->used - old_size + new_size > b->max)
		return LMC_ELIMIT;
	uint8_t *p = realloc(*block, new_size);
	if (!p)
		return LMC_ENOMEM;
	*block = p;
	b->used = b->used - old_size + new_size;
	return 0;
}

/* A stream fed in uneven reads comes out as the same frames, and the
 * reader holds only what is pending: nothing once the stream is drained. */
static void test_growing_reader_frames(void **state)
{
	struct sample s;
	uint8_t stream[8 * 256];
	size_t total = 0;
	for (int i = 0; i < 8; i++)
		total += pack(sample(&s, LM__ENVELOPE__BODY_CHECKOUT), stream + total,
		              sizeof(stream) - total);
	struct budget b = {.max = SIZE_MAX};
	struct lm_frame_reader r;
	assert_int_equal(lm_frame_reader_init_growing(&r, LM_FRAME_MAX, budget_resize, &b), 0);
	assert_int_equal(b.used, 0);
	size_t fed = 0, frames = 0, pos = 0;
	while (fed < total) {
		size_t n = 1 + rnd(40);
		if (n > total - fed)
			n = total - fed;
		assert_int_equal(lm_frame_reader_feed(&r, stream + fed, n), 0);
		fed += n;
		const uint8_t *payload;
		size_t len;
		while (lm_frame_reader_next(&r, &payload, &len) == 1) {
			assert_memory_equal(payload, stream + pos + LM_FRAME_HEADER, len);
			pos += LM_FRAME_HEADER + len;
			frames++;
		}
		assert_int_equal(lm_frame_reader_pending(&r), fed - pos);
	}
	assert_int_equal(frames, 8);
	assert_int_equal(pos, total);
	lm_frame_reader_close(&r);
	assert_int_equal(b.used, 0);
}

/* A refused resize (the budget is spent) copies nothing and leaves the
 * bytes already held; a big block is given back once drained. */
static void test_growing_reader_budget(void **state)
{
	struct budget b = {.max = 1024};
	struct lm_frame_reader r;
	static uint8_t big[LM_FRAME_BUFSIZE(8000)];
	const uint8_t *payload;
	size_t len;
	assert_int_equal(lm_frame_reader_init_growing(&r, LM_FRAME_MAX, budget_resize, &b), 0);
	memset(big, 'x', sizeof(big));
	big[0] = 0, big[1] = 0, big[2] = 8000 >> 8, big[3] = 8000 & 0xff;
	assert_int_equal(lm_frame_reader_feed(&r, big, 1000), 0);
	assert_int_equal(b.used, 1024);
	assert_int_equal(lm_frame_reader_feed(&r, big + 1000, 100), LMC_ELIMIT);
	assert_int_equal(lm_frame_reader_pending(&r), 1000);
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 0);

	b.max = SIZE_MAX;
	assert_int_equal(lm_frame_reader_feed(&r, big + 1000, sizeof(big) - 1000), 0);
	assert_int_equal(b.used, 8192);
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 1);
	assert_int_equal(len, 8000);
	/* Drained: the 8 KiB block goes back. */
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 0);
	assert_int_equal(b.used, 0);
	lm_frame_reader_close(&r);
	assert_int_equal(b.used, 0);

	assert_int_equal(lm_frame_reader_init_growing(&r, 0, budget_resize, &b), LMC_EINVAL);
	assert_int_equal(lm_frame_reader_init_growing(&r, LM_FRAME_MAX, NULL, NULL), LMC_EINVAL);
}

/* An announced length over the maximum is refused from the header alone,
 * and the error carries it, for the message that answers it. */
static void test_growing_reader_oversized(void **state)
{
	struct budget b = {.max = SIZE_MAX};
	struct lm_frame_reader r;
	const uint8_t header[LM_FRAME_HEADER] = {0, 1, 0, 1}; /* 64 KiB + 1 */
	const uint8_t *payload;
	size_t len = 0;
	assert_int_equal(lm_frame_reader_init_growing(&r, LM_FRAME_MAX, budget_resize, &b), 0);
	assert_int_equal(lm_frame_reader_feed(&r, header, 3), 0);
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), 0);
	assert_int_equal(lm_frame_reader_feed(&r, header + 3, 1), 0);
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), LMC_ETOOLARGE);
	assert_int_equal(len, LM_FRAME_MAX + 1);
	len = 0;
	assert_int_equal(lm_frame_reader_next(&r, &payload, &len), LMC_ETOOLARGE);
	assert_int_equal(len, LM_FRAME_MAX + 1);
	lm_frame_reader_close(&r);
	assert_int_equal(b.used, 0);
}

/* Requests are capped at LM_FRAME_MAX, replies at LM_FRAME_REPLY_MAX; a
 * buffer too small for the frame is refused rather than overrun. */
static void test_pack_limits(void **state)
{
	static char big[LM_FRAME_MAX + 1];
	memset(big, 'x', sizeof(big) - 1);
	uint8_t buf[LM_FRAME_BUFSIZE(LM_FRAME_MAX)];
	size_t len = 0;

	Lm__Envelope e;
	Lm__Checkout co;
	lm_envelope_init(&e, 1);
	lm__checkout__init(&co);
	SET_BYTES(co, feature, big);
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT;
	e.checkout = &co;
	assert_int_equal(lm_frame_pack(&e, buf, sizeof(buf), &len), LMC_ETOOLARGE);
	uint8_t *heap = NULL;
	size_t cap = 0;
	assert_int_equal(lm_frame_pack_alloc(&e, &heap, &cap, &len), LMC_ETOOLARGE);
	assert_null(heap);

	struct sample s;
	Lm__Envelope *small = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	size_t need = pack(small, buf, sizeof(buf));
	assert_int_equal(lm_frame_pack(small, buf, need - 1, &len), LMC_ETOOLARGE);
	assert_int_equal(lm_frame_pack(small, buf, 2, &len), LMC_ETOOLARGE);
	assert_int_equal(lm_frame_pack(small, buf, need, &len), 0);
	assert_int_equal(len, need);

	/* The heap variant grows its buffer and then reuses it. */
	assert_int_equal(lm_frame_pack_alloc(small, &heap, &cap, &len), 0);
	assert_int_equal(len, need);
	assert_memory_equal(heap, buf, need);
	uint8_t *first = heap;
	assert_int_equal(lm_frame_pack_alloc(small, &heap, &cap, &len), 0);
	assert_ptr_equal(heap, first);
	free(heap);
}

/* lmstat -a on a big site: a StatusReply larger than any request travels in
 * a reply frame, which a server-side reader would refuse. */
static void test_large_status_reply(void **state)
{
	enum { NHOLDERS = 4000 };
	static Lm__Holder holder[NHOLDERS];
	static Lm__Holder *holders[NHOLDERS];
	static char users[NHOLDERS][16];
	struct sample s;
	Lm__Envelope *e = sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY);
	for (size_t i = 0; i < NHOLDERS; i++) {
		snprintf(users[i], sizeof(users[i]), "user%05zu", i);
		sample_holder(&holder[i], users[i], i + 1);
		holders[i] = &holder[i];
	}
	s.feature.n_holders = NHOLDERS;
	s.feature.holders = holders;

	uint8_t *frame = NULL;
	size_t cap = 0, len = 0;
	assert_int_equal(lm_frame_pack_alloc(e, &frame, &cap, &len), 0);
	assert_true(len > LM_FRAME_BUFSIZE(LM_FRAME_MAX));

	struct lm_frame_reader server, client;
	const uint8_t *payload;
	size_t plen;
	uint8_t *space;
	size_t room;
	assert_int_equal(lm_frame_reader_init(&server, NULL, LM_FRAME_BUFSIZE(LM_FRAME_MAX)), 0);
	lm_frame_reader_space(&server, &space, &room);
	memcpy(space, frame, LM_FRAME_HEADER);
	lm_frame_reader_commit(&server, LM_FRAME_HEADER);
	assert_int_equal(lm_frame_reader_next(&server, &payload, &plen), LMC_ETOOLARGE);
	lm_frame_reader_close(&server);

	assert_int_equal(lm_frame_reader_init(&client, NULL, LM_FRAME_BUFSIZE(LM_FRAME_REPLY_MAX)),
	                 0);
	lm_frame_reader_space(&client, &space, &room);
	memcpy(space, frame, len);
	lm_frame_reader_commit(&client, len);
	assert_int_equal(lm_frame_reader_next(&client, &payload, &plen), 1);

	/* The arena a status client would use decodes it; the one for
	 * requests is too small and says so. */
	size_t big_size = LM_ARENA_SIZE(LM_FRAME_REPLY_MAX);
	void *big = malloc(big_size);
	assert_non_null(big);
	struct lm_arena big_arena;
	lm_arena_init(&big_arena, big, big_size);
	Lm__Envelope *env = NULL;
	char err[256];
	assert_int_equal(lm_envelope_decode(payload, plen, &big_arena, &env, err, sizeof(err)), 0);
	assert_int_equal(env->status_reply->features[0]->n_holders, NHOLDERS);
	assert_true(lm_bytes_equal(&env->status_reply->features[0]->holders[NHOLDERS - 1]->user,
	                           "user03999"));

	lm_arena_reset(&arena);
	assert_int_equal(lm_envelope_decode(payload, plen, &arena, &env, err, sizeof(err)),
	                 LMC_ETOOLARGE);
	assert_null(env);
	assert_non_null(strstr(err, "memory"));

	free(big);
	lm_frame_reader_close(&client);
	free(frame);
}

/* ---- Malformed and invalid messages ---- */

static void test_garbage_payload(void **state)
{
	static const uint8_t garbage[][8] = {
	        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* unterminated varint */
	        {0x08, 0x01, 0x00, 0x00, 0x00},                   /* tag 0 */
	        {0x0a, 0x7f, 0x01},                               /* length past the end */
	        {0x0f, 0x01},                                     /* wire type 7 */
	};
	static const size_t lens[] = {8, 5, 3, 2};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char err[256] = "";
		Lm__Envelope *env = (Lm__Envelope *)1;
		lm_arena_reset(&arena);
		assert_int_equal(
		        lm_envelope_decode(garbage[i], lens[i], &arena, &env, err, sizeof(err)),
		        LMC_EPROTO);
		assert_null(env);
		assert_non_null(strstr(err, "malformed"));
	}
}

static void test_missing_body(void **state)
{
	Lm__Envelope e;
	lm_envelope_init(&e, 9);
	assert_non_null(strstr(decode_expect(&e, LMC_EPROTO), "no body"));

	/* A zero-length frame is an envelope without anything. */
	char err[256];
	Lm__Envelope *env;
	lm_arena_reset(&arena);
	assert_int_equal(lm_envelope_decode((const uint8_t *)"", 0, &arena, &env, err, sizeof(err)),
	                 LMC_EPROTO);
	assert_non_null(strstr(err, "protocol_version"));
}

/* A request kind from a newer protocol arrives as an unknown field: the
 * receiver names it and still knows which request to answer. */
static void test_unknown_body(void **state)
{
	static const uint8_t payload[] = {
	        0x08, 0x01,             /* field 1, varint: protocol_version 1 */
	        0x10, 0x05,             /* field 2, varint: request_id 5 */
	        0x9a, 0x06, 0x02, 0x08, /* field 99, length 2: a message with */
	        0x01,                   /* its field 1 = 1 */
	};
	char err[256] = "";
	Lm__Envelope *env = NULL;
	lm_arena_reset(&arena);
	assert_int_equal(
	        lm_envelope_decode(payload, sizeof(payload), &arena, &env, err, sizeof(err)),
	        LMC_EPROTO);
	assert_string_equal(err, "unknown message kind (field 99)");
	assert_non_null(env);
	assert_int_equal(env->request_id, 5);
	assert_int_equal(env->body_case, LM__ENVELOPE__BODY__NOT_SET);

	/* An unknown header field next to a known body is a newer peer's
	 * addition and is ignored. */
	struct sample s;
	uint8_t buf[512];
	size_t len = pack(sample(&s, LM__ENVELOPE__BODY_HEARTBEAT), buf, sizeof(buf));
	buf[len++] = 0x18; /* field 3, varint */
	buf[len++] = 0x2a;
	lm_arena_reset(&arena);
	env = decode_ok(buf + LM_FRAME_HEADER, len - LM_FRAME_HEADER);
	assert_int_equal(env->body_case, LM__ENVELOPE__BODY_HEARTBEAT);
	assert_int_equal(env->base.n_unknown_fields, 1);
}

static void test_protocol_version(void **state)
{
	struct sample s;
	Lm__Envelope *e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	e->protocol_version = LM_PROTOCOL_VERSION + 1;
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "protocol version 2"));
	e->protocol_version = 0;
	decode_expect(e, LMC_EPROTO);
	e->has_protocol_version = 0;
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "protocol_version is missing"));

	/* An error reply is read whatever its version, so that a client of
	 * another version learns why it was turned away. */
	e = sample(&s, LM__ENVELOPE__BODY_ERROR_REPLY);
	e->protocol_version = 7;
	decode_expect(e, 0);
}

static void test_nul_inside_feature(void **state)
{
	struct sample s;
	Lm__Envelope *e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	s.checkout.feature = (ProtobufCBinaryData){10, (uint8_t *)"stat\0stics"};
	const char *err = decode_expect(e, LMC_EPROTO);
	assert_non_null(strstr(err, "checkout.feature"));
	assert_non_null(strstr(err, "NUL"));

	/* The copy helper refuses it too. */
	char out[64];
	assert_int_equal(lm_bytes_to_cstr(&s.checkout.feature, out, sizeof(out)), LMC_EPROTO);
}

/* A name of length max is accepted, max + 1 refused. */
static void check_length_limit(Lm__Envelope *e, ProtobufCBinaryData *field, size_t max,
                               const char *name)
{
	static uint8_t text[1024];
	memset(text, 'a', sizeof(text));
	*field = (ProtobufCBinaryData){max, text};
	decode_expect(e, 0);
	*field = (ProtobufCBinaryData){max + 1, text};
	const char *err = decode_expect(e, LMC_EPROTO);
	if (strstr(err, name) == NULL || strstr(err, "limit") == NULL)
		fail_msg("%s: unexpected message \"%s\"", name, err);
}

static void test_overlong_identifiers(void **state)
{
	struct sample s;
	Lm__Envelope *e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	check_length_limit(e, &s.checkout.feature, 64, "checkout.feature");
	e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	check_length_limit(e, &s.checkout.version, 16, "checkout.version");

	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	check_length_limit(e, &s.hello.user, 255, "hello.user");
	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	check_length_limit(e, &s.hello.host, 255, "hello.host");
	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	check_length_limit(e, &s.hello.display, 255, "hello.display");
	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	check_length_limit(e, &s.hello.lock_code, 63, "hello.lock_code");
	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	check_length_limit(e, &s.hello.app_version, 16, "hello.app_version");

	e = sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY);
	check_length_limit(e, &s.holder[1].user, 255, "status_reply.holders.user");
	e = sample(&s, LM__ENVELOPE__BODY_REMOVE_REQUEST);
	check_length_limit(e, &s.remove_request.feature, 64, "remove_request.feature");
}

static void test_identifier_characters(void **state)
{
	struct sample s;
	Lm__Envelope *e;

	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	SET_BYTES(s.hello, host, "ws 17");
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "hello.host contains a space"));

	/* A user name may have a space, not a newline or an escape. */
	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	SET_BYTES(s.hello, user, "Bob Smith");
	decode_expect(e, 0);
	SET_BYTES(s.hello, user, "bob\nFAKE LOG LINE");
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "byte 0x0a at offset 3"));
	SET_BYTES(s.hello, user, "bob\x1b[2J");
	decode_expect(e, LMC_EPROTO);
	SET_BYTES(s.hello, user, "b\xc3\xb6rje");
	decode_expect(e, LMC_EPROTO);
	SET_BYTES(s.hello, user, "");
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "hello.user is empty"));
	s.hello.has_user = 0;
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "hello.user is missing"));

	/* A program without a display names itself by pid. */
	e = sample(&s, LM__ENVELOPE__BODY_HELLO);
	s.hello.has_display = 0;
	decode_expect(e, 0);
	s.hello.has_pid = 0;
	decode_expect(e, LMC_EPROTO);
}

static void test_checkout_count(void **state)
{
	struct sample s;
	Lm__Envelope *e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	static const struct {
		uint32_t count;
		int rc;
	} cases[] = {
	        {0, LMC_EPROTO},
	        {1, 0},
	        {LM_CHECKOUT_COUNT_MAX, 0},
	        {LM_CHECKOUT_COUNT_MAX + 1, LMC_EPROTO},
	        {UINT32_MAX, LMC_EPROTO},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.checkout.count = cases[i].count;
		const char *err = decode_expect(e, cases[i].rc);
		if (cases[i].rc)
			assert_non_null(strstr(err, "checkout.count"));
	}
	s.checkout.has_count = 0;
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "checkout.count is missing"));

	e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	s.checkout.wait_ms = LM_CHECKOUT_WAIT_MAX_MS + 1;
	decode_expect(e, LMC_EPROTO);
	e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT);
	s.checkout.has_version = 0;
	decode_expect(e, LMC_EPROTO);
}

/* What each kind requires beyond well-formed identifiers. */
static void test_message_rules(void **state)
{
	struct sample s;
	Lm__Envelope *e;

	/* Resuming a session takes its id and a secret of the right size. */
	e = sample(&s, LM__ENVELOPE__BODY_SESSION_OPEN);
	s.session_open.secret.len = LM_SESSION_SECRET_LEN - 1;
	decode_expect(e, LMC_EPROTO);
	s.session_open.has_secret = 0;
	decode_expect(e, LMC_EPROTO);
	s.session_open.has_session_id = 0;
	decode_expect(e, 0); /* a new session */

	/* A new session's reply hands the secret over; a resumed one may
	 * leave it out (the client has it), but never send a wrong one. */
	e = sample(&s, LM__ENVELOPE__BODY_SESSION_REPLY);
	s.session_reply.has_secret = 0;
	decode_expect(e, 0);
	s.session_reply.resumed = 0;
	decode_expect(e, LMC_EPROTO);
	s.session_reply.resumed = 1;
	s.session_reply.has_secret = 1;
	s.session_reply.secret.len = LM_SESSION_SECRET_LEN - 1;
	decode_expect(e, LMC_EPROTO);

	/* A grant must carry a complete signed line. */
	e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT_REPLY);
	s.license.signature.len = LM_WIRE_SIG_LEN - 1;
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "signature"));
	e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT_REPLY);
	s.license.text = (ProtobufCBinaryData){12, (uint8_t *)"FEATURE a\0bc"};
	decode_expect(e, LMC_EPROTO);
	e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT_REPLY);
	s.checkout_reply.license = NULL;
	decode_expect(e, LMC_EPROTO);
	e = sample(&s, LM__ENVELOPE__BODY_CHECKOUT_REPLY);
	s.checkout_reply.has_handle = 0;
	decode_expect(e, LMC_EPROTO);

	e = sample(&s, LM__ENVELOPE__BODY_CHECKIN);
	s.checkin.has_handle = 0;
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "checkin.handle"));

	/* lmremove names a holder by handle or by user. */
	e = sample(&s, LM__ENVELOPE__BODY_REMOVE_REQUEST);
	s.remove_request.has_user = 0;
	decode_expect(e, LMC_EPROTO);
	s.remove_request.has_handle = 1;
	s.remove_request.handle = 3;
	decode_expect(e, 0);
	s.remove_request.has_feature = 0;
	decode_expect(e, LMC_EPROTO);

	e = sample(&s, LM__ENVELOPE__BODY_ERROR_REPLY);
	s.error_reply.code = 0;
	decode_expect(e, LMC_EPROTO);
	s.error_reply.code = 5;
	decode_expect(e, LMC_EPROTO);
	s.error_reply.code = -1000; /* a code from a newer server */
	decode_expect(e, 0);
	s.error_reply.message = "two\nlines";
	decode_expect(e, LMC_EPROTO);

	e = sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY);
	s.server.role = (Lm__ServerRole)7;
	assert_non_null(strstr(decode_expect(e, LMC_EPROTO), "role 7"));
	e = sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY);
	s.server.address = "27000@lic 1";
	decode_expect(e, LMC_EPROTO);
	e = sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY);
	s.holder[0].count = 0;
	decode_expect(e, LMC_EPROTO);

	/* A body arm set without its message is caught, not dereferenced. */
	e = sample(&s, LM__ENVELOPE__BODY_CHECKIN);
	e->checkin = NULL;
	char err[128];
	assert_int_equal(lm_envelope_check(e, err, sizeof(err)), LMC_EPROTO);
	e->body_case = (Lm__Envelope__BodyCase)99;
	assert_int_equal(lm_envelope_check(e, err, sizeof(err)), LMC_EPROTO);
}

/* The server's answer to a bad frame is itself a valid frame, whatever the
 * message it was given. */
static void test_pack_error(void **state)
{
	char message[3000];
	memset(message, 'm', sizeof(message) - 1);
	message[sizeof(message) - 1] = '\0';
	message[5] = '\n';
	message[6] = '\x1b';

	uint8_t buf[LM_FRAME_BUFSIZE(LM_WIRE_TEXT_MAX + 32)];
	size_t len;
	assert_int_equal(lm_frame_pack_error(42, LMC_EPROTO, message, buf, sizeof(buf), &len), 0);
	assert_int_equal(lm_frame_pack_error(42, LMC_EPROTO, message, buf, 100, &len),
	                 LMC_ETOOLARGE);
	assert_int_equal(lm_frame_pack_error(42, LMC_EPROTO, message, buf, sizeof(buf), &len), 0);
	lm_arena_reset(&arena);
	Lm__Envelope *env = decode_ok(buf + LM_FRAME_HEADER, len - LM_FRAME_HEADER);
	assert_int_equal(env->body_case, LM__ENVELOPE__BODY_ERROR_REPLY);
	assert_int_equal(env->request_id, 42);
	assert_int_equal(env->error_reply->code, LMC_EPROTO);
	assert_int_equal(strlen(env->error_reply->message), LM_WIRE_TEXT_MAX);
	assert_memory_equal(env->error_reply->message, "mmmmm??mm", 9);

	assert_int_equal(lm_frame_pack_error(43, LMC_ESHUTDOWN, NULL, buf, sizeof(buf), &len), 0);
}

static void test_bytes_helpers(void **state)
{
	ProtobufCBinaryData b = lm_bytes_from_cstr("statistics");
	char out[11];
	assert_int_equal(b.len, 10);
	assert_int_equal(lm_bytes_to_cstr(&b, out, sizeof(out)), 0);
	assert_string_equal(out, "statistics");
	assert_int_equal(lm_bytes_to_cstr(&b, out, 10), LMC_ETOOLARGE);
	assert_true(lm_bytes_equal(&b, "statistics"));
	assert_false(lm_bytes_equal(&b, "statistic"));
	assert_false(lm_bytes_equal(&b, "statisticsx"));

	b = lm_bytes_from_cstr(NULL);
	assert_int_equal(b.len, 0);
	assert_int_equal(lm_bytes_to_cstr(&b, out, 1), 0);
	assert_string_equal(out, "");
	assert_true(lm_bytes_equal(&b, ""));
}

/* ---- The arena ---- */

static void test_arena_basics(void **state)
{
	uint8_t block[256];
	struct lm_arena a;
	/* Deliberately misaligned: the arena aligns addresses itself. */
	lm_arena_init(&a, block + 1, sizeof(block) - 1);

	void *p = lm_arena_alloc(&a, 3);
	void *q = lm_arena_alloc(&a, 8);
	assert_non_null(p);
	assert_non_null(q);
	assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
	assert_int_equal((uintptr_t)q % _Alignof(max_align_t), 0);
	assert_true((uint8_t *)q >= (uint8_t *)p + 3);

	assert_null(lm_arena_alloc(&a, 1000));
	assert_true(a.exhausted);
	assert_null(lm_arena_alloc(&a, SIZE_MAX));
	assert_non_null(lm_arena_alloc(&a, 8)); /* what is left still serves */

	size_t peak = a.peak;
	lm_arena_reset(&a);
	assert_false(a.exhausted);
	assert_int_equal(a.used, 0);
	assert_int_equal(a.peak, peak);
	assert_ptr_equal(lm_arena_alloc(&a, 3), p);
}

/* Every arena size below what a message needs fails cleanly, with the
 * memory error, never a crash or a half-built message. */
static void test_arena_cap(void **state)
{
	struct sample s;
	uint8_t frame[1024];
	size_t len = pack(sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY), frame, sizeof(frame));
	const uint8_t *payload = frame + LM_FRAME_HEADER;
	size_t plen = len - LM_FRAME_HEADER;

	uint8_t block[8192];
	struct lm_arena a;
	lm_arena_init(&a, block, sizeof(block));
	Lm__Envelope *env;
	char err[256];
	assert_int_equal(lm_envelope_decode(payload, plen, &a, &env, err, sizeof(err)), 0);
	size_t need = a.used;
	assert_true(need > plen);

	for (size_t size = 0; size < need; size += 8) {
		lm_arena_init(&a, block, size);
		env = (Lm__Envelope *)1;
		assert_int_equal(lm_envelope_decode(payload, plen, &a, &env, err, sizeof(err)),
		                 LMC_ETOOLARGE);
		assert_null(env);
		assert_true(a.used <= size);
	}
	lm_arena_init(&a, block, need);
	assert_int_equal(lm_envelope_decode(payload, plen, &a, &env, err, sizeof(err)), 0);

	/* A frame of many one-byte repeated fields is the worst expansion a
	 * peer can pick; the request arena refuses it instead of growing. */
	static uint8_t hostile[LM_FRAME_MAX];
	size_t n = 0;
	hostile[n++] = 0x08; /* protocol_version 1 */
	hostile[n++] = 0x01;
	hostile[n++] = 0x9a; /* field 19, heartbeat_reply, length 2 bytes */
	hostile[n++] = 0x01;
	size_t body_len = LM_FRAME_MAX - n - 3;
	body_len -= body_len % 2;
	hostile[n++] = (uint8_t)(0x80 | (body_len & 0x7f));
	hostile[n++] = (uint8_t)(0x80 | ((body_len >> 7) & 0x7f));
	hostile[n++] = (uint8_t)(body_len >> 14);
	for (size_t i = 0; i < body_len; i += 2) {
		hostile[n++] = 0x08; /* handles, unpacked, one varint each */
		hostile[n++] = 0x01;
	}
	lm_arena_reset(&arena);
	assert_int_equal(lm_envelope_decode(hostile, n, &arena, &env, err, sizeof(err)),
	                 LMC_ETOOLARGE);
	assert_true(arena.used <= arena.size);
}

/* ---- Random input ---- */

/* Random bytes, and valid frames with random damage, through the reader in
 * random chunks and then the decoder: every outcome is a frame, a clean
 * error or a wait for more, and whatever decodes passes the checks. */
static void test_random_input_never_crashes(void **state)
{
	uint8_t valid[8192];
	size_t ends[NKINDS];
	size_t nvalid = pack_all(valid, sizeof(valid), ends);
	static uint8_t stream[4096];
	size_t decoded = 0, refused = 0;

	for (int iter = 0; iter < 3000; iter++) {
		size_t n;
		if (iter % 2) {
			/* A run of valid frames, a few bytes flipped. */
			size_t from = rnd(NKINDS) ? ends[rnd(NKINDS - 1)] : 0;
			n = nvalid - from;
			if (n > sizeof(stream))
				n = sizeof(stream);
			memcpy(stream, valid + from, n);
			for (unsigned k = rnd(4); k-- > 0;)
				stream[rnd((unsigned)n)] ^= (uint8_t)(1u << rnd(8));
		} else {
			/* Pure noise, or noise behind a header announcing it. */
			n = 4 + rnd(300);
			for (size_t i = 0; i < n; i++)
				stream[i] = (uint8_t)rnd(256);
			if (iter % 4 == 2) {
				unsigned plen = rnd((unsigned)n - 3);
				stream[0] = stream[1] = 0;
				stream[2] = (uint8_t)(plen >> 8);
				stream[3] = (uint8_t)plen;
			}
		}

		struct lm_frame_reader r;
		static uint8_t buf[LM_FRAME_BUFSIZE(1024)];
		assert_int_equal(lm_frame_reader_init(&r, buf, sizeof(buf)), 0);
		int rc = 0;
		for (size_t at = 0; at < n && rc >= 0;) {
			uint8_t *space;
			size_t room;
			lm_frame_reader_space(&r, &space, &room);
			assert_true(room > 0);
			size_t k = 1 + rnd(200);
			if (k > room)
				k = room;
			if (k > n - at)
				k = n - at;
			memcpy(space, stream + at, k);
			lm_frame_reader_commit(&r, k);
			at += k;

			const uint8_t *payload;
			size_t len;
			while ((rc = lm_frame_reader_next(&r, &payload, &len)) == 1) {
				Lm__Envelope *env;
				char err[256];
				lm_arena_reset(&arena);
				int d = lm_envelope_decode(payload, len, &arena, &env, err,
				                           sizeof(err));
				assert_true(d == 0 || d == LMC_EPROTO || d == LMC_ETOOLARGE);
				if (d == 0) {
					assert_int_equal(lm_envelope_check(env, NULL, 0), 0);
					decoded++;
				} else {
					refused++;
				}
			}
			assert_true(rc == 0 || rc == LMC_ETOOLARGE);
		}
		lm_frame_reader_close(&r);
	}
	/* Both paths were exercised. */
	assert_true(decoded > 100);
	assert_true(refused > 100);
}

/* lmutil lmreplace names a SERVER line of a triad and the new server's
 * raft id and address; a status reply may carry each server's pool digest,
 * always a whole SHA-256. */
static void test_triad_messages(void **state)
{
	Lm__Envelope e;
	Lm__ReplaceRequest q = LM__REPLACE_REQUEST__INIT;
	lm_envelope_init(&e, 7);
	e.body_case = LM__ENVELOPE__BODY_REPLACE_REQUEST;
	e.replace_request = &q;
	q.has_node = q.has_new_id = 1;
	q.node = 2;
	q.new_id = 5;
	q.new_address = "10.0.0.7:27100";
	decode_expect(&e, 0);
	assert_false(lm_body_is_reply(e.body_case));
	assert_string_equal(lm_body_name(e.body_case), "replace_request");
	q.node = 4;
	assert_non_null(strstr(decode_expect(&e, LMC_EPROTO), "SERVER line"));
	q.node = 2;
	q.has_new_id = 0;
	decode_expect(&e, LMC_EPROTO);
	q.has_new_id = 1;
	q.new_address = NULL;
	decode_expect(&e, LMC_EPROTO);

	struct sample s;
	uint8_t digest[LM_WIRE_DIGEST_LEN] = {1, 2, 3};
	Lm__Envelope *r = sample(&s, LM__ENVELOPE__BODY_STATUS_REPLY);
	s.server.has_digest = 1;
	s.server.digest.data = digest;
	s.server.digest.len = sizeof digest;
	s.server.has_raft_id = s.server.has_voter = 1;
	s.server.raft_id = 5;
	s.server.raft_address = "10.0.0.7:27100";
	decode_expect(r, 0);
	s.server.digest.len = 31;
	assert_non_null(strstr(decode_expect(r, LMC_EPROTO), "digest"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_each_kind_round_trips, setup),
	        cmocka_unit_test_setup(test_reader_byte_by_byte, setup),
	        cmocka_unit_test_setup(test_reader_many_frames_in_one_read, setup),
	        cmocka_unit_test_setup(test_reader_frame_split_across_reads, setup),
	        cmocka_unit_test_setup(test_reader_compacts, setup),
	        cmocka_unit_test_setup(test_oversized_length_refused_from_header, setup),
	        cmocka_unit_test_setup(test_truncated_payload_waits, setup),
	        cmocka_unit_test_setup(test_reader_init_limits, setup),
	        cmocka_unit_test_setup(test_growing_reader_frames, setup),
	        cmocka_unit_test_setup(test_growing_reader_budget, setup),
	        cmocka_unit_test_setup(test_growing_reader_oversized, setup),
	        cmocka_unit_test_setup(test_pack_limits, setup),
	        cmocka_unit_test_setup(test_large_status_reply, setup),
	        cmocka_unit_test_setup(test_garbage_payload, setup),
	        cmocka_unit_test_setup(test_missing_body, setup),
	        cmocka_unit_test_setup(test_unknown_body, setup),
	        cmocka_unit_test_setup(test_protocol_version, setup),
	        cmocka_unit_test_setup(test_nul_inside_feature, setup),
	        cmocka_unit_test_setup(test_overlong_identifiers, setup),
	        cmocka_unit_test_setup(test_identifier_characters, setup),
	        cmocka_unit_test_setup(test_checkout_count, setup),
	        cmocka_unit_test_setup(test_message_rules, setup),
	        cmocka_unit_test_setup(test_pack_error, setup),
	        cmocka_unit_test_setup(test_bytes_helpers, setup),
	        cmocka_unit_test_setup(test_arena_basics, setup),
	        cmocka_unit_test_setup(test_arena_cap, setup),
	        cmocka_unit_test_setup(test_random_input_never_crashes, setup),
	        cmocka_unit_test_setup(test_triad_messages, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
