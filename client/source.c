/* License sources: splitting "27000@a,27000@b:/path/license.dat" into the
 * servers to try and the license files to read (see server_list.h). */
#include "config.h"

#include "client/source.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/lmc.h"

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errsize, int code,
                                                      const char *fmt, ...)
{
	if (err && errsize) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errsize, fmt, ap);
		va_end(ap);
	}
	return code;
}

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

int lm_server_addr_parse(const char *text, struct lm_server_addr *out, char *err, size_t errsize)
{
	memset(out, 0, sizeof *out);
	while (isspace((unsigned char)*text))
		text++;
	size_t len = strlen(text);
	while (len && isspace((unsigned char)text[len - 1]))
		len--;

	const char *at = memchr(text, '@', len);
	if (!at)
		return fail(err, errsize, LMC_EINVAL, "'%.*s' is not a server: expected port@host",
		            (int)(len > 60 ? 60 : len), text);
	unsigned long port = LM_DEFAULT_PORT;
	if (at > text) {
		port = 0;
		for (const char *p = text; p < at; p++) {
			if (!isdigit((unsigned char)*p) || port > 65535)
				return fail(
				        err, errsize, LMC_EINVAL,
				        "server '%.*s': the port must be a number from 1 to 65535",
				        (int)(len > 60 ? 60 : len), text);
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return fail(err, errsize, LMC_EINVAL,
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
		return fail(err, errsize, LMC_EINVAL, "server '%.*s' names no host",
		            (int)(len > 60 ? 60 : len), text);
	if (hlen > LM_HOST_MAX)
		return fail(err, errsize, LMC_EINVAL, "server host is longer than %d characters",
		            LM_HOST_MAX);
	for (size_t i = 0; i < hlen; i++) {
		if (v6 ? !is_v6_char(host[i]) : !is_name_char(host[i]))
			return fail(err, errsize, LMC_EINVAL, "server '%.*s': invalid host%s",
			            (int)(len > 60 ? 60 : len), text,
			            !v6 && host[i] == ':' ? " (write IPv6 as port@[addr])" : "");
	}
	/* A bracketed name must be an IPv6 address: the colon is what the
	 * formatter uses to put the brackets back. */
	if (v6 && !memchr(host, ':', hlen))
		return fail(err, errsize, LMC_EINVAL, "server '%.*s': brackets hold IPv6 only",
		            (int)(len > 60 ? 60 : len), text);
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = (uint16_t)port;
	return 0;
}

int lm_server_addr_format(const struct lm_server_addr *a, char *buf, size_t size)
{
	int n;
	if (strchr(a->host, ':'))
		n = snprintf(buf, size, "%u@[%s]", (unsigned)a->port, a->host);
	else
		n = snprintf(buf, size, "%u@%s", (unsigned)a->port, a->host);
	return n < 0 || (size_t)n >= size ? LMC_ETOOLARGE : 0;
}

int lm_server_addr_equal(const struct lm_server_addr *a, const struct lm_server_addr *b)
{
	return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

void lm_server_list_init(struct lm_server_list *l)
{
	memset(l, 0, sizeof *l);
}

void lm_server_list_free(struct lm_server_list *l)
{
	for (size_t i = 0; i < l->nfiles; i++)
		free(l->files[i]);
	lm_server_list_init(l);
}

int lm_server_list_add(struct lm_server_list *l, const struct lm_server_addr *a)
{
	for (size_t i = 0; i < l->nservers; i++)
		if (lm_server_addr_equal(&l->servers[i], a))
			return 0;
	if (l->nservers == LM_SERVER_LIST_MAX)
		return LMC_ETOOLARGE;
	l->servers[l->nservers++] = *a;
	return 0;
}

int lm_server_list_add_file(struct lm_server_list *l, const struct lm_license_file *f)
{
	for (int i = 0; i < f->nservers; i++) {
		struct lm_server_addr a;
		snprintf(a.host, sizeof a.host, "%s", f->servers[i].host);
		a.port = f->servers[i].port;
		int rc = lm_server_list_add(l, &a);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_entry(struct lm_server_list *l, const char *entry, size_t len, char *err,
                     size_t errsize)
{
	while (len && isspace((unsigned char)*entry)) {
		entry++;
		len--;
	}
	while (len && isspace((unsigned char)entry[len - 1]))
		len--;
	if (len == 0)
		return 0;
	char *copy = strndup(entry, len);
	if (!copy)
		return LMC_ENOMEM;
	int rc = 0;
	if (strchr(copy, '@') && !strchr(copy, '/')) {
		struct lm_server_addr a;
		rc = lm_server_addr_parse(copy, &a, err, errsize);
		if (rc == 0 && lm_server_list_add(l, &a) != 0)
			rc = fail(err, errsize, LMC_ETOOLARGE,
			          "the license source names more than %d servers",
			          LM_SERVER_LIST_MAX);
		free(copy);
		return rc;
	}
	for (size_t i = 0; i < l->nfiles; i++) {
		if (strcmp(l->files[i], copy) == 0) {
			free(copy);
			return 0;
		}
	}
	if (l->nfiles == LM_SOURCE_FILES_MAX) {
		rc = fail(err, errsize, LMC_ETOOLARGE,
		          "the license source names more than %d license files: %s",
		          LM_SOURCE_FILES_MAX, copy);
		free(copy);
		return rc;
	}
	l->files[l->nfiles++] = copy;
	return 0;
}

int lm_server_list_parse(struct lm_server_list *l, const char *source, char *err, size_t errsize)
{
	if (!source)
		return fail(err, errsize, LMC_EINVAL, "no license source");
	const char *start = source;
	int depth = 0;
	for (const char *p = source;; p++) {
		/* Colons inside an IPv6 literal's brackets do not split. */
		if (*p == '[')
			depth++;
		else if (*p == ']' && depth > 0)
			depth--;
		if (*p == '\0' || (depth == 0 && (*p == ',' || *p == ':'))) {
			int rc = add_entry(l, start, (size_t)(p - start), err, errsize);
			if (rc)
				return rc;
			if (*p == '\0')
				return 0;
			start = p + 1;
		}
	}
}

int lm_server_list_load(struct lm_server_list *l, const char *source, char *err, size_t errsize)
{
	int rc = lm_server_list_parse(l, source, err, errsize);
	for (size_t i = 0; rc == 0 && i < l->nfiles; i++) {
		struct lm_license_file f;
		struct lm_parse_error perr;
		rc = lm_license_load(l->files[i], &f, &perr);
		if (rc) {
			fail(err, errsize, rc, "%s:%d: %s", l->files[i], perr.lineno, perr.message);
			break;
		}
		rc = lm_server_list_add_file(l, &f);
		if (rc)
			fail(err, errsize, rc, "%s: more than %d servers in the license source",
			     l->files[i], LM_SERVER_LIST_MAX);
		lm_license_free(&f);
	}
	return rc;
}
