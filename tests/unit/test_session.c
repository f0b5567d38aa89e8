#include "config.h"
/* The session thread of liblmc against a small fake lmd that speaks the
 * real wire protocol on loopback: checkouts are verified against the
 * vendor key, a dropped connection is resumed and the request in flight
 * re-sent with its request id, a follower's redirect is followed, an
 * expired session or an administrator's removal is reported through the
 * lost and regained callbacks, and the lease rule holds: seats nobody
 * confirmed within the lease are reported lost, and regained only when a
 * server lists them again or grants them anew. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/lmc.h"
#include "client/session.h"
#include "client/source.h"
#include "core/key.h"
#include "core/license.h"
#include "core/lockcode.h"
#include "proto/arena.h"
#include "proto/frame.h"
#include "proto/frame_conn.h"
#include "tests/unit/helpers.h"
#include "vendor/sign.h"

/* Every wait in this file is bounded by this. */
#define WAIT_MS 5000

/* ---- The vendor and its signed lines ---- */

struct signed_line {
	char text[LM_LINE_MAX + 1];
	uint8_t sig[LM_SIG_LEN];
};

static struct {
	char *dir;
	char pub_path[4096];
	EVP_PKEY *priv, *pub;
	struct signed_line stats; /* FEATURE stats acme 29.0 */
	struct signed_line other; /* FEATURE other acme 29.0 */
} vendor;

static void sign_line(const char *feature, struct signed_line *out)
{
	struct lm_lockcode code = {.present = 1u << LM_CRIT_MACHINE_ID, .digest = {777}};
	char code_text[LM_LOCKCODE_TEXT_MAX], text[512];
	assert_int_equal(lm_lockcode_format(&code, code_text, sizeof code_text), 0);
	snprintf(text, sizeof text, "SERVER lic1 %s 27000\nFEATURE %s acme 29.0 permanent 10\n",
	         code_text, feature);
	struct lm_license_file f;
	struct lm_parse_error err;
	if (lm_license_parse(text, strlen(text), &f, &err) != 0)
		fail_msg("line %d: %s", err.lineno, err.message);
	int n = lm_license_canonical(&f, &f.lines[0], out->text, sizeof out->text);
	assert_true(n > 0);
	assert_int_equal(lm_sig_sign(vendor.priv, out->text, (size_t)n, out->sig), 0);
	lm_license_free(&f);
}

static int group_setup(void **state)
{
	char err[256], priv_path[4096];
	vendor.dir = th_tempdir();
	snprintf(priv_path, sizeof priv_path, "%s", th_path(vendor.dir, "vendor.pem"));
	snprintf(vendor.pub_path, sizeof vendor.pub_path, "%s", th_path(vendor.dir, "vendor.pub"));
	assert_int_equal(lm_key_generate(priv_path, vendor.pub_path, err, sizeof err), 0);
	assert_int_equal(lm_key_load_private(priv_path, &vendor.priv, err, sizeof err), 0);
	assert_int_equal(lm_key_load_public(vendor.pub_path, &vendor.pub, err, sizeof err), 0);
	sign_line("stats", &vendor.stats);
	sign_line("other", &vendor.other);
	return 0;
}

static int group_teardown(void **state)
{
	EVP_PKEY_free(vendor.priv);
	EVP_PKEY_free(vendor.pub);
	th_rmtree(vendor.dir);
	free(vendor.dir);
	return 0;
}

/* ---- A fake lmd: one client connection at a time, one session ---- */

#define FAKE_MAX 64

struct fake {
	int listen_fd;
	uint16_t port;
	char name[64]; /* "port@127.0.0.1" */
	int stop[2];
	pthread_t thread;
	pthread_mutex_t lock;

	/* Behaviour, set by the test under lock. */
	const char *leader;       /* answer Hello with LMC_ENOTLEADER naming it */
	bool forge;               /* grant with a signature that does not verify */
	bool wrong_feature;       /* grant under the line of another feature */
	bool drop_after_grant;    /* once: commit a checkout, hang up unanswered */
	bool expire_on_resume;    /* once: the session is forgotten on resume */
	bool remove_on_heartbeat; /* once: an administrator removes every seat */
	bool kick;                /* hang up on the client now */
	int kick_code;            /* saying why first with this ErrorReply */
	int noquorum;             /* answer this many checkouts LMC_ENOQUORUM */
	bool noquorum_open;       /* answer every SessionOpen LMC_ENOQUORUM */
	uint32_t grace_ms;        /* announced in SessionReply when non-zero */
	uint32_t timeout_ms;      /* announced; 0: ten heartbeats */
	uint32_t lease_ms;        /* announced when non-zero */
	uint32_t linger_ms;       /* announced when non-zero */
	bool silent;              /* read every frame, answer none */
	unsigned capacity;        /* seats in the pool */
	uint32_t heartbeat_ms;

	/* The session and its seats. */
	bool has_session;
	uint64_t session_id;
	uint8_t secret[LM_SESSION_SECRET_LEN];
	uint64_t handles[FAKE_MAX];
	unsigned counts[FAKE_MAX];
	size_t nhandles;
	uint64_t next_handle;
	uint64_t next_session;
	/* What the server deduplicates: the last request and its answer. */
	uint64_t last_rid;
	int last_code;
	uint64_t last_handle;
	unsigned last_count;

	/* What was seen, for the assertions. */
	int hellos, opened, resumed, expired, closes, heartbeats, grants;
	int bad_frames; /* frames from the client that did not decode */
	uint64_t checkout_rids[FAKE_MAX];
	int ncheckouts;
	uint64_t checkin_handles[FAKE_MAX];
	int ncheckins;
};

