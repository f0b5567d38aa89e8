/* lmd's replication transport: the preamble's bytes, our own written and
 * the other side's checked, in the order transport.h lists; and raft
 * addresses, which the preamble carries. */
#include "config.h"

#include "lmd/transport_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/error.h"
#include "lmd/little_endian.h"

#define ADDRESS_OFFSET    40
#define ADDRESS_FIELD     64
#define CLUSTER_ID_OFFSET 104

_Static_assert(ADDRESS_OFFSET + ADDRESS_FIELD == CLUSTER_ID_OFFSET, "preamble layout");
_Static_assert(CLUSTER_ID_OFFSET + LM_CLUSTER_ID_SIZE == LM_TRANSPORT_PREAMBLE, "preamble layout");
_Static_assert(LM_TRANSPORT_ADDRESS_MAX < ADDRESS_FIELD, "the address field keeps a zero");

int lm_transport_parse_address(const char *address, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	unsigned port = 0, digits = 0;

	if (address == NULL ||
	    strnlen(address, LM_TRANSPORT_ADDRESS_MAX + 1) > LM_TRANSPORT_ADDRESS_MAX)
		return LMC_EINVAL;
	const char *colon = strrchr(address, ':');
	if (colon == NULL || colon == address || (size_t)(colon - address) >= sizeof host)
		return LMC_EINVAL;
	/* Digits only: strtoul() would take signs and blanks. */
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || ++digits > 5)
			return LMC_EINVAL;
		port = port * 10 + (unsigned)(*p - '0');
	}
	if (digits == 0 || port == 0 || port > 65535)
		return LMC_EINVAL;
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = '\0';
	return uv_ip4_addr(host, (int)port, sa) == 0 ? 0 : LMC_EINVAL;
}

static bool known_cluster_id(struct lm_transport *t, uint8_t id[LM_CLUSTER_ID_SIZE])
{
	return t->cfg.cluster_id && t->cfg.cluster_id(t->cfg.cluster_id_arg, id);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

void lm_transport_preamble_encode(struct lm_transport *t, uint8_t *p)
{
	size_t n = strlen(t->address);

	memset(p, 0, LM_TRANSPORT_PREAMBLE);
	memcpy(p, LM_TRANSPORT_MAGIC, 8);
	lm_le_put(p + 8, LM_TRANSPORT_VERSION, 2);
	lm_le_put(p + 10, n, 2);
	memcpy(p + 16, t->cfg.config_id, LM_CONFIG_ID_SIZE);
	lm_le_put(p + 32, t->id, 8);
	memcpy(p + ADDRESS_OFFSET, t->address, n);
	if (!known_cluster_id(t, p + CLUSTER_ID_OFFSET))
		memset(p + CLUSTER_ID_OFFSET, 0, LM_CLUSTER_ID_SIZE);
}

/* Checks a whole preamble; refuses the connection (and returns false) at the
 * first thing wrong.  The format comes first and the identity last, so that
 * a peer of another cluster is told apart from a broken one. */
bool lm_transport_preamble_check(struct lm_handshake *hs)
{
	struct lm_transport *t = hs->t;
	const uint8_t *p = hs->in;
	struct sockaddr_in sa;

	unsigned version = (unsigned)lm_le_get(p + 8, 2);
	if (version != LM_TRANSPORT_VERSION) {
		lm_handshake_refuse(hs, "handshake version %u, this lmd speaks %d", version,
		                    LM_TRANSPORT_VERSION);
		return false;
	}
	if (lm_le_get(p + 12, 4) != 0) {
		lm_handshake_refuse(hs, "the handshake's reserved bytes are not zero");
		return false;
	}
	raft_id id = lm_le_get(p + 32, 8);
	if (id == 0 || id > UINT32_MAX) {
		lm_handshake_refuse(hs, "raft id %llu is out of range", (unsigned long long)id);
		return false;
	}
	size_t n = (size_t)lm_le_get(p + 10, 2);
	if (n == 0 || n > LM_TRANSPORT_ADDRESS_MAX) {
		lm_handshake_refuse(hs, "address length %zu is not between 1 and %d", n,
		                    LM_TRANSPORT_ADDRESS_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (p[ADDRESS_OFFSET + i] <= ' ' || p[ADDRESS_OFFSET + i] > '~') {
			lm_handshake_refuse(hs, "its address is not printable");
			return false;
		}
	for (size_t i = n; i < ADDRESS_FIELD; i++)
		if (p[ADDRESS_OFFSET + i] != 0) {
			lm_handshake_refuse(hs, "its address is not followed by zeros");
			return false;
		}
	memcpy(hs->peer_address, p + ADDRESS_OFFSET, n);
	hs->peer_address[n] = '\0';
	if (lm_transport_parse_address(hs->peer_address, &sa) != 0) {
		lm_handshake_refuse(hs, "its address \"%s\" is not IPV4:PORT", hs->peer_address);
		return false;
	}
	if (memcmp(p + 16, t->cfg.config_id, LM_CONFIG_ID_SIZE) != 0) {
		lm_handshake_refuse(hs,
		                    "it belongs to another cluster (raft id %llu at %s): check the "
		                    "--peer-port and the license file of both",
		                    (unsigned long long)id, hs->peer_address);
		return false;
	}
	uint8_t ours[LM_CLUSTER_ID_SIZE];
	const uint8_t *theirs = p + CLUSTER_ID_OFFSET;
	if (!is_zero(theirs, LM_CLUSTER_ID_SIZE) && known_cluster_id(t, ours) &&
	    memcmp(theirs, ours, LM_CLUSTER_ID_SIZE) != 0) {
		char a[2 * LM_CLUSTER_ID_SIZE + 1], b[2 * LM_CLUSTER_ID_SIZE + 1];
		lm_hex_encode(theirs, LM_CLUSTER_ID_SIZE, a);
		lm_hex_encode(ours, LM_CLUSTER_ID_SIZE, b);
		lm_handshake_refuse(
		        hs,
		        "it holds the data of another cluster (raft id %llu at %s, cluster id %s; "
		        "this one is %s): its data directory is from an earlier or another "
		        "cluster of the same servers; to bring it into this one, start it with "
		        "--join on an empty --data and run `lmutil lmreplace`",
		        (unsigned long long)id, hs->peer_address, a, b);
		return false;
	}
	if (hs->outgoing && id != hs->want_id) {
		lm_handshake_refuse(hs, "it is raft id %llu, not %llu", (unsigned long long)id,
		                    (unsigned long long)hs->want_id);
		return false;
	}
	if (!hs->outgoing && id == t->id) {
		lm_handshake_refuse(hs, "raft id %llu is this server's own",
		                    (unsigned long long)id);
		return false;
	}
	hs->peer_id = id;
	return true;
}
