/* lmbench: the command line, and what every mode shares (see lmbench.h). */
#include "config.h"

#include "bench/lmbench.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/uvconn.h"
#include "client/source.h"
#include "core/server_key.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: lmbench MODE [options]   (bench/run drives it)\n"
	        "modes:\n"
	        "  echo-server --port N          frame echo server on 127.0.0.1:N\n"
	        "  echo --servers S --clients N  closed-loop echo round trips: the loopback\n"
	        "                                ceiling (loopback_rtt_per_s)\n"
	        "  fsync DIR                     small write + fdatasync (fsync_per_s), and\n"
	        "                                O_DIRECT|O_DSYNC block writes as raft's log\n"
	        "                                does them (dsync_write_per_s)\n"
	        "  checkout --servers S --clients N [--pids P,...]\n"
	        "                                closed loop: each client checks a seat out and\n"
	        "                                in again (checkout_ops_per_s, _p50_ms, _p99_ms;\n"
	        "                                with --pids, the servers' CPU time per op:\n"
	        "                                checkout_server_cpu_us_per_op)\n"
	        "  failover --servers A,B,C --pids P1,P2,P3 --clients N\n"
	        "                                checkout load, kill -9 of the leader, time until\n"
	        "                                every client checked out again (failover_ms)\n"
	        "  sessions --servers S --sessions N\n"
	        "                                idle sessions that heartbeat; prints a line\n"
	        "                                {\"event\":\"established\"} once all are open\n"
	        "  probe --servers S             wait until a session opens; prints the\n"
	        "                                wall-clock time of that (ready_unix_ms)\n"
	        "options:\n"
	        "  --seconds S       measuring window (default 5)\n"
	        "  --warmup S        seconds of load before the window opens (default 1)\n"
	        "  --hold S          sessions: stay connected this long once all are open\n"
	        "  --timeout S       probe, failover, sessions: give up after this long (60)\n"
	        "  --feature F       feature to check out (default bench)\n"
	        "  --version V       version asked for (default 1.0)\n"
	        "  --label K=V       added to every figure printed (repeatable)\n"
	        "  --tls KEY         speak TLS, the server proving the server key KEY\n"
	        "                    (lmutil lmhostid --server; \"any\": no pin)\n");
}

uint64_t lb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lb_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* True when text is a JSON number as strtod reads it, with nothing after. */
static bool is_number(const char *text)
{
	char *end;
	if (!*text)
		return false;
	strtod(text, &end);
	return *end == '\0';
}

static void emit_label(const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq)
		return;
	printf(",\"%.*s\":", (int)(eq - kv), kv);
	if (is_number(eq + 1))
		printf("%s", eq + 1);
	else
		printf("\"%s\"", eq + 1);
}

void lb_emit(const struct lb_options *o, const char *metric, double value, ...)
{
	/* Three decimals at most, and integers in full (a wall-clock time in
	 * milliseconds has 13 digits). */
	double rounded = (double)(long long)(value * 1000 + (value < 0 ? -0.5 : 0.5)) / 1000;
	printf("{\"metric\":\"%s\",\"value\":%.15g", metric, rounded);
	va_list ap;
	va_start(ap, value);
	const char *kv;
	while ((kv = va_arg(ap, const char *)))
		emit_label(kv);
	va_end(ap);
	for (size_t i = 0; i < o->nlabels; i++)
		emit_label(o->labels[i]);
	printf("}\n");
	fflush(stdout);
}

unsigned long lb_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	/* Root may raise the hard limit up to fs.nr_open; others get the
	 * hard limit they have. */
	struct rlimit want = {.rlim_cur = 1 << 20, .rlim_max = 1 << 20};
	if (rl.rlim_max < want.rlim_max && setrlimit(RLIMIT_NOFILE, &want) == 0)
		return want.rlim_cur;
	want.rlim_cur = want.rlim_max = 200000;
	if (rl.rlim_max < want.rlim_max && setrlimit(RLIMIT_NOFILE, &want) == 0)
		return want.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

/* Connections per loopback source address: below the ~28000 ephemeral
 * ports of the default range, with room for whatever else runs here. */
#define PER_SOURCE 20000

const struct sockaddr_in *lb_source_addr(const struct lb_options *o, unsigned i, unsigned n)
{
	static struct sockaddr_in src;
	if (n <= PER_SOURCE || o->nservers == 0 ||
	    (ntohl(o->server_addrs[0].sin_addr.s_addr) >> 24) != 127)
		return NULL;
	unsigned k = (n + PER_SOURCE - 1) / PER_SOURCE;
	memset(&src, 0, sizeof src);
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000001u + i % k);
	return &src;
}

int lb_server_index(const struct lb_options *o, const char *address)
{
	struct lm_address a;
	if (!address || lm_address_parse(address, &a, NULL, 0) != 0)
		return -1;
	for (size_t i = 0; i < o->nservers; i++)
		if (lm_address_equal(&o->servers[i], &a))
			return (int)i;
	/* The leader names itself by its SERVER line's host, which may differ
	 * from the name we were given (localhost vs 127.0.0.1): the port
	 * decides on a local triad. */
	for (size_t i = 0; i < o->nservers; i++)
		if (o->servers[i].port == a.port)
			return (int)i;
	return -1;
}

