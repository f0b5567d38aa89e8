/* A blocking frame connection to one license server (see frame_conn.h).
 *
 * The socket is non-blocking underneath so that every wait, connect
 * included, is a poll() bounded by a deadline: a client must never hang on
 * a server that stopped answering, because the application is waiting. */
#include "config.h"

#include "proto/frame_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/lockcode.h"
#include "core/machine.h"
#include "core/server_key.h"
#include "core/tls.h"

int64_t lm_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 4))) static int fail(struct lm_frame_conn *c, int code,
                                                      const char *fmt, ...)
{
	int n = snprintf(c->error, sizeof c->error, "%s: ", c->name);
	if (n < 0 || (size_t)n >= sizeof c->error)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error + n, sizeof c->error - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

/* Milliseconds left until deadline, for poll(): never negative. */
static int remaining(int64_t deadline)
{
	int64_t left = deadline - lm_clock_ms();
	if (left <= 0)
		return 0;
	return left > 1000000 ? 1000000 : (int)left;
}

/* Waits for events on fd until deadline: 1 when ready, 0 on timeout. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, remaining(deadline));
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return 0;
	}
}

/* One non-blocking connect, finished by the deadline.  Returns the socket
 * or -1 with errno set (ETIMEDOUT when the time ran out). */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	if (!wait_fd(fd, POLLOUT, deadline)) {
		errno = ETIMEDOUT;
		goto fail;
	}
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		goto fail;
	if (soerr != 0) {
		errno = soerr;
		goto fail;
	}
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int setup_buffers(struct lm_frame_conn *c, size_t reply_max);

int lm_frame_conn_open(struct lm_frame_conn *c, const struct lm_address *a, size_t reply_max,
                       unsigned timeout_ms)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->addr = *a;
	if (lm_address_format(a, c->name, sizeof c->name) != 0)
		snprintf(c->name, sizeof c->name, "server");
	int64_t deadline = lm_clock_ms() + timeout_ms;

	char port[8];
	snprintf(port, sizeof port, "%u", (unsigned)a->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	/* getaddrinfo() cannot be bounded by a deadline; a resolver that hangs
	 * is bounded by its own timeouts (resolv.conf). */
	int gai = getaddrinfo(a->host, port, &hints, &res);
	if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME) {
		/* AI_ADDRCONFIG hides ::1 on hosts without a global IPv6
		 * address; a literal should still work on loopback. */
		hints.ai_flags = AI_NUMERICSERV;
		gai = getaddrinfo(a->host, port, &hints, &res);
	}
	if (gai != 0)
		return fail(c, LMC_ENOSERVER, "cannot resolve %s: %s", a->host, gai_strerror(gai));

	int err = ECONNREFUSED;
	for (const struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next) {
		c->fd = connect_one(ai, deadline);
		if (c->fd < 0) {
			err = errno;
			if (lm_clock_ms() >= deadline)
				break;
		}
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		if (err == ETIMEDOUT)
			return fail(c, LMC_ETIMEDOUT, "no connection within %u ms", timeout_ms);
		return fail(c, LMC_ENOSERVER, "cannot connect: %s", strerror(err));
	}
	/* Requests are small and answered one at a time: Nagle's delay would
	 * only add latency to every checkout. */
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return setup_buffers(c, reply_max);
}

