/* Writes the seed corpus of tests/fuzz/fuzz_frame.c into a directory: byte
 * streams as a client sends them to lmd, one file per kind of request (a
 * few replies too, since clients decode with the same checks), one whole
 * session, a header announcing too much, and raft entries (lmcmd.Command)
 * framed the same way, since the harness tries every frame as both.
 *
 *   make fuzz-corpus-frame    (rewrites tests/fuzz/corpus_frame) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.pb-c.h"
#include "proto/frame.h"

static const char *dir;

/* The file being written, as a stream of frames. */
static uint8_t stream[LM_FRAME_BUFSIZE(LM_FRAME_MAX)];
static size_t stream_len;

static void die(const char *what)
{
	fprintf(stderr, "gen_corpus_frame: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void flush(const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(stream, 1, stream_len, f) != stream_len || fclose(f) != 0)
		die(path);
	stream_len = 0;
}

static void add(const Lm__Envelope *e)
{
	size_t len;
	if (lm_frame_pack(e, stream + stream_len, sizeof stream - stream_len, &len) != 0) {
		fprintf(stderr, "gen_corpus_frame: a seed does not fit\n");
		exit(1);
	}
	stream_len += len;
}

/* One request per file. */
static void one(const char *name, const Lm__Envelope *e)
{
	add(e);
	flush(name);
}

static ProtobufCBinaryData str(const char *s)
{
	return lm_bytes_from_cstr(s);
}

static const uint8_t secret[LM_SESSION_SECRET_LEN] = {
        0x5e, 0xc7, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
        0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
        0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
};

/* A counted line in the canonical form the pool reads back. */
static const char *const lines[] = {
        "FEATURE statistics acme 29.0 2027-12-31 25 AUTH=\"2XHD-TY5B-G2FQ-D6WB-9\" "
        "SERVER_CODES=\"11ZE-YDHE-ZC2F-0AKF-194F-27NF-366R\"",
        "INCREMENT statistics acme 30.1 2028-06-30 5 AUTH=\"2XHD-TY5B-G2FQ-D6WB-9\" "
        "SERVER_CODES=\"11ZE-YDHE-ZC2F-0AKF-194F-27NF-366R\"",
};

static void requests(void)
{
	Lm__Envelope e;

	Lm__Hello hello = LM__HELLO__INIT;
	hello.has_user = 1, hello.user = str("alice");
	hello.has_host = 1, hello.host = str("build-01");
	hello.has_pid = 1, hello.pid = 4242;
	lm_envelope_init(&e, 1);
	e.body_case = LM__ENVELOPE__BODY_HELLO, e.hello = &hello;
	one("hello", &e);

	hello.has_user = 1, hello.user = str("Bob Smith");
	hello.has_display = 1, hello.display = str("ws-7:0.0");
	hello.has_lock_code = 1, hello.lock_code = str("11ZE-YDHE-ZC2F-0AKF-194F-27NF-366R");
	hello.has_app_version = 1, hello.app_version = str("29.0");
	hello.has_pid = 0;
	one("hello-display", &e);

	Lm__SessionOpen open = LM__SESSION_OPEN__INIT;
	lm_envelope_init(&e, 2);
	e.body_case = LM__ENVELOPE__BODY_SESSION_OPEN, e.session_open = &open;
	one("session_open", &e);
	open.has_session_id = 1, open.session_id = 0x1122334455667788u;
	open.has_secret = 1, open.secret = (ProtobufCBinaryData){sizeof secret, (uint8_t *)secret};
	one("session_open-resume", &e);

	Lm__Checkout co = LM__CHECKOUT__INIT;
	co.has_feature = 1, co.feature = str("statistics");
	co.has_version = 1, co.version = str("29.0");
	co.has_count = 1, co.count = 1;
	lm_envelope_init(&e, 3);
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT, e.checkout = &co;
	one("checkout", &e);
	co.count = 5;
	co.has_wait_ms = 1, co.wait_ms = 30000;
	one("checkout-wait", &e);
	co.has_wait_ms = 0;
	co.has_vendor_data = 1, co.vendor_data = str("job 7");
	one("checkout-vendor_data", &e);

	Lm__Checkin ci = LM__CHECKIN__INIT;
	ci.has_handle = 1, ci.handle = 7;
	lm_envelope_init(&e, 4);
	e.body_case = LM__ENVELOPE__BODY_CHECKIN, e.checkin = &ci;
	one("checkin", &e);

	Lm__Heartbeat hb = LM__HEARTBEAT__INIT;
	lm_envelope_init(&e, 5);
	e.body_case = LM__ENVELOPE__BODY_HEARTBEAT, e.heartbeat = &hb;
	one("heartbeat", &e);

	Lm__SessionClose sc = LM__SESSION_CLOSE__INIT;
	lm_envelope_init(&e, 6);
	e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE, e.session_close = &sc;
	one("session_close", &e);

	Lm__StatusRequest st = LM__STATUS_REQUEST__INIT;
	lm_envelope_init(&e, 7);
	e.body_case = LM__ENVELOPE__BODY_STATUS_REQUEST, e.status_request = &st;
	one("status_request", &e);
	st.has_feature = 1, st.feature = str("statistics");
	st.has_holders = 1, st.holders = 1;
	st.has_digest = 1, st.digest = 1;
	one("status_request-feature", &e);

	Lm__RemoveRequest rm = LM__REMOVE_REQUEST__INIT;
	rm.has_feature = 1, rm.feature = str("statistics");
	rm.has_handle = 1, rm.handle = 9;
	lm_envelope_init(&e, 8);
	e.body_case = LM__ENVELOPE__BODY_REMOVE_REQUEST, e.remove_request = &rm;
	one("remove_request-handle", &e);
	rm.has_handle = 0;
	rm.has_user = 1, rm.user = str("Bob Smith");
	rm.has_host = 1, rm.host = str("build-01");
	rm.has_display = 1, rm.display = str("ws-7:0.0");
	one("remove_request-user", &e);

	Lm__ShutdownRequest sd = LM__SHUTDOWN_REQUEST__INIT;
	sd.has_all = 1, sd.all = 1;
	lm_envelope_init(&e, 9);
	e.body_case = LM__ENVELOPE__BODY_SHUTDOWN_REQUEST, e.shutdown_request = &sd;
	one("shutdown_request", &e);

	Lm__RereadRequest rr = LM__REREAD_REQUEST__INIT;
	lm_envelope_init(&e, 10);
	e.body_case = LM__ENVELOPE__BODY_REREAD_REQUEST, e.reread_request = &rr;
	one("reread_request", &e);

	Lm__ReplaceRequest rp = LM__REPLACE_REQUEST__INIT;
	rp.has_node = 1, rp.node = 2;
	rp.has_new_id = 1, rp.new_id = 4;
	rp.new_address = "27000@delta";
	lm_envelope_init(&e, 11);
	e.body_case = LM__ENVELOPE__BODY_REPLACE_REQUEST, e.replace_request = &rp;
	one("replace_request", &e);

	/* Remote admin: a challenge asked for, given, and a signed request
	 * wrapping the shutdown above (the signature is only the right
	 * length: the fuzzer reaches the checks, not the key). */
	Lm__AdminChallengeRequest acq = LM__ADMIN_CHALLENGE_REQUEST__INIT;
	lm_envelope_init(&e, 12);
	e.body_case = LM__ENVELOPE__BODY_ADMIN_CHALLENGE_REQUEST, e.admin_challenge_request = &acq;
	one("admin_challenge_request", &e);
	static uint8_t nonce[LM_ADMIN_NONCE_LEN], sig[LM_WIRE_SIG_LEN], inner[64];
	Lm__AdminChallenge ac = LM__ADMIN_CHALLENGE__INIT;
	ac.has_nonce = 1, ac.nonce.data = nonce, ac.nonce.len = sizeof nonce;
	lm_envelope_init(&e, 12);
	e.body_case = LM__ENVELOPE__BODY_ADMIN_CHALLENGE, e.admin_challenge = &ac;
	one("reply-admin_challenge", &e);
	lm_envelope_init(&e, 13);
	e.body_case = LM__ENVELOPE__BODY_SHUTDOWN_REQUEST, e.shutdown_request = &sd;
	size_t inner_len = lm__envelope__pack(&e, inner);
	Lm__SignedAdminRequest sa = LM__SIGNED_ADMIN_REQUEST__INIT;
	sa.has_key_name = 1, sa.key_name = str("alice");
	sa.has_request = 1, sa.request.data = inner, sa.request.len = inner_len;
	sa.has_signature = 1, sa.signature.data = sig, sa.signature.len = sizeof sig;
	lm_envelope_init(&e, 13);
	e.body_case = LM__ENVELOPE__BODY_SIGNED_ADMIN_REQUEST, e.signed_admin_request = &sa;
	one("signed_admin_request", &e);

	/* A whole session on one connection, as liblmc sends it. */
	hello.has_pid = 1;
	lm_envelope_init(&e, 1);
	e.body_case = LM__ENVELOPE__BODY_HELLO, e.hello = &hello;
	add(&e);
	open.has_session_id = 0, open.has_secret = 0;
	lm_envelope_init(&e, 2);
	e.body_case = LM__ENVELOPE__BODY_SESSION_OPEN, e.session_open = &open;
	add(&e);
	co.has_wait_ms = 0, co.count = 2;
	lm_envelope_init(&e, 3);
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT, e.checkout = &co;
	add(&e);
	lm_envelope_init(&e, 4);
	e.body_case = LM__ENVELOPE__BODY_HEARTBEAT, e.heartbeat = &hb;
	add(&e);
	ci.handle = 1;
	lm_envelope_init(&e, 5);
	e.body_case = LM__ENVELOPE__BODY_CHECKIN, e.checkin = &ci;
	add(&e);
	lm_envelope_init(&e, 6);
	e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE, e.session_close = &sc;
	add(&e);
	flush("session");

	/* A header over LM_FRAME_MAX: refused before any payload. */
	stream[0] = 0, stream[1] = 1, stream[2] = 0, stream[3] = 1;
	stream_len = 4;
	flush("too-large-header");

	/* A Heartbeat within LM_FRAME_MAX that unpacks into more than the
	 * arena holds: each two-byte unknown field 3 costs protobuf-c a record
	 * and a scan entry, so lm_envelope_decode() refuses it with
	 * LMC_ETOOLARGE. */
	static const uint8_t head[] = {0x08, 0x01, 0x10, 0x0c, 0x92, 0x01, 0x00};
	/* Odd, so that two-byte fields fill it exactly after the head. */
	size_t n = LM_FRAME_MAX - 1;
	stream[0] = (uint8_t)(n >> 24), stream[1] = (uint8_t)(n >> 16);
	stream[2] = (uint8_t)(n >> 8), stream[3] = (uint8_t)n;
	memcpy(stream + LM_FRAME_HEADER, head, sizeof head);
	for (size_t i = sizeof head; i + 2 <= n; i += 2)
		stream[LM_FRAME_HEADER + i] = 0x18, stream[LM_FRAME_HEADER + i + 1] = 0x00;
	stream_len = LM_FRAME_HEADER + n;
	flush("too-large-unpacked");
}

static void replies(void)
{
	Lm__Envelope e;
	uint8_t sig[LM_WIRE_SIG_LEN];
	memset(sig, 0xa5, sizeof sig);

	Lm__ErrorReply er;
	lm_envelope_error(&e, &er, 3, -13, "all 25 seats of statistics 29.0 in use");
	er.leader = "27000@alpha";
	one("reply-error", &e);

	Lm__CheckoutReply cr = LM__CHECKOUT_REPLY__INIT;
	Lm__SignedLicense sl = LM__SIGNED_LICENSE__INIT;
	sl.has_text = 1, sl.text = str(lines[0]);
	sl.has_signature = 1, sl.signature = (ProtobufCBinaryData){sizeof sig, sig};
	cr.has_handle = 1, cr.handle = 1;
	cr.has_count = 1, cr.count = 2;
	cr.license = &sl;
	lm_envelope_init(&e, 3);
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT_REPLY, e.checkout_reply = &cr;
	one("reply-checkout", &e);

	uint64_t handles[] = {1, 2, 300000};
	Lm__HeartbeatReply hr = LM__HEARTBEAT_REPLY__INIT;
	hr.n_handles = 3, hr.handles = handles;
	lm_envelope_init(&e, 4);
	e.body_case = LM__ENVELOPE__BODY_HEARTBEAT_REPLY, e.heartbeat_reply = &hr;
	one("reply-heartbeat", &e);

	uint8_t digest[LM_WIRE_DIGEST_LEN];
	memset(digest, 0x3c, sizeof digest);
	Lm__ServerStatus srv = LM__SERVER_STATUS__INIT;
	srv.address = "27000@alpha";
	srv.has_role = 1, srv.role = LM__SERVER_ROLE__SERVER_ROLE_LEADER;
	srv.version = "lmd 0.1";
	srv.has_digest = 1, srv.digest = (ProtobufCBinaryData){sizeof digest, digest};
	Lm__ServerStatus *servers[] = {&srv};
	Lm__Holder h = LM__HOLDER__INIT;
	h.has_user = 1, h.user = str("alice");
	h.has_host = 1, h.host = str("build-01");
	h.has_count = 1, h.count = 2;
	h.has_handle = 1, h.handle = 1;
	h.has_version = 1, h.version = str("29.0");
	Lm__Holder *holders[] = {&h};
	Lm__FeatureStatus fs = LM__FEATURE_STATUS__INIT;
	fs.has_name = 1, fs.name = str("statistics");
	fs.has_version = 1, fs.version = str("29.0");
	fs.has_issued = 1, fs.issued = 25;
	fs.has_in_use = 1, fs.in_use = 2;
	fs.n_holders = 1, fs.holders = holders;
	Lm__FeatureStatus *features[] = {&fs};
	Lm__StatusReply sr = LM__STATUS_REPLY__INIT;
	sr.n_servers = 1, sr.servers = servers;
	sr.n_features = 1, sr.features = features;
	lm_envelope_init(&e, 7);
	e.body_case = LM__ENVELOPE__BODY_STATUS_REPLY, e.status_reply = &sr;
	one("reply-status", &e);
}

/* A raft entry, framed like a request so that the harness finds it. */
static void command(const char *name, const Lmcmd__Command *c)
{
	size_t n = lmcmd__command__get_packed_size(c);
	if (n > LM_FRAME_MAX) {
		fprintf(stderr, "gen_corpus_frame: a command seed does not fit\n");
		exit(1);
	}
	stream[0] = (uint8_t)(n >> 24), stream[1] = (uint8_t)(n >> 16);
	stream[2] = (uint8_t)(n >> 8), stream[3] = (uint8_t)n;
	lmcmd__command__pack(c, stream + LM_FRAME_HEADER);
	stream_len = LM_FRAME_HEADER + n;
	flush(name);
}

static void commands(void)
{
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	uint8_t sig[LM_WIRE_SIG_LEN], digest[32];
	memset(sig, 0xa5, sizeof sig);
	memset(digest, 0x3c, sizeof digest);
	c.has_time_us = 1, c.time_us = 1767225600000000; /* 2026-01-01 */

	Lmcmd__Line l0 = LMCMD__LINE__INIT, l1 = LMCMD__LINE__INIT;
	l0.has_text = 1, l0.text = str(lines[0]);
	l0.has_signature = 1, l0.signature = (ProtobufCBinaryData){sizeof sig, sig};
	l1.has_text = 1, l1.text = str(lines[1]);
	Lmcmd__Line *ls[] = {&l0, &l1};
	Lmcmd__SetLicense set = LMCMD__SET_LICENSE__INIT;
	set.n_lines = 2, set.lines = ls;
	c.body_case = LMCMD__COMMAND__BODY_SET_LICENSE, c.set_license = &set;
	command("cmd-set_license", &c);

	Lmcmd__OpenSession os = LMCMD__OPEN_SESSION__INIT;
	os.has_session_id = 1, os.session_id = 0x1122334455667788u;
	os.has_secret_digest = 1, os.secret_digest = (ProtobufCBinaryData){sizeof digest, digest};
	os.has_user = 1, os.user = str("alice");
	os.has_host = 1, os.host = str("build-01");
	os.has_pid = 1, os.pid = 4242;
	os.has_app_version = 1, os.app_version = str("29.0");
	c.body_case = LMCMD__COMMAND__BODY_OPEN_SESSION, c.open_session = &os;
	command("cmd-open_session", &c);

	Lmcmd__Checkout co = LMCMD__CHECKOUT__INIT;
	co.has_session_id = 1, co.session_id = 0x1122334455667788u;
	co.has_request_id = 1, co.request_id = 3;
	co.has_feature = 1, co.feature = str("statistics");
	co.has_version = 1, co.version = str("29.0");
	co.has_count = 1, co.count = 2;
	c.body_case = LMCMD__COMMAND__BODY_CHECKOUT, c.checkout = &co;
	command("cmd-checkout", &c);
	co.has_vendor_data = 1, co.vendor_data = str("job 7");
	command("cmd-checkout-vendor_data", &c);

	Lmcmd__Checkin ci = LMCMD__CHECKIN__INIT;
	ci.has_session_id = 1, ci.session_id = 0x1122334455667788u;
	ci.has_request_id = 1, ci.request_id = 5;
	ci.has_handle = 1, ci.handle = 1;
	c.body_case = LMCMD__COMMAND__BODY_CHECKIN, c.checkin = &ci;
	command("cmd-checkin", &c);

	Lmcmd__CloseSession cs = LMCMD__CLOSE_SESSION__INIT;
	cs.has_session_id = 1, cs.session_id = 0x1122334455667788u;
	cs.has_reason = 1, cs.reason = LMCMD__CLOSE_REASON__CLOSE_EXPIRED;
	c.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION, c.close_session = &cs;
	command("cmd-close_session", &c);

	Lmcmd__RemoveHandle rh = LMCMD__REMOVE_HANDLE__INIT;
	rh.has_handle = 1, rh.handle = 1;
	c.body_case = LMCMD__COMMAND__BODY_REMOVE_HANDLE, c.remove_handle = &rh;
	command("cmd-remove_handle", &c);

	Lmcmd__AdminAction aa = LMCMD__ADMIN_ACTION__INIT;
	aa.who = "key=alice", aa.address = "10.0.0.5:41234", aa.action = "lmreread";
	aa.detail = "", aa.has_accepted = 1, aa.accepted = 1;
	c.body_case = LMCMD__COMMAND__BODY_ADMIN_ACTION, c.admin_action = &aa;
	command("cmd-admin_action", &c);

	Lmcmd__LeaderChange lc = LMCMD__LEADER_CHANGE__INIT;
	lc.has_raft_id = lc.has_node = lc.has_term = 1;
	lc.raft_id = 4, lc.node = 1, lc.term = 7, lc.address = "27000@alpha";
	c.body_case = LMCMD__COMMAND__BODY_LEADER_CHANGE, c.leader_change = &lc;
	command("cmd-leader_change", &c);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus_frame DIR\n");
		return 2;
	}
	dir = argv[1];
	requests();
	replies();
	commands();
	return 0;
}
