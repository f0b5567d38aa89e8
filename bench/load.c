/* Closed-loop checkout load, and the failover measurement built on it.
 * What each client does is in load_client.c.
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

#include "bench/load_internal.h"

/* A request, or a connection step, with no answer for this long is given
 * up: the client moves to the next server, as liblmc does. */
#define STEP_TIMEOUT_NS (5000u * 1000000u)
/* How long the clients get to close their sessions at the end. */
#define STOP_GRACE_NS (3000u * 1000000u)
#define TICK_MS       10

/* The server the clients are served by now: the one most running clients
 * are connected to. */
static int current_leader(struct lb_load *L)
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

static void begin_stop(struct lb_load *L)
{
	L->stopping = true;
	L->stop_ns = lb_now_ns() + STOP_GRACE_NS;
	for (unsigned i = 0; i < L->n; i++) {
		struct lb_client *c = &L->clients[i];
		if (c->phase == PH_WAIT) {
			lb_client_set_phase(c, PH_DONE);
			L->live--;
		} else if (c->phase != PH_RUN && c->phase != PH_CLOSING && c->phase != PH_DONE) {
			lb_conn_close(&c->conn);
		}
	}
}

/* User and system CPU time of every --pids process, in clock ticks; -1 when
 * one cannot be read (it exited). */
static long long servers_cpu_ticks(const struct lb_options *o)
{
	long long total = 0;
	for (size_t i = 0; i < o->npids; i++) {
		char path[64], buf[1024];
		snprintf(path, sizeof path, "/proc/%d/stat", o->pids[i]);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		/* Fields 14 and 15 (utime, stime) follow the command name,
		 * which ends at the last ')'. */
		char *p = strrchr(buf, ')');
		unsigned long long utime, stime;
		if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		                 &utime, &stime) != 2)
			return -1;
		total += (long long)(utime + stime);
	}
	return total;
}

static void on_tick(uv_timer_t *t)
{
	struct lb_load *L = t->data;
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
	if (!L->failover && L->o->npids && L->cpu_start < 0 && now >= L->window_start)
		L->cpu_start = servers_cpu_ticks(L->o);
	if (L->failover ? (L->killed && (L->recovered == L->n || now >= L->deadline_ns))
	                : now >= L->window_end) {
		if (!L->failover && L->o->npids && L->cpu_start >= 0)
			L->cpu_end = servers_cpu_ticks(L->o);
		begin_stop(L);
		return;
	}
	for (unsigned i = 0; i < L->n; i++) {
		struct lb_client *c = &L->clients[i];
		if (c->phase == PH_WAIT && now >= c->retry_ns) {
			c->retry_ns = 0;
			lb_client_connect(c);
		} else if (c->phase != PH_WAIT && c->phase != PH_DONE &&
		           now - (c->phase == PH_RUN ? c->sent_ns : c->phase_ns) >
		                   STEP_TIMEOUT_NS) {
			lb_client_leave(c, lb_client_next_server(c), 0);
		}
	}
}

static struct lb_load *load_new(const struct lb_options *o)
{
	if (o->clients == 0)
		return NULL;
	struct lb_load *L = calloc(1, sizeof *L);
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
	L->cpu_start = L->cpu_end = -1;
	for (unsigned i = 0; i < L->n; i++) {
		struct lb_client *c = &L->clients[i];
		c->load = L;
		c->index = i;
		c->server = 0;
		L->live++;
		lb_client_connect(c);
	}
	uv_timer_init(L->loop, &L->tick);
	L->tick.data = L;
	uv_timer_start(&L->tick, on_tick, TICK_MS, TICK_MS);
	return L;
}

static void load_free(struct lb_load *L)
{
	free(L->clients);
	free(L);
}

int lb_checkout(const struct lb_options *o)
{
	struct lb_load *L = load_new(o);
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
	/* The servers' CPU time per op: what a change costs them, much less
	 * sensitive than ops/s to how this machine schedules the clients. */
	if (L->cpu_start >= 0 && L->cpu_end >= L->cpu_start && L->ops)
		lb_emit(o, "checkout_server_cpu_us_per_op",
		        (double)(L->cpu_end - L->cpu_start) * 1e6 / (double)sysconf(_SC_CLK_TCK) /
		                (double)L->ops,
		        clients, (char *)NULL);
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
	struct lb_load *L = load_new(o);
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