int lm_frame_conn_open_unix(struct lm_frame_conn *c, const char *path, const char *name,
                            size_t reply_max)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	snprintf(c->name, sizeof c->name, "%s", name);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path)
		return fail(c, LMC_ENOSERVER, "socket path too long: %.100s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(c, LMC_ENOSERVER, "cannot make a socket: %s", strerror(errno));
	/* A Unix socket connects at once or not at all. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int e = errno;
		close(fd);
		c->connect_errno = e;
		return fail(c, LMC_ENOSERVER, "cannot connect to %.100s: %s", path, strerror(e));
	}
	c->fd = fd;
	return setup_buffers(c, reply_max);
}

static int setup_buffers(struct lm_frame_conn *c, size_t reply_max)
{
	size_t arena_size = LM_ARENA_SIZE(reply_max);
	c->arena_block = malloc(arena_size);
	if (!c->arena_block ||
	    lm_frame_reader_init(&c->reader, NULL, LM_FRAME_BUFSIZE(reply_max))) {
		free(c->arena_block);
		close(c->fd);
		c->fd = -1;
		return fail(c, LMC_ENOMEM, "out of memory for the connection's buffers");
	}
	lm_arena_init(&c->arena, c->arena_block, arena_size);
	return 0;
}

void lm_frame_conn_move(struct lm_frame_conn *to, struct lm_frame_conn *from)
{
	lm_frame_conn_close(to);
	*to = *from;
	if (to->fd >= 0)
		lm_arena_init(&to->arena, to->arena_block, from->arena.size);
	from->fd = -1;
	from->tls = NULL;
	from->security = LM_FRAME_PLAINTEXT;
	from->out = NULL;
	from->outcap = 0;
}

void lm_frame_conn_close(struct lm_frame_conn *c)
{
	SSL_free(c->tls);
	c->tls = NULL;
	c->security = LM_FRAME_PLAINTEXT;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		lm_frame_reader_close(&c->reader);
		free(c->arena_block);
		c->arena_block = NULL;
	}
	free(c->out);
	c->out = NULL;
	c->outcap = 0;
}

/* ---- the byte stream: the socket, or TLS over it ----
 *
 * io_send() and io_recv() return the bytes moved (> 0), 0 when the server
 * closed the connection (recv only), or -1 with *wait_for the poll() event
 * to wait for before trying again (0: the connection failed, c->io_error
 * says why). */

/* What an SSL call's result means for the caller: an event to wait for,
 * or a failure named in c->io_error. */
static short tls_wait(struct lm_frame_conn *c, int ret)
{
	int err = SSL_get_error(c->tls, ret);
	if (err == SSL_ERROR_WANT_READ)
		return POLLIN;
	if (err == SSL_ERROR_WANT_WRITE)
		return POLLOUT;
	if (err == SSL_ERROR_SYSCALL && errno == EINTR)
		return POLLIN | POLLOUT;
	if (err == SSL_ERROR_SYSCALL && errno != 0)
		snprintf(c->io_error, sizeof c->io_error, "%s", strerror(errno));
	else
		lm_tls_error_text(c->io_error, sizeof c->io_error);
	return 0;
}

static ssize_t io_send(struct lm_frame_conn *c, const uint8_t *buf, size_t len, short *wait_for)
{
	*wait_for = 0;
	if (c->tls) {
		errno = 0;
		int n = SSL_write(c->tls, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n > 0)
			return n;
		*wait_for = tls_wait(c, n);
		return -1;
	}
	/* MSG_NOSIGNAL: a library must not kill its application with
	 * SIGPIPE when a server goes away. */
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EINTR)
		*wait_for = POLLOUT;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		*wait_for = POLLOUT;
	else
		snprintf(c->io_error, sizeof c->io_error, "%s", strerror(errno));
	return -1;
}

static ssize_t io_recv(struct lm_frame_conn *c, uint8_t *buf, size_t room, short *wait_for)
{
	*wait_for = 0;
	if (c->tls) {
		errno = 0;
		int n = SSL_read(c->tls, buf, room > INT32_MAX ? INT32_MAX : (int)room);
		if (n > 0)
			return n;
		int err = SSL_get_error(c->tls, n);
		if (err == SSL_ERROR_ZERO_RETURN ||
		    (err == SSL_ERROR_SYSCALL && errno == 0)) /* EOF without close_notify */
			return 0;
		*wait_for = tls_wait(c, n);
		return -1;
	}
	ssize_t n = recv(c->fd, buf, room, 0);
	if (n >= 0)
		return n;
	if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
		*wait_for = POLLIN;
	else
		snprintf(c->io_error, sizeof c->io_error, "%s", strerror(errno));
	return -1;
}

/* ---- TLS (core/tls.h) ---- */

static SSL_CTX *client_ctx;
static pthread_once_t client_ctx_once = PTHREAD_ONCE_INIT;

/* One context for the process: it holds only settings, and every thread
 * may use it (OpenSSL 3 locks its reference counts). */
static void make_client_ctx(void)
{
	if (lm_tls_client_ctx_new(&client_ctx) != 0)
		client_ctx = NULL;
}

