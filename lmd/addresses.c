/* Where the servers of the license listen (addresses.h). */
#include "config.h"

#include "lmd/addresses.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* Raft's 0.15 TCP transport takes IPv4 literals only (stack-notes §1.12). */
static void resolve_ipv4(const char *host, char *out, size_t size)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		lm_fatal(
		        "replication host %s: %s (the replication transport needs an IPv4 address)",
		        host, gai_strerror(rc));
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)size);
	freeaddrinfo(res);
}

void lm_addresses_plan(struct lm_server *s)
{
	const struct lm_license_file *f = &s->license;
	if (s->node > (unsigned)f->nservers)
		lm_fatal("--node %u: %s has %d SERVER line%s", s->node, s->cfg.license_path,
		         f->nservers, f->nservers == 1 ? "" : "s");
	s->port = s->cfg.port ? s->cfg.port : f->servers[s->node - 1].port;
	if (!s->port)
		s->port = 27000;
	for (int i = 0; i < f->nservers; i++) {
		unsigned port = (unsigned)i + 1 == s->node ? s->port : f->servers[i].port;
		snprintf(s->addresses[i], sizeof s->addresses[i], "%u@%s", port,
		         f->servers[i].host);
		/* Every server computes every address the same way, so the
		 * three must be started with the same --peer-port. */
		unsigned peer = s->cfg.peer_ports[i] ? s->cfg.peer_ports[i] : port + 100;
		if (peer > 65535)
			lm_fatal("SERVER line %d: port %u + 100 is not a port; give --peer-port",
			         i + 1, port);
		char ip[INET_ADDRSTRLEN];
		/* A single server replicates to nobody: keep its raft port on
		 * loopback whatever its host name says. */
		if (f->nservers == 1)
			snprintf(ip, sizeof ip, "127.0.0.1");
		else
			resolve_ipv4(s->cfg.peer_hosts[i] ? s->cfg.peer_hosts[i]
			                                  : f->servers[i].host,
			             ip, sizeof ip);
		snprintf(s->raft_addresses[i], sizeof s->raft_addresses[i], "%s:%u", ip, peer);
		for (int j = 0; j < i; j++)
			if (strcmp(s->raft_addresses[i], s->raft_addresses[j]) == 0)
				lm_fatal("SERVER lines %d and %d would both replicate on %s: "
				         "servers "
				         "on one machine need one --peer-port each (--peer-port "
				         "N1,N2,N3)",
				         j + 1, i + 1, s->raft_addresses[i]);
	}
}
