/* What lmd counts per client address (peers.h): connections, session
 * opens per second, and when each kind of refusal was last logged. */
#include "lmd/peers.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define INITIAL_CAPACITY 256

static const uint8_t zero_key[16];

int lm_peers_init(struct lm_peers *t, unsigned conns_max, unsigned sessions_rate)
{
	memset(t, 0, sizeof *t);
	t->capacity = INITIAL_CAPACITY;
	t->slots = calloc(t->capacity, sizeof *t->slots);
	t->conns_max = conns_max;
	t->sessions_rate = sessions_rate;
	/* A host that starts many applications at once (a login script, a
	 * render farm node) may open a second's worth of sessions at once. */
	t->sessions_burst = sessions_rate;
	return t->slots ? 0 : -1;
}

void lm_peers_close(struct lm_peers *t)
{
	free(t->slots);
	memset(t, 0, sizeof *t);
}

void lm_peers_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(key, &in6->sin6_addr, 16);
	}
}

static size_t slot_of(const struct lm_peers *t, const uint8_t key[16])
{
	/* FNV-1a: addresses of one network share most of their bytes. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	return (size_t)h & (t->capacity - 1);
}

static struct lm_peer *find(struct lm_peers *t, const uint8_t key[16])
{
	for (size_t i = slot_of(t, key);; i = (i + 1) & (t->capacity - 1)) {
		if (memcmp(t->slots[i].addr, key, 16) == 0)
			return &t->slots[i];
		if (memcmp(t->slots[i].addr, zero_key, 16) == 0)
			return NULL;
	}
}

static struct lm_peer *insert_slot(struct lm_peers *t, const uint8_t key[16])
{
	size_t i = slot_of(t, key);
	while (memcmp(t->slots[i].addr, zero_key, 16) != 0)
		i = (i + 1) & (t->capacity - 1);
	t->count++;
	return &t->slots[i];
}

/* Rebuilds the table at capacity, keeping the entries keep() accepts. */
static int rebuild(struct lm_peers *t, size_t capacity, uint64_t now_ms,
                   bool (*keep)(const struct lm_peers *, const struct lm_peer *, uint64_t))
{
	struct lm_peer *old = t->slots;
	size_t old_capacity = t->capacity;
	struct lm_peer *slots = calloc(capacity, sizeof *slots);
	if (!slots)
		return -1;
	t->slots = slots;
	t->capacity = capacity;
	t->count = 0;
	for (size_t i = 0; i < old_capacity; i++)
		if (memcmp(old[i].addr, zero_key, 16) != 0 && keep(t, &old[i], now_ms))
			*insert_slot(t, old[i].addr) = old[i];
	free(old);
	return 0;
}

static bool keep_all(const struct lm_peers *t, const struct lm_peer *p, uint64_t now_ms)
{
	(void)t, (void)p, (void)now_ms;
	return true;
}

static void refill(const struct lm_peers *t, struct lm_peer *p, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)t->sessions_burst * 1000;
	if (now_ms > p->refilled_ms) {
		p->tokens_milli += (now_ms - p->refilled_ms) * t->sessions_rate;
		if (p->tokens_milli > cap)
			p->tokens_milli = cap;
	}
	p->refilled_ms = now_ms;
}

static struct lm_peer *get(struct lm_peers *t, const uint8_t key[16])
{
	if (memcmp(key, zero_key, 16) == 0)
		return NULL;
	struct lm_peer *p = find(t, key);
	if (p)
		return p;
	/* At most half full, so that probes stay short and always end. */
	if ((t->count + 1) * 2 > t->capacity && rebuild(t, t->capacity * 2, 0, keep_all) != 0)
		return NULL;
	p = insert_slot(t, key);
	memset(p, 0, sizeof *p);
	memcpy(p->addr, key, 16);
	p->tokens_milli = (uint64_t)t->sessions_burst * 1000;
	return p;
}

bool lm_peers_connect(struct lm_peers *t, const uint8_t key[16])
{
	if (memcmp(key, zero_key, 16) == 0)
		return true; /* not an IP peer: nothing to count it by */
	struct lm_peer *p = get(t, key);
	if (!p || (t->conns_max && p->conns >= t->conns_max))
		return false;
	p->conns++;
	return true;
}

void lm_peers_disconnect(struct lm_peers *t, const uint8_t key[16])
{
	struct lm_peer *p = memcmp(key, zero_key, 16) ? find(t, key) : NULL;
	if (p && p->conns > 0)
		p->conns--;
}

bool lm_peers_hold_pending(struct lm_peers *t, const uint8_t key[16], size_t old_size,
                           size_t new_size, size_t max)
{
	struct lm_peer *p = memcmp(key, zero_key, 16) ? find(t, key) : NULL;
	if (!p)
		return true; /* not counted by address: the server-wide budget holds it */
	size_t others = p->pending > old_size ? p->pending - old_size : 0;
	if (new_size > old_size && others + new_size > max)
		return false;
	p->pending = others + new_size;
	return true;
}

bool lm_peers_take_session(struct lm_peers *t, const uint8_t key[16], uint64_t now_ms)
{
	if (t->sessions_rate == 0)
		return true;
	struct lm_peer *p = get(t, key);
	if (!p)
		return memcmp(key, zero_key, 16) == 0;
	refill(t, p, now_ms);
	if (p->tokens_milli < 1000)
		return false;
	p->tokens_milli -= 1000;
	return true;
}

bool lm_peers_should_log(struct lm_peers *t, const uint8_t key[16], enum lm_peers_log_kind kind,
                         uint64_t now_ms, uint64_t window_ms, unsigned *suppressed)
{
	struct lm_peer *p = get(t, key);
	*suppressed = 0;
	if (!p)
		return true;
	if (p->logged_ms[kind] && now_ms - p->logged_ms[kind] < window_ms) {
		p->suppressed[kind]++;
		return false;
	}
	*suppressed = p->suppressed[kind];
	p->suppressed[kind] = 0;
	p->logged_ms[kind] = now_ms ? now_ms : 1;
	return true;
}

static bool still_needed(const struct lm_peers *t, const struct lm_peer *p, uint64_t now_ms)
{
	if (p->conns > 0 || p->pending > 0)
		return true;
	/* A refusal logged lately keeps its entry, or the next one would be
	 * logged at once. */
	for (int k = 0; k < LM_PEERS_LOG_KINDS; k++)
		if (p->suppressed[k] > 0 || (p->logged_ms[k] && now_ms - p->logged_ms[k] < 60000))
			return true;
	struct lm_peer copy = *p;
	refill(t, &copy, now_ms);
	return copy.tokens_milli < (uint64_t)t->sessions_burst * 1000;
}

void lm_peers_prune(struct lm_peers *t, uint64_t now_ms)
{
	size_t capacity = t->capacity;
	/* Shrink after a flood from many addresses is over. */
	while (capacity > INITIAL_CAPACITY && t->count * 8 < capacity)
		capacity /= 2;
	rebuild(t, capacity, now_ms, still_needed);
}
