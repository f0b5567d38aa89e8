/* Idle sessions, and the probe that tells when a server serves.
 *
 * sessions: N clients that each open a session and then only heartbeat, at
 * the period the server asks for, spread evenly over that period as real
 * clients started at random times would be.  While they hold, bench/run
 * reads lmd's memory and CPU from /proc: what an idle, connected,
 * heartbeating session costs the server.
 *
 * probe: one client that tries, every couple of milliseconds, to open a
 * session, and prints the wall-clock time at which one opened: bench/run
 * compares it with the time it started lmd. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "bench/lmbench.h"
#include "bench/uvconn.h"
#include "core/error.h"

enum idle_phase {
	IP_WAIT, /* not yet started, or waiting to try again */
	IP_CONNECTING,
	IP_HELLO,
	IP_SESSION,
	IP_OPEN, /* session open: heartbeating */
	IP_LOST,
};

struct idle {
	struct lb_conn conn;
	struct idle_run *run;
	unsigned index;
	enum idle_phase phase;
	unsigned server; /* --servers entry to connect to */
	bool redirected; /* server was named by a follower: keep it */
	uv_timer_t heartbeat;
	bool hb_outstanding;
};

struct idle_run {
	const struct lb_options *o;
	uv_loop_t *loop;
	struct idle *sessions;
	unsigned n;
	bool probe;
	unsigned *waiting; /* sessions to start (again), a stack */
	unsigned nwaiting;
	unsigned opening; /* in connect, Hello or SessionOpen */
	unsigned open;    /* sessions open */
	unsigned lost;
	uint64_t heartbeats, hb_replies, errors;
	uint64_t start_ns, established_ns, deadline_ns;
	bool established;
	unsigned heartbeat_ms;
	char host[32];
	uv_timer_t tick;
	int status;
};

/* Handshakes in flight at once: enough to keep the server's commit
 * pipeline full, few enough for its listen backlog. */
#define OPENING_MAX 256
#define TICK_MS     2

static const struct lb_conn_cbs idle_cbs;

static void wait_again(struct idle *s)
{
	s->phase = IP_WAIT;
	s->run->waiting[s->run->nwaiting++] = s->index;
}

static void start_one(struct idle *s)
{
	struct idle_run *r = s->run;
	s->phase = IP_CONNECTING;
	r->opening++;
	if (lb_conn_start(&s->conn, r->loop, &r->o->server_addrs[s->server],
	                  lb_source_addr(r->o, s->index, r->n), &idle_cbs, s) != 0) {
		r->opening--;
		wait_again(s);
	}
}

static void idle_connected(struct lb_conn *conn)
{
	struct idle *s = conn->data;
	struct idle_run *r = s->run;
	char display[32];
	snprintf(display, sizeof display, "idle-%u", s->index);
	Lm__Envelope e;
	Lm__Hello h;
	lm_envelope_init(&e, 0);
	lm__hello__init(&h);
	h.has_user = h.has_host = h.has_display = 1;
	h.user = lm_bytes_from_cstr("bench");
	h.host = lm_bytes_from_cstr(r->host);
	h.display = lm_bytes_from_cstr(display);
	e.body_case = LM__ENVELOPE__BODY_HELLO;
	e.hello = &h;
	s->phase = IP_HELLO;
	lb_conn_send(conn, &e);
}

static void send_heartbeat(uv_timer_t *t)
{
	struct idle *s = t->data;
	struct idle_run *r = s->run;
	if (s->phase != IP_OPEN)
		return;
	Lm__Envelope e;
	Lm__Heartbeat hb;
	lm_envelope_init(&e, 0);
	lm__heartbeat__init(&hb);
	e.body_case = LM__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	r->heartbeats++;
	s->hb_outstanding = true;
	lb_conn_send(&s->conn, &e);
}