int lm_frame_conn_tls_use(const char *text, enum lm_frame_tls_use *use)
{
	if (!text || !*text || strcmp(text, "off") == 0)
		*use = LM_FRAME_TLS_WHEN_PINNED;
	else if (strcmp(text, "on") == 0)
		*use = LM_FRAME_TLS_ON;
	else if (strcmp(text, "require") == 0)
		*use = LM_FRAME_TLS_REQUIRE;
	else
		return LMC_EINVAL;
	return 0;
}

int lm_frame_conn_secure(struct lm_frame_conn *c, enum lm_frame_tls_use use, const uint8_t *pin,
                         unsigned timeout_ms)
{
	if (!pin && use == LM_FRAME_TLS_REQUIRE)
		return fail(c, LMC_EKEYPIN,
		            "no server key is pinned for this server (no KEY= on a SERVER line "
		            "naming it) and LMC_TLS=require accepts only pinned servers");
	if (!pin && use == LM_FRAME_TLS_WHEN_PINNED)
		return 0;
#ifdef LM_TEST_HOOKS
	/* Test builds only: tests of what liblmc checks in a grant speak to
	 * a plaintext emulator even when the file pins a key
	 * (tests/integration/fake_server.sh). */
	const char *plaintext = getenv("LM_TEST_PINNED_PLAINTEXT");
	if (plaintext && *plaintext == '1' && use != LM_FRAME_TLS_REQUIRE)
		return 0;
#endif
	if (c->fd < 0)
		return fail(c, LMC_ENOSERVER, "not connected");
	pthread_once(&client_ctx_once, make_client_ctx);
	SSL *ssl = client_ctx ? SSL_new(client_ctx) : NULL;
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		return fail(c, LMC_ENOMEM, "out of memory for TLS");
	}
	c->tls = ssl;
	int64_t deadline = lm_clock_ms() + timeout_ms;
	for (;;) {
		errno = 0;
		int ret = SSL_connect(ssl);
		if (ret == 1)
			break;
		short wait_for = tls_wait(c, ret);
		if (!wait_for)
			/* An lmd older than TLS answers a ClientHello with a
			 * plaintext error frame, which OpenSSL cannot read as a
			 * record. */
			return fail(c, LMC_ETLS,
			            "no TLS handshake (%s): the server is older than TLS or runs "
			            "with --client-tls off",
			            c->io_error);
		if (!wait_fd(c->fd, wait_for, deadline))
			return fail(c, LMC_ETIMEDOUT, "no TLS handshake within %u ms", timeout_ms);
	}
	uint8_t key[LM_SERVER_KEY_LEN];
	int rc = lm_tls_peer_key(ssl, key);
	if (rc == 0 && pin && memcmp(key, pin, LM_SERVER_KEY_LEN) != 0)
		rc = LMC_EKEYPIN;
	if (rc != 0) {
		char want[LM_SERVER_KEY_TEXT_MAX] = "?", got[LM_SERVER_KEY_TEXT_MAX] = "none";
		if (pin)
			lm_server_key_format(pin, want, sizeof want);
		if (rc == LMC_EKEYPIN)
			lm_server_key_format(key, got, sizeof got);
		return fail(c, LMC_EKEYPIN,
		            "the server proved the key %s, not the pinned %s: someone between "
		            "us and the server, or another server at this address",
		            got, want);
	}
	c->security = pin ? LM_FRAME_TLS_PINNED : LM_FRAME_TLS_UNPINNED;
	return 0;
}

int lm_frame_conn_send(struct lm_frame_conn *c, const Lm__Envelope *e, int64_t deadline)
{
	size_t len;
	if (c->fd < 0)
		return fail(c, LMC_ENOSERVER, "not connected");
	int rc = lm_frame_pack_alloc(e, &c->out, &c->outcap, &len);
	if (rc)
		return fail(c, rc, "cannot encode the %s request", lm_body_name(e->body_case));
	size_t off = 0;
	while (off < len) {
		short wait_for;
		ssize_t n = io_send(c, c->out + off, len - off, &wait_for);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (wait_for) {
			if (!wait_fd(c->fd, wait_for, deadline))
				return fail(c, LMC_ETIMEDOUT,
				            "the server does not take our request");
			continue;
		}
		return fail(c, LMC_ENOSERVER, "connection lost: %s", c->io_error);
	}
	return 0;
}

