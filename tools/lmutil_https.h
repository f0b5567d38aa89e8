/* One HTTPS POST to the vendor's key center (`lmutil activate --url`), with
 * OpenSSL, the server checked against a pinned certificate, a CA file or
 * the system's CAs (lmutil_https.c says how). */
#ifndef LM_LMUTIL_HTTPS_H
#define LM_LMUTIL_HTTPS_H

#include <stddef.h>

/* https://HOST[:PORT][/BASE] */
struct lm_https_url {
	char host[256];
	char port[8];
	char base[512]; /* the path before the API's, without a trailing '/' */
};

struct lm_https_options {
	const char *pin;    /* SHA-256 of the server's certificate, hex, or NULL */
	const char *cafile; /* a CA file, or NULL */
	const char *token;  /* a bearer token, or NULL */
};

/* The server's answer: the HTTP status and the body (malloc'd, the
 * caller's to free, NUL-terminated). */
struct lm_https_answer {
	unsigned status;
	char *body;
	size_t len;
};

/* Parses url: 0, or -1 with a sentence in err. */
int lm_https_parse_url(const char *url, struct lm_https_url *u, char *err, size_t size);
/* POSTs body (JSON) to u's base and path: 0 with *answer, or -1 with a
 * sentence in err (no connection, an untrusted server, no HTTP answer). */
int lm_https_post(const struct lm_https_url *u, const char *path, const struct lm_https_options *o,
                  const char *body, size_t len, struct lm_https_answer *answer, char *err,
                  size_t size);

#endif