/* The fake runs on its own thread, where cmocka's assertions cannot be
 * used: what goes wrong there is counted and checked by the test. */
static void fake_send(int fd, const Lm__Envelope *e)
{
	uint8_t buf[16384];
	size_t len;
	if (lm_frame_pack(e, buf, sizeof buf, &len) != 0)
		abort(); /* a bug in this file */
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return; /* the client went away: its problem */
		off += (size_t)n;
	}
}

static void fake_error(int fd, uint64_t rid, int code, const char *leader)
{
	Lm__Envelope e;
	Lm__ErrorReply r;
	lm_envelope_error(&e, &r, rid, code, lmc_strerror(code));
	r.leader = (char *)leader;
	fake_send(fd, &e);
}

static unsigned fake_in_use(const struct fake *f)
{
	unsigned n = 0;
	for (size_t i = 0; i < f->nhandles; i++)
		n += f->counts[i];
	return n;
}

static void fake_checkout_reply(struct fake *f, int fd, uint64_t rid)
{
	if (f->last_code) {
		fake_error(fd, rid, f->last_code, NULL);
		return;
	}
	const struct signed_line *line = f->wrong_feature ? &vendor.other : &vendor.stats;
	uint8_t sig[LM_SIG_LEN];
	memcpy(sig, line->sig, sizeof sig);
	if (f->forge)
		sig[7] ^= 0x40;
	Lm__Envelope e;
	Lm__CheckoutReply r;
	Lm__SignedLicense l;
	lm_envelope_init(&e, rid);
	lm__checkout_reply__init(&r);
	lm__signed_license__init(&l);
	l.has_text = 1;
	l.text = lm_bytes_from_cstr(line->text);
	l.has_signature = 1;
	l.signature.len = LM_SIG_LEN;
	l.signature.data = sig;
	r.has_handle = 1;
	r.handle = f->last_handle;
	r.has_count = 1;
	r.count = f->last_count;
	r.license = &l;
	e.body_case = LM__ENVELOPE__BODY_CHECKOUT_REPLY;
	e.checkout_reply = &r;
	fake_send(fd, &e);
}

static void fake_forget_session(struct fake *f)
{
	f->has_session = false;
	f->nhandles = 0;
	f->last_rid = 0;
}

/* Answers one request; returns false to hang up. */
static bool fake_handle(struct fake *f, int fd, const Lm__Envelope *req)
{
	uint64_t rid = req->request_id;
	Lm__Envelope e;
	lm_envelope_init(&e, rid);
	switch (req->body_case) {
	case LM__ENVELOPE__BODY_HELLO: {
		f->hellos++;
		if (f->leader) {
			fake_error(fd, rid, LMC_ENOTLEADER, f->leader);
			return true;
		}
		Lm__HelloReply r;
		lm__hello_reply__init(&r);
		r.server_version = "fake lmd";
		e.body_case = LM__ENVELOPE__BODY_HELLO_REPLY;
		e.hello_reply = &r;
		fake_send(fd, &e);
		return true;
	}
	case LM__ENVELOPE__BODY_SESSION_OPEN: {
		const Lm__SessionOpen *o = req->session_open;
		Lm__SessionReply r;
		lm__session_reply__init(&r);
		if (f->noquorum_open) {
			/* A triad server left alone: it can neither open nor
			 * resume anything. */
			fake_error(fd, rid, LMC_ENOQUORUM, NULL);
			return true;
		}
		if (o->has_session_id) {
			bool known = f->has_session && o->session_id == f->session_id &&
			             memcmp(o->secret.data, f->secret, LM_SESSION_SECRET_LEN) == 0;
			if (!known || f->expire_on_resume) {
				f->expire_on_resume = false;
				f->expired++;
				fake_forget_session(f);
				fake_error(fd, rid, LMC_ENOSESSION, NULL);
				return true;
			}
			f->resumed++;
			r.has_resumed = 1;
			r.resumed = 1;
		} else {
			f->opened++;
			fake_forget_session(f);
			f->has_session = true;
			f->session_id = ++f->next_session;
			for (int i = 0; i < LM_SESSION_SECRET_LEN; i++)
				f->secret[i] = (uint8_t)(rand() & 0xff);
		}
		r.has_session_id = 1;
		r.session_id = f->session_id;
		r.has_secret = 1;
		r.secret.len = LM_SESSION_SECRET_LEN;
		r.secret.data = f->secret;
		r.has_heartbeat_ms = 1;
		r.heartbeat_ms = f->heartbeat_ms;
		r.has_timeout_ms = 1;
		r.timeout_ms = f->timeout_ms ? f->timeout_ms : 10 * f->heartbeat_ms;
		r.has_grace_ms = f->grace_ms != 0;
		r.grace_ms = f->grace_ms;
		r.has_lease_ms = f->lease_ms != 0;
		r.lease_ms = f->lease_ms;
		r.has_linger_ms = f->linger_ms != 0;
		r.linger_ms = f->linger_ms;
		e.body_case = LM__ENVELOPE__BODY_SESSION_REPLY;
		e.session_reply = &r;
		fake_send(fd, &e);
		return true;
	}
	case LM__ENVELOPE__BODY_CHECKOUT: {
		if (f->ncheckouts < FAKE_MAX)
			f->checkout_rids[f->ncheckouts++] = rid;
		if (f->noquorum > 0) {
			/* Nothing committed: the same request id may come back. */
			f->noquorum--;
			fake_error(fd, rid, LMC_ENOQUORUM, NULL);
			return true;
		}
		if (rid != f->last_rid) {
			/* A new request: decide once, remember the answer. */
			unsigned count = req->checkout->count;
			f->last_rid = rid;
			f->last_code = 0;
			if (fake_in_use(f) + count > f->capacity || f->nhandles == FAKE_MAX) {
				f->last_code = LMC_ENOSEATS;
			} else {
				f->handles[f->nhandles] = f->last_handle = f->next_handle++;
				f->counts[f->nhandles++] = f->last_count = count;
				f->grants++;
			}
			if (f->drop_after_grant && f->last_code == 0) {
				f->drop_after_grant = false;
				return false;
			}
		}
		fake_checkout_reply(f, fd, rid);
		return true;
	}
	case LM__ENVELOPE__BODY_CHECKIN: {
		uint64_t h = req->checkin->handle;
		if (f->ncheckins < FAKE_MAX)
			f->checkin_handles[f->ncheckins++] = h;
		size_t i = 0;
		while (i < f->nhandles && f->handles[i] != h)
			i++;
		if (i == f->nhandles && rid != f->last_rid) {
			fake_error(fd, rid, LMC_ENOHANDLE, NULL);
			return true;
		}
		if (i < f->nhandles) {
			f->handles[i] = f->handles[--f->nhandles];
			f->counts[i] = f->counts[f->nhandles];
		}
		f->last_rid = rid;
		Lm__CheckinReply r;
		lm__checkin_reply__init(&r);
		r.has_handle = 1;
		r.handle = h;
		e.body_case = LM__ENVELOPE__BODY_CHECKIN_REPLY;
		e.checkin_reply = &r;
		fake_send(fd, &e);
		return true;
	}
	case LM__ENVELOPE__BODY_HEARTBEAT: {
		f->heartbeats++;
		if (f->remove_on_heartbeat) {
			f->remove_on_heartbeat = false;
			f->nhandles = 0;
		}
		Lm__HeartbeatReply r;
		lm__heartbeat_reply__init(&r);
		r.n_handles = f->nhandles;
		r.handles = f->handles;
		e.body_case = LM__ENVELOPE__BODY_HEARTBEAT_REPLY;
		e.heartbeat_reply = &r;
		fake_send(fd, &e);
		return true;
	}
	case LM__ENVELOPE__BODY_SESSION_CLOSE: {
		f->closes++;
		Lm__SessionCloseReply r;
		lm__session_close_reply__init(&r);
		r.has_seats = 1;
		r.seats = fake_in_use(f);
		fake_forget_session(f);
		e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY;
		e.session_close_reply = &r;
		fake_send(fd, &e);
		return true;
	}
	default: fake_error(fd, rid, LMC_EPROTO, NULL); return false;
	}
}

