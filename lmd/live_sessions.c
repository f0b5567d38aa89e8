/* The leader's table of live sessions (live_sessions.h): an open-addressing
 * hash table keyed by session id. */
#include "lmd/live_sessions.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY 1024

/* Session ids are random, so their low bits are already well spread; the
 * multiply only guards against a client that picks them badly. */
static size_t slot_of(const struct lm_live_sessions *t, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (t->capacity - 1);
}

int lm_live_sessions_init(struct lm_live_sessions *t)
{
	t->capacity = INITIAL_CAPACITY;
	t->count = 0;
	t->slots = calloc(t->capacity, sizeof *t->slots);
	return t->slots ? 0 : -1;
}

void lm_live_sessions_close(struct lm_live_sessions *t)
{
	free(t->slots);
	t->slots = NULL;
	t->capacity = t->count = 0;
}

void lm_live_sessions_clear(struct lm_live_sessions *t)
{
	memset(t->slots, 0, t->capacity * sizeof *t->slots);
	t->count = 0;
}

struct lm_live_session *lm_live_sessions_find(struct lm_live_sessions *t, uint64_t id)
{
	if (id == 0)
		return NULL;
	for (size_t i = slot_of(t, id);; i = (i + 1) & (t->capacity - 1)) {
		if (t->slots[i].id == id)
			return &t->slots[i];
		if (t->slots[i].id == 0)
			return NULL;
	}
}

static int grow(struct lm_live_sessions *t)
{
	struct lm_live_sessions old = *t;
	t->capacity *= 2;
	t->count = 0;
	t->slots = calloc(t->capacity, sizeof *t->slots);
	if (!t->slots) {
		*t = old;
		return -1;
	}
	for (size_t i = 0; i < old.capacity; i++)
		if (old.slots[i].id)
			*lm_live_sessions_add(t, old.slots[i].id) = old.slots[i];
	free(old.slots);
	return 0;
}

struct lm_live_session *lm_live_sessions_add(struct lm_live_sessions *t, uint64_t id)
{
	struct lm_live_session *s = lm_live_sessions_find(t, id);
	if (s || id == 0)
		return s;
	/* Keep the table at most half full so that probes stay short. */
	if ((t->count + 1) * 2 > t->capacity && grow(t) != 0)
		return NULL;
	size_t i = slot_of(t, id);
	while (t->slots[i].id != 0)
		i = (i + 1) & (t->capacity - 1);
	t->slots[i] = (struct lm_live_session){.id = id};
	t->count++;
	return &t->slots[i];
}

/* Deletion without tombstones: re-insert the rest of the probe run. */
void lm_live_sessions_remove(struct lm_live_sessions *t, uint64_t id)
{
	struct lm_live_session *s = lm_live_sessions_find(t, id);
	if (!s)
		return;
	size_t i = (size_t)(s - t->slots);
	t->slots[i].id = 0;
	t->count--;
	for (size_t j = (i + 1) & (t->capacity - 1); t->slots[j].id != 0;
	     j = (j + 1) & (t->capacity - 1)) {
		struct lm_live_session moved = t->slots[j];
		t->slots[j].id = 0;
		t->count--;
		*lm_live_sessions_add(t, moved.id) = moved;
	}
}
