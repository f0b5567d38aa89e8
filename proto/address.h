/* Server addresses as people write them: "port@host", "@host" for the
 * default port, "port@[::1]" for an IPv6 literal.  Clients read them from
 * license sources (client/source.h), lmd from its SERVER lines, and the
 * blocking connection (proto/frame_conn.h) connects to them. */
#ifndef LM_ADDRESS_H
#define LM_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h" /* LM_HOST_MAX, LM_ADDRESS_TEXT_MAX */

#define LM_DEFAULT_PORT 27000

struct lm_address {
	/* A host name or an IP address; IPv6 without its brackets. */
	char host[LM_HOST_MAX + 1];
	uint16_t port;
};

/* Parses one server entry, "port@host" or "@host" (surrounding blanks
 * allowed).  Returns 0 or LMC_EINVAL with a sentence in err. */
int lm_address_parse(const char *text, struct lm_address *out, char *err, size_t errsize);

/* Writes a as "port@host" ("port@[v6]" for an IPv6 address) into buf
 * (LM_ADDRESS_TEXT_MAX bytes always suffice).  Returns 0 or LMC_ETOOLARGE. */
int lm_address_format(const struct lm_address *a, char *buf, size_t size);

/* True when a and b name the same server (host names compared without
 * case). */
int lm_address_equal(const struct lm_address *a, const struct lm_address *b);

#endif