/* Serves one connection until the client hangs up, the test kicks it or
 * the fake stops.  Returns false when stopping. */
static bool fake_serve(struct fake *f, int fd)
{
	size_t arena_size = LM_ARENA_SIZE(LM_FRAME_MAX);
	void *arena_block = malloc(arena_size);
	struct lm_arena arena;
	struct lm_frame_reader reader;
	if (!arena_block || lm_frame_reader_init(&reader, NULL, LM_FRAME_BUFSIZE(LM_FRAME_MAX)))
		abort();
	lm_arena_init(&arena, arena_block, arena_size);
	bool running = true;
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
		                      {.fd = f->stop[0], .events = POLLIN}};
		poll(p, 2, 10);
		if (p[1].revents) {
			running = false;
			break;
		}
		pthread_mutex_lock(&f->lock);
		bool kick = f->kick;
		f->kick = false;
		if (kick && f->kick_code)
			fake_error(fd, 0, f->kick_code, NULL);
		f->kick_code = 0;
		pthread_mutex_unlock(&f->lock);
		if (kick)
			break;
		if (!p[0].revents)
			continue;
		uint8_t *space;
		size_t room;
		lm_frame_reader_space(&reader, &space, &room);
		ssize_t n = recv(fd, space, room, 0);
		if (n <= 0)
			break;
		lm_frame_reader_commit(&reader, (size_t)n);
		const uint8_t *payload;
		size_t len;
		bool open = true;
		while (open && lm_frame_reader_next(&reader, &payload, &len) == 1) {
			Lm__Envelope *req;
			char why[200];
			lm_arena_reset(&arena);
			pthread_mutex_lock(&f->lock);
			if (lm_envelope_decode(payload, len, &arena, &req, why, sizeof why) != 0) {
				f->bad_frames++;
				open = false;
			} else if (!f->silent) {
				open = fake_handle(f, fd, req);
			}
			pthread_mutex_unlock(&f->lock);
		}
		if (!open)
			break;
	}
	lm_frame_reader_close(&reader);
	free(arena_block);
	return running;
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = f->listen_fd, .events = POLLIN},
		                      {.fd = f->stop[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		int fd = accept(f->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		bool running = fake_serve(f, fd);
		close(fd);
		if (!running)
			break;
	}
	return NULL;
}

static struct fake *fake_start(void)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->capacity = 10;
	f->heartbeat_ms = 200;
	f->next_handle = 1;
	pthread_mutex_init(&f->lock, NULL);
	assert_int_equal(pipe(f->stop), 0);
	f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->listen_fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(f->listen_fd, 8), 0);
	socklen_t len = sizeof sin;
	assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	snprintf(f->name, sizeof f->name, "%u@127.0.0.1", (unsigned)f->port);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
	return f;
}

