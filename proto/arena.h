/* A bump-pointer arena that serves as protobuf-c's allocator while a frame
 * is unpacked.
 *
 * protobuf-c allocates the message, every sub-message, string, bytes field,
 * repeated array and unknown field, plus scratch tables while it scans, all
 * through the ProtobufCAllocator it is given.  Pointing it at an arena over a
 * fixed block that the caller owns makes the block size a hard cap on the
 * memory one frame can make us spend (research/stack-notes.md §3.3): once
 * the block is used up, alloc returns NULL and unpack fails cleanly.  No
 * malloc happens per message; free is a no-op and the whole message goes
 * away at once with lm_arena_reset().
 *
 * Every pointer handed out is aligned for any object (max_align_t). */
#ifndef LM_ARENA_H
#define LM_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* An arena for frames of up to frame_max bytes.  protobuf-c expands a frame
 * by a bounded factor when unpacking it (structs are wider than their
 * encoding, and a repeated field of one-byte varints becomes eight-byte
 * integers), so eight times the frame plus a little covers every message
 * lmd sends or expects; a frame built to need more is refused. */
#define LM_ARENA_SIZE(frame_max) (8 * (size_t)(frame_max) + 4096)

struct lm_arena {
	/* Must stay first: protobuf-c is given &arena->allocator, and the
	 * callbacks find the arena through allocator_data. */
	ProtobufCAllocator allocator;
	uint8_t *base;  /* the caller's block, not owned */
	size_t size;    /* its length */
	size_t used;    /* bytes handed out, padding included */
	size_t peak;    /* largest `used` since init, for tuning */
	bool exhausted; /* an allocation failed since the last reset */
};

/* Sets a up over block[0..size) (block not NULL).  The block must outlive a
 * and every message unpacked with it. */
void lm_arena_init(struct lm_arena *a, void *block, size_t size);

/* Forgets every allocation: all pointers handed out become invalid. */
void lm_arena_reset(struct lm_arena *a);

/* n bytes, aligned, or NULL (and a->exhausted set) when the block has fewer
 * than n bytes left.  A zero-byte allocation succeeds, with a pointer that
 * must not be dereferenced. */
void *lm_arena_alloc(struct lm_arena *a, size_t n);

/* The allocator to pass to protobuf-c's unpack functions. */
static inline ProtobufCAllocator *lm_arena_allocator(struct lm_arena *a)
{
	return &a->allocator;
}

#endif
