/* A small JSON writer for the tools' --json output. */
#ifndef LM_JSON_H
#define LM_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal, quotes included. */
void lm_json_string(FILE *out, const char *s);
/* Writes "key": with a leading comma unless first is set. */
void lm_json_key(FILE *out, const char *key, int first);

#endif
