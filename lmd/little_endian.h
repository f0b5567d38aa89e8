/* Little-endian integers of 1 to 8 bytes, as raft's wire and disk formats
 * and lmd's envelopes around them lay them out (lmd/cluster_fsm.c,
 * lmd/transport_preamble.c).  The pool's records are big-endian instead, so that
 * keys sort (lmd/pool_internal.h). */
#ifndef LM_LITTLE_ENDIAN_H
#define LM_LITTLE_ENDIAN_H

#include <stdint.h>

/* Writes the n low bytes of v at p, least significant first. */
static inline void lm_le_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Reads n bytes at p, least significant first. */
static inline uint64_t lm_le_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
