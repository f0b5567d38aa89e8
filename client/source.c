/* License sources: splitting "27000@a,27000@b:/path/license.dat" into the
 * servers to try and the license files to read (see source.h). */
#include "config.h"

#include "client/source.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/error_message.h"

void lm_source_init(struct lm_source *l)
{
	memset(l, 0, sizeof *l);
}

void lm_source_free(struct lm_source *l)
{
	for (size_t i = 0; i < l->nfiles; i++)
		free(l->files[i]);
	lm_source_init(l);
}

int lm_source_add(struct lm_source *l, const struct lm_address *a)
{
	for (size_t i = 0; i < l->nservers; i++)
		if (lm_address_equal(&l->servers[i], a))
			return 0;
	if (l->nservers == LM_SOURCE_SERVERS_MAX)
		return LMC_ETOOLARGE;
	l->servers[l->nservers++] = *a;
	return 0;
}

int lm_source_add_file(struct lm_source *l, const struct lm_license_file *f)
{
	for (int i = 0; i < f->nservers; i++) {
		struct lm_address a;
		snprintf(a.host, sizeof a.host, "%s", f->servers[i].host);
		a.port = f->servers[i].port;
		int rc = lm_source_add(l, &a);
		if (rc)
			return rc;
		for (size_t j = 0; j < l->nservers; j++)
			if (f->servers[i].has_key && lm_address_equal(&l->servers[j], &a)) {
				l->pinned[j] = true;
				memcpy(l->keys[j], f->servers[i].key, LM_SERVER_KEY_LEN);
			}
	}
	return 0;
}

const uint8_t *lm_source_pin(const struct lm_source *l, const struct lm_address *a)
{
	for (size_t i = 0; i < l->nservers; i++)
		if (l->pinned[i] && lm_address_equal(&l->servers[i], a))
			return l->keys[i];
	return NULL;
}

static int add_entry(struct lm_source *l, const char *entry, size_t len, char *err, size_t errsize)
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
		struct lm_address a;
		rc = lm_address_parse(copy, &a, err, errsize);
		if (rc == 0 && lm_source_add(l, &a) != 0)
			rc = lm_error_message(err, errsize, LMC_ETOOLARGE,
			                      "the license source names more than %d servers",
			                      LM_SOURCE_SERVERS_MAX);
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
		rc = lm_error_message(err, errsize, LMC_ETOOLARGE,
		                      "the license source names more than %d license files: %s",
		                      LM_SOURCE_FILES_MAX, copy);
		free(copy);
		return rc;
	}
	l->files[l->nfiles++] = copy;
	return 0;
}

int lm_source_parse(struct lm_source *l, const char *source, char *err, size_t errsize)
{
	if (!source)
		return lm_error_message(err, errsize, LMC_EINVAL, "no license source");
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

int lm_source_load(struct lm_source *l, const char *source, char *err, size_t errsize)
{
	int rc = lm_source_parse(l, source, err, errsize);
	for (size_t i = 0; rc == 0 && i < l->nfiles; i++) {
		struct lm_license_file f;
		struct lm_parse_error perr;
		rc = lm_license_load_skipping(l->files[i], &f, &perr);
		if (rc) {
			lm_error_message(err, errsize, rc, "%s:%d: %s", l->files[i], perr.lineno,
			                 perr.message);
			break;
		}
		rc = lm_source_add_file(l, &f);
		if (rc)
			lm_error_message(err, errsize, rc,
			                 "%s: more than %d servers in the license source",
			                 l->files[i], LM_SOURCE_SERVERS_MAX);
		lm_license_free(&f);
	}
	return rc;
}
