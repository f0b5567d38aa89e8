/* What a server signs when it grants seats, so that a client can tell a
 * grant from the licensed server from a genuine license line replayed by
 * an emulator (issue 16).
 *
 * The signed bytes are one line of text that both sides build from the
 * fields they know, never parsed back:
 *
 *   lmd-grant-v1 line=<SHA-256 of the canonical line, hex> count=<seats>
 *   session=<session id, hex> nonce=<client nonce, hex> time=<ms since 1970>
 *
 * The client picked the nonce for this Checkout (LM_GRANT_NONCE_LEN random
 * bytes, the same on a retry of the same request) and knows its session,
 * the count it asked for and the line it was sent; the server adds its wall
 * time.  A reply recorded earlier, or made for another session, another
 * request or another line, does not verify. */
#ifndef LM_GRANT_H
#define LM_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define LM_GRANT_NONCE_LEN LM_WIRE_NONCE_LEN
/* The text above with every field at its longest, and the NUL. */
#define LM_GRANT_TEXT_MAX 256

struct lm_grant_claim {
	const char *line; /* the canonical line granted under */
	uint32_t count;
	uint64_t session_id;
	uint8_t nonce[LM_GRANT_NONCE_LEN];
	uint64_t time_ms;
};

/* Writes the bytes to sign into buf.  Returns their length, or
 * LMC_ETOOLARGE / LMC_ENOMEM. */
int lm_grant_text(const struct lm_grant_claim *g, char *buf, size_t size);

#endif
