/* Codes that people read aloud and type: lock codes and authorization codes.
 *
 * Crockford base32 (digits and letters without I, L, O, U), followed by one
 * check symbol computed with the Luhn mod N algorithm over the 32-symbol
 * alphabet.  Luhn mod 32 detects every single mistyped symbol and every
 * swap of two adjacent symbols except one pair, which Crockford's own mod-37
 * check would too but only by adding five punctuation symbols (*~$=U) that
 * do not survive a shell or a spreadsheet.  Codes are printed in
 * hyphen-joined groups; input is case-insensitive, ignores hyphens and
 * spaces, and reads I and L as 1 and O as 0. */
#ifndef LM_CODE32_H
#define LM_CODE32_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h" /* LM_CODE32_MAX_SYMBOLS */

/* Writes the nsym 5-bit symbols (values 0..31), followed by their check
 * symbol, into out as groups of `group` symbols joined by hyphens (group 0:
 * no hyphens).  Returns 0, or LMC_ETOOLARGE when out is too small. */
int lm_code32_encode(const uint8_t *sym, size_t nsym, unsigned group, char *out, size_t size);

/* Reads a code typed by a person into its symbols (check symbol verified and
 * removed).  On error returns LMC_EBADCODE and writes a sentence naming the
 * problem into err (which may be NULL). */
int lm_code32_decode(const char *text, uint8_t *sym, size_t max, size_t *nsym, char *err,
                     size_t errsize);

/* The alphabet symbol for value v (0..31). */
char lm_code32_symbol(unsigned v);

/* Packs bytes into 5-bit symbols, most significant bit first, padding the
 * last symbol with zero bits.  Returns the number of symbols written. */
size_t lm_code32_from_bytes(const uint8_t *bytes, size_t n, uint8_t *sym, size_t max);
/* The inverse of lm_code32_from_bytes for n bytes; returns 0 or LMC_EBADCODE
 * when there are too few symbols or padding bits are set. */
int lm_code32_to_bytes(const uint8_t *sym, size_t nsym, uint8_t *bytes, size_t n);

#endif
