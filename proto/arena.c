#include "proto/arena.h"

#include <assert.h>

/* The strictest alignment any C object needs on this platform. */
#define ALIGN _Alignof(max_align_t)

static void *arena_cb_alloc(void *data, size_t n)
{
	return lm_arena_alloc(data, n);
}

/* Memory goes back all at once in lm_arena_reset(); protobuf-c's frees,
 * including those it makes while cleaning up after a failed unpack, are
 * therefore no-ops. */
static void arena_cb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

void lm_arena_init(struct lm_arena *a, void *block, size_t size)
{
	assert(block != NULL);
	a->allocator.alloc = arena_cb_alloc;
	a->allocator.free = arena_cb_free;
	a->allocator.allocator_data = a;
	a->base = block;
	a->size = size;
	a->used = 0;
	a->peak = 0;
	a->exhausted = false;
}

void lm_arena_reset(struct lm_arena *a)
{
	a->used = 0;
	a->exhausted = false;
}

void *lm_arena_alloc(struct lm_arena *a, size_t n)
{
	/* Align the address, not the offset: the caller's block need not be
	 * aligned itself. */
	uintptr_t at = (uintptr_t)(a->base + a->used);
	size_t pad = (size_t)(-at & (ALIGN - 1));

	/* Written as subtractions so that a huge n (protobuf-c multiplies an
	 * element size by a count read from the wire) cannot wrap around. */
	if (pad > a->size - a->used || n > a->size - a->used - pad) {
		a->exhausted = true;
		return NULL;
	}
	void *p = a->base + a->used + pad;
	a->used += pad + n;
	if (a->used > a->peak)
		a->peak = a->used;
	return p;
}