int lm_frame_conn_recv(struct lm_frame_conn *c, Lm__Envelope **env, int64_t deadline)
{
	*env = NULL;
	if (c->fd < 0)
		return fail(c, LMC_ENOSERVER, "not connected");
	for (;;) {
		const uint8_t *payload;
		size_t len;
		int rc = lm_frame_reader_next(&c->reader, &payload, &len);
		if (rc < 0)
			return fail(c, rc, "sent a frame larger than %zu bytes", c->reader.max);
		if (rc == 1) {
			char why[200];
			lm_arena_reset(&c->arena);
			rc = lm_envelope_decode(payload, len, &c->arena, env, why, sizeof why);
			if (rc) {
				*env = NULL;
				return fail(c, rc, "sent a bad message: %s", why);
			}
			return 0;
		}
		/* Read before waiting: TLS may hold decrypted bytes that
		 * poll() cannot see. */
		uint8_t *space;
		size_t room;
		short wait_for;
		lm_frame_reader_space(&c->reader, &space, &room);
		ssize_t n = io_recv(c, space, room, &wait_for);
		if (n > 0) {
			lm_frame_reader_commit(&c->reader, (size_t)n);
			continue;
		}
		if (n == 0)
			return fail(c, LMC_ENOSERVER, "the server closed the connection%s",
			            lm_frame_reader_pending(&c->reader)
			                    ? " in the middle of a frame"
			                    : "");
		if (!wait_for)
			return fail(c, LMC_ENOSERVER, "connection lost: %s", c->io_error);
		if (!wait_fd(c->fd, wait_for, deadline))
			return fail(c, LMC_ETIMEDOUT, "no answer in time");
	}
}

int lm_frame_conn_call(struct lm_frame_conn *c, const Lm__Envelope *req, Lm__Envelope **reply,
                       unsigned timeout_ms)
{
	int64_t deadline = lm_clock_ms() + timeout_ms;
	*reply = NULL;
	c->leader[0] = '\0';
	int rc = lm_frame_conn_send(c, req, deadline);
	if (rc)
		return rc;
	Lm__Envelope *e;
	rc = lm_frame_conn_recv(c, &e, deadline);
	if (rc)
		return rc;
	if (e->body_case == LM__ENVELOPE__BODY_ERROR_REPLY) {
		/* The server may answer a request it could not read with
		 * request id 0, so an error is taken whatever its id. */
		const Lm__ErrorReply *er = e->error_reply;
		fail(c, er->code, "%s", er->message ? er->message : lmc_strerror(er->code));
		if (er->leader)
			snprintf(c->leader, sizeof c->leader, "%s", er->leader);
		*reply = e;
		return er->code;
	}
	if (!lm_body_is_reply(e->body_case) || e->request_id != req->request_id)
		return fail(c, LMC_EPROTO, "answered %s #%llu to %s #%llu",
		            lm_body_name(e->body_case), (unsigned long long)e->request_id,
		            lm_body_name(req->body_case), (unsigned long long)req->request_id);
	*reply = e;
	return 0;
}

/* Copies s into out (size bytes), '?' for what the wire refuses: control
 * characters, bytes above ASCII, and spaces where spaces is false. */
static void sanitize(char *out, size_t size, const char *s, bool spaces)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[i] = (ch < 0x20 || ch >= 0x7f || (ch == ' ' && !spaces)) ? '?' : (char)ch;
	}
	out[i] = '\0';
}

int lm_frame_conn_identity(struct lm_identity *id, const char *app_version)
{
	memset(id, 0, sizeof *id);
	if (app_version) {
		size_t n = strlen(app_version);
		if (n == 0 || n > LM_WIRE_VERSION_MAX)
			return LMC_EINVAL;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)app_version[i] <= ' ' ||
			    (unsigned char)app_version[i] >= 0x7f)
				return LMC_EINVAL;
		memcpy(id->app_version, app_version, n + 1);
	}

	/* getpwuid_r: the session thread and the application may look users
	 * up at the same time. */
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found && pw.pw_name[0])
		sanitize(id->user, sizeof id->user, pw.pw_name, true);
	else
		snprintf(id->user, sizeof id->user, "uid%u", (unsigned)geteuid());

	char host[LM_WIRE_HOST_MAX + 1] = "";
	if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	sanitize(id->host, sizeof id->host, host, false);

	const char *display = getenv("DISPLAY");
	if (display && *display)
		sanitize(id->display, sizeof id->display, display, true);
	id->pid = (uint32_t)getpid();
