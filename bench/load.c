/* Closed-loop checkout load, and the failover measurement built on it.
 *
 * Each simulated client behaves as liblmc's session thread does
 * (client/session.c), without its threads: Hello, SessionOpen, then
 * Checkout and Checkin in turn, one request at a time, each numbered with
 * the session's next request id.  A request interrupted by a lost
 * connection or a change of leader is sent again with the same id once the
 * session is resumed on the server that leads now, which is what makes the
 * retry safe (DESIGN.md §2.3).  A follower's LMC_ENOTLEADER names the
 * leader, and the client goes there.
 *
 * An op is one acknowledged checkout or checkin: lmd acknowledges either
 * only after the command committed, so the latency of an op is the latency
 * of a commit seen from a client. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "bench/hist.h"
#include "bench/lmbench.h"
#include "bench/uvconn.h"
#include "core/error.h"

enum phase {
	PH_WAIT,       /* backing off before the next connection */
	PH_CONNECTING, /* TCP connect */
	PH_HELLO,      /* Hello sent */
	PH_SESSION,    /* SessionOpen sent */
	PH_RUN,        /* one checkout or checkin in flight */
	PH_CLOSING,    /* SessionClose sent at the end of the run */
	PH_DONE,
};

enum op {
	OP_NONE,
	OP_CHECKOUT,
	OP_CHECKIN,
};

/* A request, or a connection step, with no answer for this long is given
 * up: the client moves to the next server, as liblmc does. */
#define STEP_TIMEOUT_NS (5000u * 1000000u)
/* Pause before trying again after a server refused or vanished. */
#define RETRY_NS (20u * 1000000u)
/* How long the clients get to close their sessions at the end. */
#define STOP_GRACE_NS (3000u * 1000000u)
#define TICK_MS       10

struct client {
	struct lb_conn conn;
	struct load *load;
	unsigned index;
	enum phase phase;
	uint64_t phase_ns; /* when the phase began */
	uint64_t retry_ns; /* PH_WAIT: when to connect */
	unsigned server;   /* --servers entry connected or to connect to */

	bool have_session;
	uint64_t session_id;
	uint8_t secret[LM_SESSION_SECRET_LEN];
	uint64_t next_request_id;

	enum op op;        /* in flight, or to send again after a reconnect */
	uint64_t op_id;    /* its request id, kept for every retry */
	uint64_t first_ns; /* first sent: the op's latency counts from here */
	uint64_t sent_ns;  /* last (re)sent */
	uint64_t handle;   /* seat held, 0 if none */

	bool recovered; /* failover: checked out again after the kill */
	uint64_t recovered_ns;
};

struct load {
	const struct lb_options *o;
	uv_loop_t *loop;
	struct client *clients;
	unsigned n;
	uint64_t window_start, window_end;
	uint64_t ops, errors, reconnects, redirects;
	struct lb_hist hist;
	uv_timer_t tick;
	bool stopping;
	uint64_t stop_ns;
	unsigned live; /* clients not PH_DONE */
	char identity_host[32];

	/* Failover. */
	bool failover;
	bool killed;
	uint64_t kill_ns, killed_ns, deadline_ns;
	int killed_index;
	unsigned recovered;
};

static const struct lb_conn_cbs client_cbs;

static void set_phase(struct client *c, enum phase p)
{
	c->phase = p;
	c->phase_ns = lb_now_ns();
}

static void connect_now(struct client *c)
{
	struct load *L = c->load;
	set_phase(c, PH_CONNECTING);
	int rc = lb_conn_start(&c->conn, L->loop, &L->o->server_addrs[c->server],
	                       lb_source_addr(L->o, c->index, L->n), &client_cbs, c);
	if (rc != 0) {
		set_phase(c, PH_WAIT);
		c->retry_ns = lb_now_ns() + RETRY_NS;
	}
}

/* The client gives up on this server: the connection closes, and
 * client_closed() schedules the next attempt at c->server after delay. */
static void leave(struct client *c, unsigned next_server, uint64_t delay_ns)
{
	c->server = next_server;
	c->retry_ns = lb_now_ns() + delay_ns;
	lb_conn_close(&c->conn);
}

static unsigned next_of(struct client *c)
{
	return (c->server + 1) % (unsigned)c->load->o->nservers;
}

static void send_env(struct client *c, Lm__Envelope *e)
{
	lb_conn_send(&c->conn, e);
}

static void send_hello(struct client *c)
{
	struct load *L = c->load;
	char display[32];
	snprintf(display, sizeof display, "bench-%u", c->index);
	Lm__Envelope e;
	Lm__Hello h;
	lm_envelope_init(&e, 0);
	lm__hello__init(&h);
	h.has_user = h.has_host = h.has_display = h.has_pid = 1;
	h.user = lm_bytes_from_cstr("bench");
	h.host = lm_bytes_from_cstr(L->identity_host);
	h.display = lm_bytes_from_cstr(display);
	h.pid = (uint32_t)getpid();
	e.body_case = LM__ENVELOPE__BODY_HELLO;
	e.hello = &h;
	set_phase(c, PH_HELLO);
	send_env(c, &e);
}