static void session_opened(struct idle *s, const Lm__SessionReply *reply)
{
	struct idle_run *r = s->run;
	r->opening--;
	r->open++;
	s->phase = IP_OPEN;
	if (r->probe) {
		lb_emit(r->o, "ready_unix_ms", (double)lb_wall_ms(), (char *)NULL);
		/* Leave nothing behind: the probe's session is closed at once. */
		Lm__Envelope e;
		Lm__SessionClose sc;
		lm_envelope_init(&e, 0);
		lm__session_close__init(&sc);
		e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE;
		e.session_close = &sc;
		lb_conn_send(&s->conn, &e);
		return;
	}
	unsigned hb = reply->has_heartbeat_ms && reply->heartbeat_ms ? reply->heartbeat_ms : 10000;
	r->heartbeat_ms = hb;
	/* Spread the first heartbeats over one period: clients of a real site
	 * were not all started in the same millisecond. */
	uint64_t first = (uint64_t)hb * (s->index % 1024) / 1024 + 1;
	uv_timer_init(r->loop, &s->heartbeat);
	s->heartbeat.data = s;
	uv_timer_start(&s->heartbeat, send_heartbeat, first, hb);
}

static void idle_frame(struct lb_conn *conn, const Lm__Envelope *env)
{
	struct idle *s = conn->data;
	struct idle_run *r = s->run;
	switch (env->body_case) {
	case LM__ENVELOPE__BODY_HELLO_REPLY:
		if (s->phase == IP_HELLO) {
			Lm__Envelope e;
			Lm__SessionOpen so;
			lm_envelope_init(&e, 0);
			lm__session_open__init(&so);
			e.body_case = LM__ENVELOPE__BODY_SESSION_OPEN;
			e.session_open = &so;
			s->phase = IP_SESSION;
			lb_conn_send(conn, &e);
		}
		return;
	case LM__ENVELOPE__BODY_SESSION_REPLY:
		if (s->phase == IP_SESSION)
			session_opened(s, env->session_reply);
		return;
	case LM__ENVELOPE__BODY_HEARTBEAT_REPLY:
		s->hb_outstanding = false;
		r->hb_replies++;
		return;
	case LM__ENVELOPE__BODY_SESSION_CLOSE_REPLY:
		if (r->probe)
			uv_stop(r->loop);
		return;
	case LM__ENVELOPE__BODY_ERROR_REPLY:
		/* Not serving yet (a probe during start-up), not the leader,
		 * or a real refusal: either way this attempt is over. */
		if (env->error_reply->code == LMC_ENOTLEADER) {
			int i = lb_server_index(r->o, env->error_reply->leader);
			if (i >= 0) {
				s->server = (unsigned)i;
				s->redirected = true;
			}
		} else if (!r->probe) {
			r->errors++;
			if (r->errors <= 10)
				fprintf(stderr, "lmbench sessions: %u: %s: %s\n", s->index,
				        lmc_errname(env->error_reply->code),
				        env->error_reply->message ? env->error_reply->message : "");
		}
		lb_conn_close(conn);
		return;
	default: return;
	}
}

static void idle_closed(struct lb_conn *conn, int status)
{
	struct idle *s = conn->data;
	struct idle_run *r = s->run;
	if (s->phase == IP_OPEN) {
		r->open--;
		r->lost++;
		uv_close((uv_handle_t *)&s->heartbeat, NULL);
		s->phase = IP_LOST;
		return;
	}
	r->opening--;
	/* A probe tries again at the next tick, at the next server unless a
	 * follower named the leader; a session that could not open is tried
	 * again too, since the point is to hold N. */
	if (!s->redirected)
		s->server = (s->server + 1) % (unsigned)r->o->nservers;
	s->redirected = false;
	wait_again(s);
}

static const struct lb_conn_cbs idle_cbs = {
        .connected = idle_connected, .frame = idle_frame, .closed = idle_closed};