#ifdef LM_TEST_HOOKS
	/* A simulated person on a simulated machine, as LM_HOSTID_ROOT
	 * simulates the machine's lock criteria: the options files' USER and
	 * HOST rules are tested with the real library. */
	const char *test_user = getenv("LM_TEST_USER"), *test_host = getenv("LM_TEST_HOST");
	if (test_user && *test_user)
		sanitize(id->user, sizeof id->user, test_user, true);
	if (test_host && *test_host)
		sanitize(id->host, sizeof id->host, test_host, false);
#endif
	const char *project = getenv("LM_PROJECT");
	if (project && *project)
		sanitize(id->project, sizeof id->project, project, true);

	struct lm_machine *m = malloc(sizeof *m);
	if (m && lm_machine_probe(NULL, m) == 0)
		lm_lockcode_format(&m->code, id->lock_code, sizeof id->lock_code);
	free(m);
	return 0;
}

int lm_frame_conn_hello(struct lm_frame_conn *c, const struct lm_identity *id, unsigned timeout_ms)
{
	struct lm_identity own;
	if (!id) {
		lm_frame_conn_identity(&own, NULL);
		id = &own;
	}
	Lm__Envelope e;
	Lm__Hello h;
	lm_envelope_init(&e, 0);
	lm__hello__init(&h);
	h.has_user = 1;
	h.user = lm_bytes_from_cstr(id->user);
	h.has_host = 1;
	h.host = lm_bytes_from_cstr(id->host);
	/* The Hello names a display or, for a program without one, its pid:
	 * that is how lmstat tells two runs of one user apart. */
	if (id->project[0]) {
		h.has_project = 1;
		h.project = lm_bytes_from_cstr(id->project);
	}
	if (id->display[0]) {
		h.has_display = 1;
		h.display = lm_bytes_from_cstr(id->display);
	} else {
		h.has_pid = 1;
		h.pid = id->pid;
	}
	if (id->lock_code[0]) {
		h.has_lock_code = 1;
		h.lock_code = lm_bytes_from_cstr(id->lock_code);
	}
	if (id->app_version[0]) {
		h.has_app_version = 1;
		h.app_version = lm_bytes_from_cstr(id->app_version);
	}
	e.body_case = LM__ENVELOPE__BODY_HELLO;
	e.hello = &h;
	Lm__Envelope *reply;
	int rc = lm_frame_conn_call(c, &e, &reply, timeout_ms);
	if (rc == 0 && reply->body_case != LM__ENVELOPE__BODY_HELLO_REPLY)
		return fail(c, LMC_EPROTO, "answered hello with %s",
		            lm_body_name(reply->body_case));
	if (rc == 0) {
		const Lm__HelloReply *r = reply->hello_reply;
		c->has_cluster_id = r->has_cluster_id && r->cluster_id.len == LM_CLUSTER_ID_SIZE;
		if (c->has_cluster_id)
			memcpy(c->cluster_id, r->cluster_id.data, LM_CLUSTER_ID_SIZE);
		snprintf(c->admin_socket, sizeof c->admin_socket, "%s",
		         r->admin_socket ? r->admin_socket : "");
		c->has_instance = r->has_instance;
		if (c->has_instance)
			memcpy(c->instance, r->instance.data, LM_ADMIN_INSTANCE_LEN);
	}
	return rc;
}

int lm_frame_conn_greet(struct lm_frame_conn *c, const struct lm_address *a, size_t reply_max,
                        unsigned timeout_ms, enum lm_frame_tls_use use, const uint8_t *pin,
                        const struct lm_identity *id)
{
	for (;;) {
		int rc = lm_frame_conn_open(c, a, reply_max, timeout_ms);
		if (rc != 0)
			return rc;
		rc = lm_frame_conn_secure(c, use, pin, timeout_ms);
		if (rc == 0)
			rc = lm_frame_conn_hello(c, id, timeout_ms);
		if (rc == 0)
			return 0;
		bool upgrade = rc == LMC_ENEEDTLS && c->security == LM_FRAME_PLAINTEXT;
		/* c->error survives the close for the caller. */
		char error[sizeof c->error];
		memcpy(error, c->error, sizeof error);
		lm_frame_conn_close(c);
		memcpy(c->error, error, sizeof error);
		if (!upgrade)
			return rc;
		use = LM_FRAME_TLS_ON;
	}
}