static void fake_stop(struct fake *f)
{
	assert_int_equal(write(f->stop[1], "x", 1), 1);
	pthread_join(f->thread, NULL);
	assert_int_equal(f->bad_frames, 0);
	close(f->listen_fd);
	close(f->stop[0]);
	close(f->stop[1]);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Reads a field of the fake under its lock. */
#define FAKE(f, expr)                                                                              \
	({                                                                                         \
		pthread_mutex_lock(&(f)->lock);                                                    \
		__typeof__(expr) v_ = (expr);                                                      \
		pthread_mutex_unlock(&(f)->lock);                                                  \
		v_;                                                                                \
	})

#define FAKE_SET(f, stmt)                                                                          \
	do {                                                                                       \
		pthread_mutex_lock(&(f)->lock);                                                    \
		stmt;                                                                              \
		pthread_mutex_unlock(&(f)->lock);                                                  \
	} while (0)

static int64_t now_ms(void)
{
	return lm_clock_ms();
}

/* Polls cond until it holds, failing the test after WAIT_MS. */
#define WAIT_UNTIL(cond)                                                                           \
	do {                                                                                       \
		int64_t until_ = now_ms() + WAIT_MS;                                               \
		while (!(cond)) {                                                                  \
			if (now_ms() > until_)                                                     \
				fail_msg("timed out waiting for %s", #cond);                       \
			usleep(5000);                                                              \
		}                                                                                  \
	} while (0)

/* ---- Callbacks, recorded ---- */

struct event_log {
	pthread_mutex_t lock;
	int n;
	struct {
		bool lost;
		uint64_t handle;
		char feature[LM_NAME_MAX + 1];
		int code;
		char message[320];
	} ev[32];
};

static void log_lost(void *arg, uint64_t handle, const char *feature, int code, const char *message)
{
	struct event_log *l = arg;
	pthread_mutex_lock(&l->lock);
	if (l->n < 32) {
		l->ev[l->n].lost = true;
		l->ev[l->n].handle = handle;
		snprintf(l->ev[l->n].feature, sizeof l->ev[l->n].feature, "%s", feature);
		l->ev[l->n].code = code;
		snprintf(l->ev[l->n].message, sizeof l->ev[l->n].message, "%s", message);
		l->n++;
	}
	pthread_mutex_unlock(&l->lock);
}

static void log_regained(void *arg, uint64_t handle, const char *feature)
{
	struct event_log *l = arg;
	pthread_mutex_lock(&l->lock);
	if (l->n < 32) {
		l->ev[l->n].lost = false;
		l->ev[l->n].handle = handle;
		snprintf(l->ev[l->n].feature, sizeof l->ev[l->n].feature, "%s", feature);
		l->ev[l->n].code = 0;
		l->ev[l->n].message[0] = '\0';
		l->n++;
	}
	pthread_mutex_unlock(&l->lock);
}

static int log_count(struct event_log *l)
{
	pthread_mutex_lock(&l->lock);
	int n = l->n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* ---- Sessions under test ---- */

static struct lm_session *start_session(const struct fake *const *servers, size_t n,
                                        struct event_log *log, unsigned heartbeat_ms)
{
	struct lm_address addrs[4];
	for (size_t i = 0; i < n; i++)
		assert_int_equal(lm_address_parse(servers[i]->name, &addrs[i], NULL, 0), 0);
	struct lm_session_config cfg;
	lm_session_config_init(&cfg);
	cfg.servers = addrs;
	cfg.nservers = n;
	cfg.vendor_key = vendor.pub;
	cfg.app_version = "29.0.1";
	cfg.heartbeat_ms = heartbeat_ms;
	cfg.connect_timeout_ms = 500;
	cfg.io_timeout_ms = 1000;
	cfg.backoff_min_ms = 20;
	cfg.backoff_max_ms = 100;
	cfg.close_timeout_ms = 1000;
	cfg.checkin_wait_ms = 2000;
	if (log) {
		pthread_mutex_init(&log->lock, NULL);
		cfg.on_lost = log_lost;
		cfg.on_regained = log_regained;
		cfg.cb_arg = log;
	}
	struct lm_session *s;
	assert_int_equal(lm_session_start(&s, &cfg), 0);
	return s;
}

static void checkout_returns_a_handle_and_close_returns_the_seats(void **state)
{
	struct fake *a = fake_start();
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, NULL, 0);
	uint64_t h1, h2;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 2, NULL, 0, &h1, msg, sizeof msg),
	                 0);
	assert_int_equal(lm_session_checkout(s, "stats", NULL, 1, NULL, 0, &h2, msg, sizeof msg),
	                 0);
	assert_int_not_equal(h1, h2);
	assert_int_equal(FAKE(a, a->grants), 2);
	assert_int_equal(FAKE(a, fake_in_use(a)), 3);
	/* Request ids grow within the session. */
	assert_true(FAKE(a, a->checkout_rids[1] > a->checkout_rids[0]));
	char server[64];
	lm_session_server(s, server, sizeof server);
	assert_string_equal(server, a->name);

	assert_int_equal(lm_session_checkin(s, h1, msg, sizeof msg), 0);
	assert_int_equal(FAKE(a, a->checkin_handles[0]), h1);
	assert_int_equal(lm_session_checkin(s, h1, msg, sizeof msg), LMC_ENOHANDLE);

	/* A refusal comes back with the server's code. */
	uint64_t h3;
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 10, NULL, 0, &h3, msg, sizeof msg),
	                 LMC_ENOSEATS);

	lm_session_stop(s);
	assert_int_equal(FAKE(a, a->closes), 1);
	assert_int_equal(FAKE(a, a->opened), 1);
	fake_stop(a);
}

