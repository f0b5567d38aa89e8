/* One simulated client of the checkout load (load.c).
 *
 * Each simulated client behaves as liblmc's session thread does
 * (client/session.c), without its threads: Hello, SessionOpen, then
 * Checkout and Checkin in turn, one request at a time, each numbered with
 * the session's next request id.  A request interrupted by a lost
 * connection or a change of leader is sent again with the same id once the
 * session is resumed on the server that leads now, which is what makes the
 * retry safe (DESIGN.md §2.3).  A follower's LMC_ENOTLEADER names the
 * leader, and the client goes there. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/load_internal.h"
#include "core/error.h"

/* Pause before trying again after a server refused or vanished. */
#define RETRY_NS (20u * 1000000u)

static const struct lb_conn_cbs client_cbs;

void lb_client_set_phase(struct lb_client *c, enum lb_phase p)
{
	c->phase = p;
	c->phase_ns = lb_now_ns();
}

void lb_client_connect(struct lb_client *c)
{
	struct lb_load *L = c->load;
	lb_client_set_phase(c, PH_CONNECTING);
	int rc = lb_conn_start(&c->conn, L->loop, &L->o->server_addrs[c->server],
	                       lb_source_addr(L->o, c->index, L->n), &client_cbs, c);
	if (rc != 0) {
		lb_client_set_phase(c, PH_WAIT);
		c->retry_ns = lb_now_ns() + RETRY_NS;
	}
}

/* The client gives up on this server: the connection closes, and
 * client_closed() schedules the next attempt at c->server after delay. */
void lb_client_leave(struct lb_client *c, unsigned next_server, uint64_t delay_ns)
{
	c->server = next_server;
	c->retry_ns = lb_now_ns() + delay_ns;
	lb_conn_close(&c->conn);
}

unsigned lb_client_next_server(struct lb_client *c)
{
	return (c->server + 1) % (unsigned)c->load->o->nservers;
}

static void send_env(struct lb_client *c, Lm__Envelope *e)
{
	lb_conn_send(&c->conn, e);
}

static void send_hello(struct lb_client *c)
{
	struct lb_load *L = c->load;
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
	lb_client_set_phase(c, PH_HELLO);
	send_env(c, &e);
}

static void send_session_open(struct lb_client *c)
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
	lb_client_set_phase(c, PH_SESSION);
	send_env(c, &e);
}

static void send_op(struct lb_client *c)
{
	struct lb_load *L = c->load;
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
	lb_client_set_phase(c, PH_RUN);
	send_env(c, &e);
}

static void send_close(struct lb_client *c)
{
	Lm__Envelope e;
	Lm__SessionClose sc;
	lm_envelope_init(&e, 0);
	lm__session_close__init(&sc);
	e.body_case = LM__ENVELOPE__BODY_SESSION_CLOSE;
	e.session_close = &sc;
	lb_client_set_phase(c, PH_CLOSING);
	send_env(c, &e);
}

/* The next step of the loop once the previous op is answered. */
static void next_op(struct lb_client *c)
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
static void op_done(struct lb_client *c)
{
	struct lb_load *L = c->load;
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

static void on_error(struct lb_client *c, const Lm__ErrorReply *er)
{
	struct lb_load *L = c->load;
	switch (er->code) {
	case LMC_ENOTLEADER: {
		int i = lb_server_index(L->o, er->leader);
		L->redirects++;
		lb_client_leave(c,
		                i >= 0 && (unsigned)i != c->server ? (unsigned)i
		                                                   : lb_client_next_server(c),
		                i >= 0 ? 0 : RETRY_NS);
		return;
	}
	case LMC_ENOQUORUM:
	case LMC_ESHUTDOWN: lb_client_leave(c, lb_client_next_server(c), RETRY_NS); return;
	case LMC_ENOSESSION:
		/* Expired or unknown here: its seat went back to the pool. */
		c->have_session = false;
		if (c->op == OP_CHECKIN)
			c->op = OP_NONE;
		c->handle = 0;
		lb_client_leave(c, c->server, 0);
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
		lb_client_leave(c, lb_client_next_server(c), 100u * 1000000u);
	}
}

static void client_connected(struct lb_conn *conn)
{
	send_hello(conn->data);
}

static void client_frame(struct lb_conn *conn, const Lm__Envelope *env)
{
	struct lb_client *c = conn->data;
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
	struct lb_client *c = conn->data;
	struct lb_load *L = c->load;
	if (L->stopping) {
		lb_client_set_phase(c, PH_DONE);
		L->live--;
		return;
	}
	L->reconnects++;
	if (c->retry_ns == 0) {
		/* Not our choice: the server hung up or refused, so try the
		 * next one after a pause. */
		c->server = lb_client_next_server(c);
		c->retry_ns = lb_now_ns() + RETRY_NS;
	}
	lb_client_set_phase(c, PH_WAIT);
}

static const struct lb_conn_cbs client_cbs = {
        .connected = client_connected, .frame = client_frame, .closed = client_closed};