static void send_session_open(struct client *c)
{
	Lm__Envelope e;
	Lm__SessionOpen so;
	lm_envelope_init(&e, 0);
	lm__session_open__init(&so);
	if (c->have_session) {
		so.has_session_id = so.has_secret = 1;
		so.session_id = c->session_id;
		so.secret.data = c->secret;
		so.secret.len = LM_SESSION_SECRET_LEN;
	}
	e.body_case = LM__ENVELOPE__BODY_SESSION_OPEN;
	e.session_open = &so;
	set_phase(c, PH_SESSION);
	send_env(c, &e);
}

static void send_op(struct client *c)
{
	struct load *L = c->load;
	Lm__Envelope e;
	Lm__Checkout co;
	Lm__Checkin ci;
	lm_envelope_init(&e, c->op_id);
	if (c->op == OP_CHECKOUT) {
		lm__checkout__init(&co);
		co.has_feature = co.has_version = co.has_count = 1;
		co.feature = lm_bytes_from_cstr(L->o->feature);
		co.version = lm_bytes_from_cstr(L->o->version);
		co.count = 1;
		e.body_case = LM__ENVELOPE__BODY_CHECKOUT;
		e.checkout = &co;
	} else {
		lm__checkin__init(&ci);
		ci.has_handle = 1;
		ci.handle = c->handle;
		e.body_case = LM__ENVELOPE__BODY_CHECKIN;
		e.checkin = &ci;
	}
	c->sent_ns = lb_now_ns();
	set_phase(c, PH_RUN);
	send_env(c, &e);
}

static void send_close(struct client *c)
{
	Lm__Envelope e;
	Lm__SessionClose sc;
	lm_envelope_init(&e, 0);
	lm__session_close__init(&sc);
	e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE;
	e.session_close = &sc;
	set_phase(c, PH_CLOSING);
	send_env(c, &e);
}

/* The next step of the loop once the previous op is answered. */
static void next_op(struct client *c)
{
	if (c->load->stopping) {
		send_close(c);
		return;
	}
	c->op = c->handle ? OP_CHECKIN : OP_CHECKOUT;
	c->op_id = ++c->next_request_id;
	c->first_ns = lb_now_ns();
	send_op(c);
}

/* Counts an answered op, in the window only. */
static void op_done(struct client *c)
{
	struct load *L = c->load;
	uint64_t now = lb_now_ns();
	if (now >= L->window_start && now < L->window_end) {
		L->ops++;
		lb_hist_record(&L->hist, (now - c->first_ns) / 1000);
	}
	/* Failover: a checkout sent after the kill and granted means this
	 * client is served again. */
	if (L->killed && !c->recovered && c->op == OP_CHECKOUT && c->sent_ns > L->killed_ns) {
		c->recovered = true;
		c->recovered_ns = now;
		L->recovered++;
	}
	c->op = OP_NONE;
	next_op(c);
}

static void on_error(struct client *c, const Lm__ErrorReply *er)
{
	struct load *L = c->load;
	switch (er->code) {
	case LMC_ENOTLEADER: {
		int i = lb_server_index(L->o, er->leader);
		L->redirects++;
		leave(c, i >= 0 && (unsigned)i != c->server ? (unsigned)i : next_of(c),
		      i >= 0 ? 0 : RETRY_NS);
		return;
	}
	case LMC_ENOQUORUM:
	case LMC_ESHUTDOWN: leave(c, next_of(c), RETRY_NS); return;
	case LMC_ENOSESSION:
		/* Expired or unknown here: its seat went back to the pool. */
		c->have_session = false;
		if (c->op == OP_CHECKIN)
			c->op = OP_NONE;
		c->handle = 0;
		leave(c, c->server, 0);
		return;
	default: break;
	}
	L->errors++;
	if (L->errors <= 10)
		fprintf(stderr, "lmbench: client %u: %s: %s\n", c->index, lmc_errname(er->code),
		        er->message ? er->message : "");
	if (c->phase == PH_RUN) {
		/* A checkin of a seat the server no longer knows is over; any
		 * other refusal ends this op and the loop goes on. */
		if (c->op == OP_CHECKIN)
			c->handle = 0;
		c->op = OP_NONE;
		next_op(c);
	} else if (c->phase == PH_CLOSING) {
		lb_conn_close(&c->conn);
	} else {
		leave(c, next_of(c), 100u * 1000000u);
	}
}

static void client_connected(struct lb_conn *conn)
{
	send_hello(conn->data);
}

