/* What the checks of a received Envelope share: envelope_check.c (the
 * rules for fields, the envelope itself) and envelope_bodies.c (each
 * body).  Private to proto/envelope*.c. */
#ifndef LM_ENVELOPE_INTERNAL_H
#define LM_ENVELOPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/envelope.h"

/* Where a check writes its sentence. */
struct lm_check {
	char *err;
	size_t errsize;
};

/* How an identifier or text field may look. */
enum {
	LM_CHECK_REQUIRED = 1, /* absence is an error */
	LM_CHECK_SPACE = 2,    /* may contain spaces (user names, displays, text) */
	LM_CHECK_HIGH = 4,     /* may contain bytes >= 0x80 (UTF-8 in messages) */
};

/* Writes the sentence (when c has room for one) and returns LMC_EPROTO. */
__attribute__((format(printf, 2, 3))) int lm_check_fail(struct lm_check *c, const char *fmt, ...);

/* An identifier: present (when LM_CHECK_REQUIRED), not empty, at most max
 * bytes, of the characters flags allow.  0 or LMC_EPROTO. */
int lm_check_id(struct lm_check *c, const char *name, protobuf_c_boolean has,
                const ProtobufCBinaryData *b, size_t max, unsigned flags);
/* A string field (free text or an address that lmd writes).  protobuf-c
 * already cut it at its first NUL, which is harmless for text we only
 * print. */
int lm_check_text(struct lm_check *c, const char *name, const char *s, size_t max, unsigned flags);
/* A bytes field of exactly want bytes. */
int lm_check_exact(struct lm_check *c, const char *name, protobuf_c_boolean has,
                   const ProtobufCBinaryData *b, size_t want);
/* A seat count: 1..LM_CHECKOUT_COUNT_MAX. */
int lm_check_count(struct lm_check *c, const char *name, protobuf_c_boolean has, uint32_t v,
                   bool required);

/* Chains checks: the first failure wins and its sentence stays in err. */
#define LM_CHECK_TRY(expr)                                                                         \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
	} while (0)

/* The checks of e's body, which is known and present (envelope_bodies.c). */
int lm_envelope_check_body(struct lm_check *c, const Lm__Envelope *e);

#endif