static void a_grant_the_vendor_did_not_sign_is_refused(void **state)
{
	struct fake *a = fake_start();
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, NULL, 0);
	uint64_t h;
	char msg[512];

	FAKE_SET(a, a->forge = true);
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 LMC_EBADSIG);
	assert_non_null(strstr(msg, "did not sign"));
	/* The seats granted under the bad line go back to the pool. */
	WAIT_UNTIL(FAKE(a, a->ncheckins) == 1);
	assert_int_equal(FAKE(a, fake_in_use(a)), 0);

	FAKE_SET(a, a->forge = false; a->wrong_feature = true);
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 LMC_EBADSIG);
	assert_non_null(strstr(msg, "for other"));
	WAIT_UNTIL(FAKE(a, a->ncheckins) == 2);

	/* A line older than the version asked for proves nothing either. */
	FAKE_SET(a, a->wrong_feature = false);
	assert_int_equal(lm_session_checkout(s, "stats", "30", 1, NULL, 0, &h, msg, sizeof msg),
	                 LMC_EBADSIG);
	WAIT_UNTIL(FAKE(a, a->ncheckins) == 3);
	assert_int_equal(lm_session_checkout(s, "stats", "28.1", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	lm_session_stop(s);
	fake_stop(a);
}

static void a_dropped_connection_is_resumed_and_the_request_resent(void **state)
{
	struct fake *a = fake_start();
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, NULL, 0);
	uint64_t h0, h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h0, msg, sizeof msg),
	                 0);

	/* The server commits the checkout and the connection breaks before
	 * the answer: the client resumes and asks again with the same id. */
	FAKE_SET(a, a->drop_after_grant = true);
	assert_int_equal(
	        lm_session_checkout(s, "stats", "29.0", 2, NULL, WAIT_MS, &h, msg, sizeof msg), 0);
	assert_int_equal(FAKE(a, a->resumed), 1);
	assert_int_equal(FAKE(a, a->opened), 1);
	assert_int_equal(FAKE(a, a->ncheckouts), 3);
	assert_int_equal(FAKE(a, a->checkout_rids[1]), FAKE(a, a->checkout_rids[2]));
	/* Granted once, not twice. */
	assert_int_equal(FAKE(a, a->grants), 2);
	assert_int_equal(FAKE(a, fake_in_use(a)), 3);
	assert_int_equal(h, FAKE(a, a->handles[1]));

	/* A broken idle connection is resumed too; the seats stay held. */
	FAKE_SET(a, a->kick = true);
	WAIT_UNTIL(FAKE(a, a->resumed) == 2);
	assert_int_equal(lm_session_checkin(s, h0, msg, sizeof msg), 0);
	assert_int_equal(lm_session_checkin(s, h, msg, sizeof msg), 0);
	assert_int_equal(FAKE(a, fake_in_use(a)), 0);
	lm_session_stop(s);
	fake_stop(a);
}

static void a_follower_redirects_to_the_leader(void **state)
{
	struct fake *leader = fake_start();
	struct fake *follower = fake_start();
	FAKE_SET(follower, follower->leader = leader->name);
	struct lm_session *s = start_session((const struct fake *[]){follower}, 1, NULL, 0);
	uint64_t h;
	char msg[512], server[64];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	assert_true(FAKE(follower, follower->hellos) >= 1);
	assert_int_equal(FAKE(follower, follower->grants), 0);
	assert_int_equal(FAKE(leader, leader->grants), 1);
	lm_session_server(s, server, sizeof server);
	assert_string_equal(server, leader->name);
	lm_session_stop(s);
	assert_int_equal(FAKE(leader, leader->closes), 1);
	fake_stop(follower);
	fake_stop(leader);
}

static void the_next_server_is_tried_when_the_first_is_down(void **state)
{
	/* A port with nobody listening: connection refused. */
	struct fake *dead = fake_start();
	struct fake *alive = fake_start();
	struct fake probe = *dead;
	fake_stop(dead);
	struct lm_session *s = start_session((const struct fake *[]){&probe, alive}, 2, NULL, 0);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	assert_int_equal(FAKE(alive, alive->grants), 1);
	lm_session_stop(s);
	fake_stop(alive);
}

static void with_no_server_one_try_fails_fast_and_a_timeout_waits(void **state)
{
	struct fake *dead = fake_start();
	struct fake probe = *dead;
	fake_stop(dead);
	struct lm_session *s = start_session((const struct fake *[]){&probe}, 1, NULL, 0);
	uint64_t h;
	char msg[512];
	int64_t t0 = now_ms();
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 LMC_ENOSERVER);
	assert_non_null(strstr(msg, probe.name));
	assert_true(now_ms() - t0 < WAIT_MS);
	t0 = now_ms();
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 300, &h, msg, sizeof msg),
	                 LMC_ENOSERVER);
	assert_true(now_ms() - t0 >= 300);
	assert_true(now_ms() - t0 < WAIT_MS);
	/* Nothing to close: stopping is immediate. */
	lm_session_stop(s);
}

static void an_expired_session_regains_its_seats(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 0);
	uint64_t h1, h2;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h1, msg, sizeof msg),
	                 0);
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h2, msg, sizeof msg),
	                 0);

	/* The server forgot the session while we were away, and only one
	 * seat is left in the pool when we come back: both seats are lost,
	 * and one of them is regained. */
	FAKE_SET(a, a->expire_on_resume = true; a->capacity = 1; a->kick = true);
	WAIT_UNTIL(log_count(&log) == 3);
	WAIT_UNTIL(FAKE(a, a->ncheckouts) == 4);
	assert_int_equal(FAKE(a, a->expired), 1);
	assert_int_equal(FAKE(a, a->opened), 2);
	assert_int_equal(FAKE(a, a->grants), 3);
	assert_true(log.ev[0].lost && log.ev[1].lost);
	assert_int_equal(log.ev[0].code, LMC_ENOSESSION);
	assert_int_equal(log.ev[1].code, LMC_ENOSESSION);
	assert_non_null(strstr(log.ev[0].message, "no longer knows the session"));
	assert_false(log.ev[2].lost);
	uint64_t kept = log.ev[2].handle;
	uint64_t gone = kept == h1 ? h2 : h1;
	assert_true(kept == h1 || kept == h2);
	assert_string_equal(log.ev[0].feature, "stats");
	/* The seat refused is not reported twice. */
	usleep(100 * 1000);
	assert_int_equal(log_count(&log), 3);

	/* The application's handle is still valid: it checks in the seat
	 * under the server's new handle. */
	uint64_t renewed = FAKE(a, a->handles[0]);
	assert_int_not_equal(renewed, kept);
	assert_int_equal(lm_session_checkin(s, kept, msg, sizeof msg), 0);
	assert_int_equal(FAKE(a, a->checkin_handles[a->ncheckins - 1]), renewed);
	/* A lost seat is checked in at once, without the server. */
	int checkins = FAKE(a, a->ncheckins);
	assert_int_equal(lm_session_checkin(s, gone, msg, sizeof msg), 0);
	assert_int_equal(FAKE(a, a->ncheckins), checkins);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