static int parse_servers(struct lb_options *o, const char *text)
{
	struct lm_source l;
	char err[256];
	lm_source_init(&l);
	if (lm_source_parse(&l, text, err, sizeof err) != 0 || l.nfiles || !l.nservers) {
		fprintf(stderr, "lmbench: --servers %s: %s\n", text,
		        l.nfiles ? "expected port@host entries" : err);
		lm_source_free(&l);
		return -1;
	}
	for (size_t i = 0; i < l.nservers && o->nservers < LB_SERVERS_MAX; i++) {
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
		if (getaddrinfo(l.servers[i].host, NULL, &hints, &res) != 0) {
			fprintf(stderr, "lmbench: cannot resolve %s to IPv4\n", l.servers[i].host);
			lm_source_free(&l);
			return -1;
		}
		o->server_addrs[o->nservers] = *(struct sockaddr_in *)res->ai_addr;
		o->server_addrs[o->nservers].sin_port = htons(l.servers[i].port);
		freeaddrinfo(res);
		o->servers[o->nservers++] = l.servers[i];
	}
	lm_source_free(&l);
	return 0;
}

static int parse_pids(struct lb_options *o, char *text)
{
	for (char *save, *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->npids == LB_SERVERS_MAX || atoi(tok) <= 0)
			return -1;
		o->pids[o->npids++] = atoi(tok);
	}
	return o->npids ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
	        {"servers", required_argument, NULL, 's'},
	        {"clients", required_argument, NULL, 'c'},
	        {"sessions", required_argument, NULL, 'n'},
	        {"seconds", required_argument, NULL, 't'},
	        {"warmup", required_argument, NULL, 'w'},
	        {"hold", required_argument, NULL, 'H'},
	        {"timeout", required_argument, NULL, 'T'},
	        {"feature", required_argument, NULL, 'f'},
	        {"version", required_argument, NULL, 'v'},
	        {"port", required_argument, NULL, 'p'},
	        {"pids", required_argument, NULL, 'P'},
	        {"label", required_argument, NULL, 'l'},
	        {"tls", required_argument, NULL, 'S'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	static struct lb_options o = {
	        .clients = 1,
	        .sessions = 1000,
	        .seconds = 5,
	        .warmup = 1,
	        .hold = 10,
	        .timeout = 60,
	        .feature = "bench",
	        .version = "1.0",
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *mode = argv[1];
	optind = 2;
	int opt;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (parse_servers(&o, optarg) != 0)
				return 2;
			break;
		case 'c': o.clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': o.sessions = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': o.seconds = strtod(optarg, NULL); break;
		case 'w': o.warmup = strtod(optarg, NULL); break;
		case 'H': o.hold = strtod(optarg, NULL); break;
		case 'T': o.timeout = strtod(optarg, NULL); break;
		case 'f': o.feature = optarg; break;
		case 'v': o.version = optarg; break;
		case 'p': o.port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P':
			if (parse_pids(&o, optarg) != 0) {
				fprintf(stderr, "lmbench: --pids: expected PID,PID,...\n");
				return 2;
			}
			break;
		case 'l':
			if (o.nlabels < sizeof o.labels / sizeof o.labels[0] && strchr(optarg, '='))
				o.labels[o.nlabels++] = optarg;
			break;
		case 'S': {
			uint8_t key[LM_SERVER_KEY_LEN];
			char why[200];
			bool any = strcmp(optarg, "any") == 0;
			if (!any && lm_server_key_parse(optarg, key, why, sizeof why) != 0) {
				fprintf(stderr, "lmbench: --tls: %s\n", why);
				return 2;
			}
			if (lb_conn_use_tls(any ? NULL : key) != 0) {
				fprintf(stderr, "lmbench: out of memory for TLS\n");
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (strcmp(mode, "fsync") == 0 && optind < argc)
		o.dir = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "lmbench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	/* A server that goes away mid-write must not kill the generator. */
	signal(SIGPIPE, SIG_IGN);
	lb_raise_nofile();

	bool needs_servers = strcmp(mode, "echo-server") != 0 && strcmp(mode, "fsync") != 0;
	if (needs_servers && o.nservers == 0) {
		fprintf(stderr, "lmbench %s: --servers is required\n", mode);
		return 2;
	}
	if (strcmp(mode, "echo-server") == 0)
		return lb_echo_server(&o);
	if (strcmp(mode, "echo") == 0)
		return lb_echo(&o);
	if (strcmp(mode, "fsync") == 0)
		return lb_fsync(&o);
	if (strcmp(mode, "checkout") == 0)
		return lb_checkout(&o);
	if (strcmp(mode, "failover") == 0)
		return lb_failover(&o);
	if (strcmp(mode, "sessions") == 0)
		return lb_sessions(&o);
	if (strcmp(mode, "probe") == 0)
		return lb_probe(&o);
	fprintf(stderr, "lmbench: unknown mode '%s'\n", mode);
	usage(stderr);
	return 2;
}