static void report_established(struct idle_run *r)
{
	r->established = true;
	r->established_ns = lb_now_ns();
	double secs = (double)(r->established_ns - r->start_ns) / 1e9;
	char sessions[32];
	snprintf(sessions, sizeof sessions, "sessions=%u", r->n);
	lb_emit(r->o, "session_open_per_s", r->n / secs, sessions, (char *)NULL);
	/* bench/run waits for this line before it samples lmd. */
	printf("{\"event\":\"established\",\"sessions\":%u,\"seconds\":%.3f}\n", r->n, secs);
	fflush(stdout);
	fprintf(stderr, "sessions: %u open in %.1f s (%.0f/s), %llu retries\n", r->n, secs,
	        r->n / secs, (unsigned long long)r->errors);
}

static void on_tick(uv_timer_t *t)
{
	struct idle_run *r = t->data;
	uint64_t now = lb_now_ns();
	if (now >= r->deadline_ns) {
		if (!r->established) {
			fprintf(stderr, "lmbench %s: only %u of %u sessions open after %.0f s\n",
			        r->probe ? "probe" : "sessions", r->open, r->n, r->o->timeout);
			r->status = 1;
		}
		uv_stop(r->loop);
		return;
	}
	if (!r->established && r->open == r->n && !r->probe) {
		report_established(r);
		r->deadline_ns = now + (uint64_t)(r->o->hold * 1e9);
		return;
	}
	/* Start new handshakes up to the cap, and retry the failed ones.  A
	 * start that fails at once goes back on the stack: stop there. */
	unsigned budget = r->nwaiting;
	while (budget-- > 0 && r->opening < OPENING_MAX && r->nwaiting > 0)
		start_one(&r->sessions[r->waiting[--r->nwaiting]]);
}

static int run(const struct lb_options *o, unsigned n, bool probe)
{
	struct idle_run *r = calloc(1, sizeof *r);
	if (!r || !(r->sessions = calloc(n, sizeof *r->sessions)) ||
	    !(r->waiting = calloc(n, sizeof *r->waiting))) {
		if (r)
			free(r->sessions);
		free(r);
		return 2;
	}
	r->o = o;
	r->n = n;
	r->probe = probe;
	r->loop = uv_default_loop();
	snprintf(r->host, sizeof r->host, "lmbench-%d", (int)getpid());
	r->start_ns = lb_now_ns();
	r->deadline_ns = r->start_ns + (uint64_t)(o->timeout * 1e9);
	/* Pushed last first, so that session 0 starts first. */
	for (unsigned i = n; i-- > 0;) {
		r->sessions[i].run = r;
		r->sessions[i].index = i;
		wait_again(&r->sessions[i]);
	}
	uv_timer_init(r->loop, &r->tick);
	r->tick.data = r;
	uv_timer_start(&r->tick, on_tick, 0, TICK_MS);
	uv_run(r->loop, UV_RUN_DEFAULT);
	int status = r->status;
	if (probe && r->open == 0)
		status = 1;
	if (!probe && status == 0)
		fprintf(stderr,
		        "sessions: held %.0f s: %llu heartbeats, %llu answered, %u sessions "
		        "lost, heartbeat every %u ms\n",
		        o->hold, (unsigned long long)r->heartbeats,
		        (unsigned long long)r->hb_replies, r->lost, r->heartbeat_ms);
	if (!probe && r->lost)
		status = 1;
	/* The sockets close with the process: the sessions stay on the server
	 * until they expire, which is what the restart measurement wants. */
	return status;
}

int lb_sessions(const struct lb_options *o)
{
	if (o->sessions == 0)
		return 2;
	unsigned long limit = lb_raise_nofile();
	if (limit < (unsigned long)o->sessions + 64) {
		fprintf(stderr,
		        "lmbench sessions: %u sessions need %u open files, the limit is %lu\n",
		        o->sessions, o->sessions + 64, limit);
		return 1;
	}
	return run(o, o->sessions, false);
}

int lb_probe(const struct lb_options *o)
{
	return run(o, 1, true);
}