static void a_seat_removed_by_the_administrator_is_lost_then_regained(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 30);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	WAIT_UNTIL(FAKE(a, a->heartbeats) >= 2);
	assert_int_equal(log_count(&log), 0);

	FAKE_SET(a, a->remove_on_heartbeat = true);
	WAIT_UNTIL(log_count(&log) == 2);
	assert_true(log.ev[0].lost);
	assert_int_equal(log.ev[0].handle, h);
	assert_int_equal(log.ev[0].code, LMC_ENOHANDLE);
	assert_false(log.ev[1].lost);
	assert_int_equal(log.ev[1].handle, h);
	assert_int_equal(FAKE(a, a->grants), 2);
	assert_int_equal(FAKE(a, a->opened), 1);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

static void without_quorum_a_checkout_is_retried_with_its_request_id(void **state)
{
	struct fake *a = fake_start();
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, NULL, 0);
	uint64_t h;
	char msg[512];
	FAKE_SET(a, a->noquorum = 3);
	assert_int_equal(
	        lm_session_checkout(s, "stats", "29.0", 1, NULL, WAIT_MS, &h, msg, sizeof msg), 0);
	assert_int_equal(FAKE(a, a->ncheckouts), 4);
	for (int i = 1; i < 4; i++)
		assert_int_equal(FAKE(a, a->checkout_rids[i]), FAKE(a, a->checkout_rids[0]));
	assert_int_equal(FAKE(a, a->grants), 1);

	/* One try reports the lost quorum at once; the request stays with the
	 * session, and seats granted after the caller left go back. */
	FAKE_SET(a, a->noquorum = 1);
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 LMC_ENOQUORUM);
	WAIT_UNTIL(FAKE(a, a->grants) == 2);
	WAIT_UNTIL(FAKE(a, a->ncheckins) == 1);
	assert_int_equal(FAKE(a, fake_in_use(a)), 1);
	lm_session_stop(s);
	fake_stop(a);
}

/* A triad without quorum can confirm nothing, and expire nothing either: the
 * application keeps its seats and hears nothing for the grace period the
 * server announced, here shorter than the lease; past it the seats are
 * reported lost, and regained when a leader lists them again, without a
 * new checkout. */
static void without_quorum_seats_are_kept_for_the_grace_period(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	FAKE_SET(a, a->grace_ms = 1500; a->timeout_ms = 60000; a->lease_ms = 50000);
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 50);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);

	FAKE_SET(a, a->noquorum_open = true; a->kick = true);
	WAIT_UNTIL(FAKE(a, a->hellos) >= 3); /* retrying */
	int64_t t0 = now_ms();
	usleep(700 * 1000);
	assert_int_equal(log_count(&log), 0);
	WAIT_UNTIL(log_count(&log) == 1);
	/* The last confirmation came before the kick. */
	assert_true(now_ms() - t0 >= 700);
	assert_true(log.ev[0].lost);
	assert_int_equal(log.ev[0].handle, h);
	assert_int_equal(log.ev[0].code, LMC_ENOQUORUM);
	assert_non_null(strstr(log.ev[0].message, "grace period"));

	FAKE_SET(a, a->noquorum_open = false);
	WAIT_UNTIL(log_count(&log) == 2);
	assert_false(log.ev[1].lost);
	assert_int_equal(log.ev[1].handle, h);
	/* Resumed, not checked out again. */
	assert_int_equal(FAKE(a, a->grants), 1);
	assert_int_equal(FAKE(a, a->opened), 1);
	assert_true(FAKE(a, a->resumed) >= 1);
	/* And quiet from then on. */
	WAIT_UNTIL(FAKE(a, a->heartbeats) >= 4);
	assert_int_equal(log_count(&log), 2);
	assert_int_equal(lm_session_checkin(s, h, msg, sizeof msg), 0);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

/* The lease rule: the seats are believed held until the send time of the
 * last request a server answered plus the lease, however long the grace
 * period, because the pool may expire the session soon after.  A server
 * that turns silent (a frozen proxy, a partition) costs the seats at once
 * the lease runs out; when it answers again and lists them, they are
 * regained. */
