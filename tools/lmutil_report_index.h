/* Hash indexes for lmutil report's one pass (lmutil_report_usage.c): names
 * to numbers (features, users) and 64-bit keys to numbers (held handles,
 * (user, feature) pairs), both open addressing with linear probing. */
#ifndef LM_LMUTIL_REPORT_INDEX_H
#define LM_LMUTIL_REPORT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lm_name_slot {
	const char *name; /* NULL: free; owned by the caller, who keeps it */
	uint32_t value;
};

struct lm_name_index {
	struct lm_name_slot *slots;
	size_t cap, n;
};

/* The value of name (len bytes), or false. */
bool lm_name_index_get(const struct lm_name_index *x, const char *name, size_t len,
                       uint32_t *value);
/* Adds name (a NUL-terminated string that outlives the index); -1 when out
 * of memory. */
int lm_name_index_put(struct lm_name_index *x, const char *name, uint32_t value);
void lm_name_index_free(struct lm_name_index *x);

struct lm_key_slot {
	uint64_t key, value;
	bool used;
};

struct lm_key_index {
	struct lm_key_slot *slots;
	size_t cap, n;
};

bool lm_key_index_get(const struct lm_key_index *x, uint64_t key, uint64_t *value);
/* Sets key to value (added or replaced); -1 when out of memory. */
int lm_key_index_put(struct lm_key_index *x, uint64_t key, uint64_t value);
/* Removes key if present (backward-shift deletion: no tombstones). */
void lm_key_index_del(struct lm_key_index *x, uint64_t key);
void lm_key_index_free(struct lm_key_index *x);

#endif
