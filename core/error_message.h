/* Errors reported as a code and a sentence in the caller's buffer, the way
 * the parsers of license sources, server addresses and lock codes report
 * them.  Not part of liblmc's public API: core/error.h is copied into the
 * installed lmc.h, this header is not. */
#ifndef LM_ERROR_MESSAGE_H
#define LM_ERROR_MESSAGE_H

#include <stddef.h>

/* Writes the sentence into err (cut to errsize; nothing when err is NULL
 * or errsize is 0) and returns code. */
__attribute__((format(printf, 4, 5))) int lm_error_message(char *err, size_t errsize, int code,
                                                           const char *fmt, ...);

#endif
