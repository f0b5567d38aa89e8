/* Server addresses: reading and writing "port@host" (proto/address.h). */
#include "proto/address.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/error_message.h"

/* Host names as DNS and /etc/hosts write them, and dotted IPv4. */
static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

/* Inside brackets: hex digits, colons, an embedded IPv4 tail and a zone
 * ("fe80::1%eth0"). */
static bool is_v6_char(char c)
{
	return isalnum((unsigned char)c) || c == ':' || c == '.' || c == '%' || c == '_' ||
	       c == '-';
}

int lm_address_parse(const char *text, struct lm_address *out, char *err, size_t errsize)
{
	memset(out, 0, sizeof *out);
	while (isspace((unsigned char)*text))
		text++;
	size_t len = strlen(text);
	while (len && isspace((unsigned char)text[len - 1]))
		len--;

	const char *at = memchr(text, '@', len);
	if (!at)
		return lm_error_message(err, errsize, LMC_EINVAL,
		                        "'%.*s' is not a server: expected port@host",
		                        (int)(len > 60 ? 60 : len), text);
	unsigned long port = LM_DEFAULT_PORT;
	if (at > text) {
		port = 0;
		for (const char *p = text; p < at; p++) {
			if (!isdigit((unsigned char)*p) || port > 65535)
				return lm_error_message(
				        err, errsize, LMC_EINVAL,
				        "server '%.*s': the port must be a number from 1 to 65535",
				        (int)(len > 60 ? 60 : len), text);
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return lm_error_message(
			        err, errsize, LMC_EINVAL,
			        "server '%.*s': the port must be a number from 1 to 65535",
			        (int)(len > 60 ? 60 : len), text);
	}

	const char *host = at + 1;
	size_t hlen = len - (size_t)(host - text);
	bool v6 = hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']';
	if (v6) {
		host++;
		hlen -= 2;
	}
	if (hlen == 0)
		return lm_error_message(err, errsize, LMC_EINVAL, "server '%.*s' names no host",
		                        (int)(len > 60 ? 60 : len), text);
	if (hlen > LM_HOST_MAX)
		return lm_error_message(err, errsize, LMC_EINVAL,
		                        "server host is longer than %d characters", LM_HOST_MAX);
	for (size_t i = 0; i < hlen; i++) {
		if (v6 ? !is_v6_char(host[i]) : !is_name_char(host[i]))
			return lm_error_message(
			        err, errsize, LMC_EINVAL, "server '%.*s': invalid host%s",
			        (int)(len > 60 ? 60 : len), text,
			        !v6 && host[i] == ':' ? " (write IPv6 as port@[addr])" : "");
	}
	/* A bracketed name must be an IPv6 address: the colon is what the
	 * formatter uses to put the brackets back. */
	if (v6 && !memchr(host, ':', hlen))
		return lm_error_message(err, errsize, LMC_EINVAL,
		                        "server '%.*s': brackets hold IPv6 only",
		                        (int)(len > 60 ? 60 : len), text);
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = (uint16_t)port;
	return 0;
}

int lm_address_format(const struct lm_address *a, char *buf, size_t size)
{
	int n;
	if (strchr(a->host, ':'))
		n = snprintf(buf, size, "%u@[%s]", (unsigned)a->port, a->host);
	else
		n = snprintf(buf, size, "%u@%s", (unsigned)a->port, a->host);
	return n < 0 || (size_t)n >= size ? LMC_ETOOLARGE : 0;
}

int lm_address_equal(const struct lm_address *a, const struct lm_address *b)
{
	return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}
