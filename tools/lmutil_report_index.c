/* Hash indexes (lmutil_report_index.h). */
#include "config.h"

#include "tools/lmutil_report_index.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static uint64_t hash_key(uint64_t k)
{
	k ^= k >> 33; /* MurmurHash3's finaliser */
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	return k ^ (k >> 33);
}

bool lm_name_index_get(const struct lm_name_index *x, const char *name, size_t len, uint32_t *value)
{
	if (x->cap == 0)
		return false;
	for (size_t i = hash_bytes(name, len) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		const struct lm_name_slot *s = &x->slots[i];
		if (!s->name)
			return false;
		if (strncmp(s->name, name, len) == 0 && s->name[len] == '\0') {
			*value = s->value;
			return true;
		}
	}
}

static void name_place(struct lm_name_slot *slots, size_t cap, const char *name, uint32_t value)
{
	size_t i = hash_bytes(name, strlen(name)) & (cap - 1);
	while (slots[i].name)
		i = (i + 1) & (cap - 1);
	slots[i] = (struct lm_name_slot){.name = name, .value = value};
}

int lm_name_index_put(struct lm_name_index *x, const char *name, uint32_t value)
{
	if (2 * (x->n + 1) > x->cap) { /* at most half full */
		size_t cap = x->cap ? 2 * x->cap : 64;
		struct lm_name_slot *slots = calloc(cap, sizeof *slots);
		if (!slots)
			return -1;
		for (size_t i = 0; i < x->cap; i++)
			if (x->slots[i].name)
				name_place(slots, cap, x->slots[i].name, x->slots[i].value);
		free(x->slots);
		x->slots = slots;
		x->cap = cap;
	}
	name_place(x->slots, x->cap, name, value);
	x->n++;
	return 0;
}

void lm_name_index_free(struct lm_name_index *x)
{
	free(x->slots);
	*x = (struct lm_name_index){0};
}

bool lm_key_index_get(const struct lm_key_index *x, uint64_t key, uint64_t *value)
{
	if (x->cap == 0)
		return false;
	for (size_t i = hash_key(key) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		if (!x->slots[i].used)
			return false;
		if (x->slots[i].key == key) {
			*value = x->slots[i].value;
			return true;
		}
	}
}

static struct lm_key_slot *key_slot(struct lm_key_slot *slots, size_t cap, uint64_t key)
{
	size_t i = hash_key(key) & (cap - 1);
	while (slots[i].used && slots[i].key != key)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

int lm_key_index_put(struct lm_key_index *x, uint64_t key, uint64_t value)
{
	if (2 * (x->n + 1) > x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		struct lm_key_slot *slots = calloc(cap, sizeof *slots);
		if (!slots)
			return -1;
		for (size_t i = 0; i < x->cap; i++)
			if (x->slots[i].used)
				*key_slot(slots, cap, x->slots[i].key) = x->slots[i];
		free(x->slots);
		x->slots = slots;
		x->cap = cap;
	}
	struct lm_key_slot *s = key_slot(x->slots, x->cap, key);
	if (!s->used)
		x->n++;
	*s = (struct lm_key_slot){.key = key, .value = value, .used = true};
	return 0;
}

void lm_key_index_del(struct lm_key_index *x, uint64_t key)
{
	if (x->cap == 0)
		return;
	size_t mask = x->cap - 1, i = hash_key(key) & mask;
	while (x->slots[i].used && x->slots[i].key != key)
		i = (i + 1) & mask;
	if (!x->slots[i].used)
		return;
	/* Moves back each later slot of the run that may sit at i (Knuth's
	 * algorithm R for linear probing). */
	for (size_t j = i;;) {
		x->slots[i].used = false;
		for (;;) {
			j = (j + 1) & mask;
			if (!x->slots[j].used) {
				x->n--;
				return;
			}
			size_t home = hash_key(x->slots[j].key) & mask;
			/* Stays if its home lies cyclically in (i, j]. */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		x->slots[i] = x->slots[j];
		i = j;
	}
}

void lm_key_index_free(struct lm_key_index *x)
{
	free(x->slots);
	*x = (struct lm_key_index){0};
}