static void client_frame(struct lb_conn *conn, const Lm__Envelope *env)
{
	struct client *c = conn->data;
	switch (env->body_case) {
	case LM__ENVELOPE__BODY_ERROR_REPLY: on_error(c, env->error_reply); return;
	case LM__ENVELOPE__BODY_HELLO_REPLY:
		if (c->phase == PH_HELLO)
			send_session_open(c);
		return;
	case LM__ENVELOPE__BODY_SESSION_REPLY: {
		if (c->phase != PH_SESSION)
			return;
		const Lm__SessionReply *r = env->session_reply;
		bool resumed = c->have_session && r->has_resumed && r->resumed &&
		               r->session_id == c->session_id;
		if (!resumed) {
			/* A new session: whatever the old one held is gone. */
			c->have_session = true;
			c->session_id = r->session_id;
			memcpy(c->secret, r->secret.data, LM_SESSION_SECRET_LEN);
			if (c->op == OP_CHECKIN)
				c->op = OP_NONE;
			c->handle = 0;
		}
		if (c->op != OP_NONE && !c->load->stopping)
			send_op(c); /* the same request id: the pool answers a duplicate */
		else
			next_op(c);
		return;
	}
	case LM__ENVELOPE__BODY_CHECKOUT_REPLY:
		if (c->phase == PH_RUN && c->op == OP_CHECKOUT && env->request_id == c->op_id) {
			c->handle = env->checkout_reply->handle;
			op_done(c);
		}
		return;
	case LM__ENVELOPE__BODY_CHECKIN_REPLY:
		if (c->phase == PH_RUN && c->op == OP_CHECKIN && env->request_id == c->op_id) {
			c->handle = 0;
			op_done(c);
		}
		return;
	case LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY:
		if (c->phase == PH_CLOSING) {
			c->have_session = false;
			lb_conn_close(&c->conn);
		}
		return;
	default: return; /* heartbeat replies and the like */
	}
}

static void client_closed(struct lb_conn *conn, int status)
{
	struct client *c = conn->data;
	struct load *L = c->load;
	if (L->stopping) {
		set_phase(c, PH_DONE);
		L->live--;
		return;
	}
	L->reconnects++;
	if (c->retry_ns == 0) {
		/* Not our choice: the server hung up or refused, so try the
		 * next one after a pause. */
		c->server = next_of(c);
		c->retry_ns = lb_now_ns() + RETRY_NS;
	}
	set_phase(c, PH_WAIT);
}

static const struct lb_conn_cbs client_cbs = {
        .connected = client_connected, .frame = client_frame, .closed = client_closed};

/* The server the clients are served by now: the one most running clients
 * are connected to. */
static int current_leader(struct load *L)
{
	unsigned votes[LB_SERVERS_MAX] = {0}, best = 0;
	int who = -1;
	for (unsigned i = 0; i < L->n; i++)
		if (L->clients[i].phase == PH_RUN)
			votes[L->clients[i].server]++;
	for (size_t s = 0; s < L->o->nservers; s++)
		if (votes[s] > best) {
			best = votes[s];
			who = (int)s;
		}
	return who;
}

static void begin_stop(struct load *L)
{
	L->stopping = true;
	L->stop_ns = lb_now_ns() + STOP_GRACE_NS;
	for (unsigned i = 0; i < L->n; i++) {
		struct client *c = &L->clients[i];
		if (c->phase == PH_WAIT) {
			set_phase(c, PH_DONE);
			L->live--;
		} else if (c->phase != PH_RUN && c->phase != PH_CLOSING && c->phase != PH_DONE) {
			lb_conn_close(&c->conn);
		}
	}
}

static void on_tick(uv_timer_t *t)
{
	struct load *L = t->data;
	uint64_t now = lb_now_ns();
	if (L->live == 0) {
		uv_close((uv_handle_t *)&L->tick, NULL);
		return;
	}
	if (L->stopping) {
		if (now >= L->stop_ns)
			for (unsigned i = 0; i < L->n; i++)
				if (L->clients[i].phase != PH_DONE)
					lb_conn_close(&L->clients[i].conn);
		return;
	}
	if (L->failover && !L->killed && now >= L->kill_ns) {
		int who = current_leader(L);
		if (who < 0 || (size_t)who >= L->o->npids) {
			fprintf(stderr, "lmbench failover: no client is served: nothing to kill\n");
			begin_stop(L);
			return;
		}
		kill(L->o->pids[who], SIGKILL);
		L->killed = true;
		L->killed_ns = lb_now_ns();
		L->killed_index = who;
		L->deadline_ns = L->killed_ns + (uint64_t)(L->o->timeout * 1e9);
		fprintf(stderr, "lmbench failover: killed the leader, %u@%s (pid %d)\n",
		        (unsigned)L->o->servers[who].port, L->o->servers[who].host,
		        L->o->pids[who]);
	}
	if (L->failover ? (L->killed && (L->recovered == L->n || now >= L->deadline_ns))
	                : now >= L->window_end) {
		begin_stop(L);
		return;
	}
	for (unsigned i = 0; i < L->n; i++) {
		struct client *c = &L->clients[i];
		if (c->phase == PH_WAIT && now >= c->retry_ns) {
			c->retry_ns = 0;
			connect_now(c);
		} else if (c->phase != PH_WAIT && c->phase != PH_DONE &&
		           now - (c->phase == PH_RUN ? c->sent_ns : c->phase_ns) >
		                   STEP_TIMEOUT_NS) {
			leave(c, next_of(c), 0);
		}
	}
}

