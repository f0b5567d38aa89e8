/* Bytes in buffers.  Big-endian integers: the frame header (proto/frame.c)
 * and the pool's records and keys (lmd/pool*.c) are written most
 * significant byte first, so that they read the same on every machine and
 * keys sort by number.  Hex: how ids and digests are shown to people and
 * kept in small text files.  Callers check lengths; these only move
 * bytes. */
#ifndef LM_BYTES_H
#define LM_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void lm_be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t lm_be16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void lm_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t lm_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void lm_be64_put(uint8_t *p, uint64_t v)
{
	lm_be32_put(p, (uint32_t)(v >> 32));
	lm_be32_put(p + 4, (uint32_t)v);
}

static inline uint64_t lm_be64_get(const uint8_t *p)
{
	return (uint64_t)lm_be32_get(p) << 32 | lm_be32_get(p + 4);
}

/* Writes the n bytes at p as 2n lowercase hex digits and a NUL into out,
 * which must hold 2n + 1 bytes.  Returns out, for use in a printf. */
static inline char *lm_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
	return out;
}

#endif