static void past_the_lease_seats_are_lost_whatever_the_grace(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	FAKE_SET(a, a->grace_ms = 60000; a->timeout_ms = 2000; a->lease_ms = 600);
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 0);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	WAIT_UNTIL(FAKE(a, a->heartbeats) >= 3);
	assert_int_equal(log_count(&log), 0);

	FAKE_SET(a, a->silent = true);
	WAIT_UNTIL(log_count(&log) == 1);
	assert_true(log.ev[0].lost);
	assert_int_equal(log.ev[0].handle, h);
	assert_int_equal(log.ev[0].code, LMC_ENOSERVER);
	assert_non_null(strstr(log.ev[0].message, "lease (600 ms)"));

	/* The server kept the session: resumed and listed, it is regained. */
	FAKE_SET(a, a->silent = false);
	WAIT_UNTIL(log_count(&log) == 2);
	assert_false(log.ev[1].lost);
	assert_int_equal(log.ev[1].handle, h);
	assert_int_equal(FAKE(a, a->opened), 1);
	assert_int_equal(FAKE(a, a->grants), 1);
	assert_int_equal(lm_session_checkin(s, h, msg, sizeof msg), 0);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

/* After the lease ran out the pool gave the seat to another client: coming
 * back, the session is unknown and the seat taken.  Nothing more is
 * reported (lost was), and certainly not regained. */
static void a_seat_given_away_past_the_lease_is_not_regained(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	FAKE_SET(a, a->grace_ms = 60000; a->timeout_ms = 2000; a->lease_ms = 600);
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 0);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	FAKE_SET(a, a->silent = true);
	WAIT_UNTIL(log_count(&log) == 1);
	assert_true(log.ev[0].lost);

	/* Expired, and the only seat is someone else's now. */
	FAKE_SET(a, fake_forget_session(a); a->capacity = 0; a->silent = false);
	WAIT_UNTIL(FAKE(a, a->ncheckouts) == 2); /* the attempt to get it back */
	assert_int_equal(FAKE(a, a->opened), 2);
	assert_int_equal(FAKE(a, a->grants), 1);
	usleep(200 * 1000);
	assert_int_equal(log_count(&log), 1);
	/* The lost handle is checked in at once. */
	assert_int_equal(lm_session_checkin(s, h, msg, sizeof msg), 0);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

/* A connection that ends without a word from the server (we gave up on an
 * answer, or a proxy closed both sides) looks to the server like the death
 * of the process: it returns the seats after its reclaim delay unless the
 * session is resumed.  The seats are then believed for at most linger_ms
 * (here 300 ms), long before the 15 s lease runs out. */
static void a_connection_ended_unannounced_leaves_the_linger(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	FAKE_SET(a, a->grace_ms = 60000; a->timeout_ms = 20000; a->lease_ms = 15000;
	         a->linger_ms = 300);
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 100);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	WAIT_UNTIL(FAKE(a, a->heartbeats) >= 2);

	/* The heartbeat goes unanswered for io_timeout_ms (1 s): the session
	 * ends the connection, and the seat is lost 300 ms later. */
	FAKE_SET(a, a->silent = true);
	WAIT_UNTIL(log_count(&log) == 1);
	assert_true(log.ev[0].lost);
	assert_int_equal(log.ev[0].code, LMC_ENOSERVER);
	FAKE_SET(a, a->silent = false);
	WAIT_UNTIL(log_count(&log) == 2);
	assert_false(log.ev[1].lost);

	/* The server's side ends, unannounced, and the session cannot be
	 * resumed at once: the same. */
	FAKE_SET(a, a->noquorum_open = true; a->kick = true);
	WAIT_UNTIL(log_count(&log) == 3);
	assert_true(log.ev[2].lost);
	assert_int_equal(log.ev[2].code, LMC_ENOQUORUM);
	FAKE_SET(a, a->noquorum_open = false);
	WAIT_UNTIL(log_count(&log) == 4);
	assert_false(log.ev[3].lost);
	assert_int_equal(FAKE(a, a->opened), 1);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

/* A server that ends the connection on purpose says why first (it is no
 * longer the leader, it stops): it reclaims nothing, and the lease stays
 * whole while the session finds a leader. */
static void a_close_the_server_announced_keeps_the_lease(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	FAKE_SET(a, a->grace_ms = 60000; a->timeout_ms = 20000; a->lease_ms = 15000;
	         a->linger_ms = 300);
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 100);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	FAKE_SET(a, a->noquorum_open = true; a->kick_code = LMC_ENOTLEADER; a->kick = true);
	WAIT_UNTIL(FAKE(a, a->hellos) >= 3);
	usleep(1000 * 1000);
	assert_int_equal(log_count(&log), 0);
	FAKE_SET(a, a->noquorum_open = false);
	WAIT_UNTIL(FAKE(a, a->resumed) >= 1);
	WAIT_UNTIL(FAKE(a, a->heartbeats) >= 2);
	assert_int_equal(log_count(&log), 0);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

/* A server that does not announce a lease (older than the rule): half its
 * session timeout stands for it. */
static void without_a_lease_half_the_timeout_stands_for_it(void **state)
{
	struct fake *a = fake_start();
	struct event_log log = {0};
	FAKE_SET(a, a->grace_ms = 60000; a->timeout_ms = 1200);
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, &log, 0);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	FAKE_SET(a, a->silent = true);
	WAIT_UNTIL(log_count(&log) == 1);
	assert_non_null(strstr(log.ev[0].message, "lease (600 ms)"));
	FAKE_SET(a, a->silent = false);
	WAIT_UNTIL(log_count(&log) == 2);
	lm_session_stop(s);
	fake_stop(a);
	pthread_mutex_destroy(&log.lock);
}

static void closing_without_a_server_is_bounded(void **state)
{
	struct fake *a = fake_start();
	struct lm_session *s = start_session((const struct fake *[]){a}, 1, NULL, 0);
	uint64_t h;
	char msg[512];
	assert_int_equal(lm_session_checkout(s, "stats", "29.0", 1, NULL, 0, &h, msg, sizeof msg),
	                 0);
	fake_stop(a);
	/* The checkin cannot be confirmed; the handle is released anyway. */
	assert_int_equal(lm_session_checkin(s, h, msg, sizeof msg), LMC_ETIMEDOUT);
	assert_int_equal(lm_session_checkin(s, h, msg, sizeof msg), LMC_ENOHANDLE);
	int64_t t0 = now_ms();
	lm_session_stop(s); /* close_timeout_ms is 1000 */
	assert_true(now_ms() - t0 < 2000);
}