static struct load *load_new(const struct lb_options *o)
{
	if (o->clients == 0)
		return NULL;
	struct load *L = calloc(1, sizeof *L);
	if (!L || !(L->clients = calloc(o->clients, sizeof *L->clients))) {
		free(L);
		return NULL;
	}
	L->o = o;
	L->n = o->clients;
	L->loop = uv_default_loop();
	lb_hist_init(&L->hist);
	snprintf(L->identity_host, sizeof L->identity_host, "lmbench-%d", (int)getpid());
	uint64_t now = lb_now_ns();
	L->window_start = now + (uint64_t)(o->warmup * 1e9);
	L->window_end = L->window_start + (uint64_t)(o->seconds * 1e9);
	for (unsigned i = 0; i < L->n; i++) {
		struct client *c = &L->clients[i];
		c->load = L;
		c->index = i;
		c->server = 0;
		L->live++;
		connect_now(c);
	}
	uv_timer_init(L->loop, &L->tick);
	L->tick.data = L;
	uv_timer_start(&L->tick, on_tick, TICK_MS, TICK_MS);
	return L;
}

static void load_free(struct load *L)
{
	free(L->clients);
	free(L);
}

int lb_checkout(const struct lb_options *o)
{
	struct load *L = load_new(o);
	if (!L)
		return 2;
	uv_run(L->loop, UV_RUN_DEFAULT);

	char clients[32];
	snprintf(clients, sizeof clients, "clients=%u", o->clients);
	double rate = (double)L->ops / o->seconds;
	double p50 = lb_hist_quantile(&L->hist, 0.50) / 1000;
	double p99 = lb_hist_quantile(&L->hist, 0.99) / 1000;
	lb_emit(o, "checkout_ops_per_s", rate, clients, (char *)NULL);
	lb_emit(o, "checkout_p50_ms", p50, clients, (char *)NULL);
	lb_emit(o, "checkout_p99_ms", p99, clients, (char *)NULL);
	fprintf(stderr,
	        "checkout clients=%u: %.0f ops/s, p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
	        "%llu errors, %llu reconnects, %llu redirects\n",
	        o->clients, rate, p50, p99, (double)L->hist.max_us / 1000,
	        (unsigned long long)L->errors, (unsigned long long)L->reconnects,
	        (unsigned long long)L->redirects);
	int rc = L->ops == 0 ? 1 : 0;
	load_free(L);
	return rc;
}

int lb_failover(const struct lb_options *o)
{
	if (o->npids != o->nservers) {
		fprintf(stderr, "lmbench failover: --pids must name one pid per server\n");
		return 2;
	}
	struct load *L = load_new(o);
	if (!L)
		return 2;
	L->failover = true;
	L->kill_ns = L->window_start;
	L->window_end = UINT64_MAX;
	uv_run(L->loop, UV_RUN_DEFAULT);

	int rc = 0;
	if (!L->killed) {
		rc = 1;
	} else if (L->recovered < L->n) {
		fprintf(stderr, "lmbench failover: %u of %u clients served again within %.0f s\n",
		        L->recovered, L->n, o->timeout);
		rc = 1;
	} else {
		uint64_t worst = 0, sum = 0;
		for (unsigned i = 0; i < L->n; i++) {
			uint64_t d = L->clients[i].recovered_ns - L->killed_ns;
			sum += d;
			if (d > worst)
				worst = d;
		}
		char clients[32];
		snprintf(clients, sizeof clients, "clients=%u", o->clients);
		lb_emit(o, "failover_ms", (double)worst / 1e6, clients, (char *)NULL);
		fprintf(stderr,
		        "failover clients=%u: every client served again %.0f ms after the kill "
		        "(mean %.0f ms); %llu errors, %llu reconnects, %llu redirects\n",
		        o->clients, (double)worst / 1e6, (double)sum / L->n / 1e6,
		        (unsigned long long)L->errors, (unsigned long long)L->reconnects,
		        (unsigned long long)L->redirects);
	}
	load_free(L);
	return rc;
}