/* ---- The public API over the same fake ---- */

static void applications_use_servers_through_lmc(void **state)
{
	struct fake *a = fake_start();
	struct lmc_ctx *ctx;
	char err[256], server[64];
	struct lmc_options opts = {.vendor_pubkey = vendor.pub_path,
	                           .license_source = a->name,
	                           .app_version = "29.0.1"};
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), 0);
	assert_int_equal(lmc_server(ctx, server, sizeof server), 0);
	assert_string_equal(server, "");
	assert_int_equal(FAKE(a, a->hellos), 0); /* nothing is sent before a checkout */

	uint64_t h;
	assert_int_equal(lmc_checkout(ctx, "stats", "29.0", 1, 1000, &h), 0);
	assert_int_equal(lmc_server(ctx, server, sizeof server), 0);
	assert_string_equal(server, a->name);
	assert_int_equal(lmc_checkout(ctx, "stats", "29.0", 20, 0, &h), LMC_ENOSEATS);
	assert_non_null(strstr(lmc_last_error(ctx), a->name));
	assert_int_equal(lmc_checkin(ctx, 12345), LMC_ENOHANDLE);

	FAKE_SET(a, a->forge = true);
	uint64_t h2;
	assert_int_equal(lmc_checkout(ctx, "stats", "29.0", 1, 0, &h2), LMC_EBADSIG);
	FAKE_SET(a, a->forge = false);
	lmc_close(ctx); /* h still held: SessionClose returns it */
	assert_int_equal(FAKE(a, a->closes), 1);

	opts.app_version = "has space";
	assert_int_equal(lmc_open(&ctx, &opts, err, sizeof err), LMC_EINVAL);
	fake_stop(a);
}

/* The lost callback of lmc learns why from lmc_last_error(). */
struct lmc_lost_seen {
	struct lmc_ctx *ctx;
	pthread_mutex_t lock;
	int lost;
	int code;
	char why[512];
};

static void lmc_lost_seen_cb(void *arg, uint64_t handle, const char *feature, int code)
{
	struct lmc_lost_seen *seen = arg;
	pthread_mutex_lock(&seen->lock);
	seen->lost++;
	seen->code = code;
	snprintf(seen->why, sizeof seen->why, "%s", lmc_last_error(seen->ctx));
	pthread_mutex_unlock(&seen->lock);
}

static int lmc_lost_count(struct lmc_lost_seen *seen)
{
	pthread_mutex_lock(&seen->lock);
	int n = seen->lost;
	pthread_mutex_unlock(&seen->lock);
	return n;
}

static void lmc_says_why_a_seat_was_lost(void **state)
{
	struct fake *a = fake_start();
	FAKE_SET(a, a->timeout_ms = 2000; a->lease_ms = 600);
	struct lmc_lost_seen seen = {0};
	pthread_mutex_init(&seen.lock, NULL);
	char err[256];
	struct lmc_options opts = {.vendor_pubkey = vendor.pub_path, .license_source = a->name};
	assert_int_equal(lmc_open(&seen.ctx, &opts, err, sizeof err), 0);
	assert_int_equal(lmc_set_callbacks(seen.ctx, lmc_lost_seen_cb, NULL, &seen), 0);
	uint64_t h;
	assert_int_equal(lmc_checkout(seen.ctx, "stats", "29.0", 1, 1000, &h), 0);
	FAKE_SET(a, a->silent = true);
	WAIT_UNTIL(lmc_lost_count(&seen) == 1);
	assert_int_equal(seen.code, LMC_ENOSERVER);
	assert_non_null(strstr(seen.why, "within its lease"));
	FAKE_SET(a, a->silent = false);
	lmc_close(seen.ctx);
	pthread_mutex_destroy(&seen.lock);
	fake_stop(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(checkout_returns_a_handle_and_close_returns_the_seats),
	        cmocka_unit_test(a_grant_the_vendor_did_not_sign_is_refused),
	        cmocka_unit_test(a_dropped_connection_is_resumed_and_the_request_resent),
	        cmocka_unit_test(a_follower_redirects_to_the_leader),
	        cmocka_unit_test(the_next_server_is_tried_when_the_first_is_down),
	        cmocka_unit_test(with_no_server_one_try_fails_fast_and_a_timeout_waits),
	        cmocka_unit_test(an_expired_session_regains_its_seats),
	        cmocka_unit_test(a_seat_removed_by_the_administrator_is_lost_then_regained),
	        cmocka_unit_test(without_quorum_a_checkout_is_retried_with_its_request_id),
	        cmocka_unit_test(without_quorum_seats_are_kept_for_the_grace_period),
	        cmocka_unit_test(past_the_lease_seats_are_lost_whatever_the_grace),
	        cmocka_unit_test(a_seat_given_away_past_the_lease_is_not_regained),
	        cmocka_unit_test(a_connection_ended_unannounced_leaves_the_linger),
	        cmocka_unit_test(a_close_the_server_announced_keeps_the_lease),
	        cmocka_unit_test(without_a_lease_half_the_timeout_stands_for_it),
	        cmocka_unit_test(closing_without_a_server_is_bounded),
	        cmocka_unit_test(applications_use_servers_through_lmc),
	        cmocka_unit_test(lmc_says_why_a_seat_was_lost),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown) ? 1 : 0;
}
