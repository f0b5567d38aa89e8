/* License sources: where a client looks for licenses and license servers.
 *
 * A source is one string, as given to lmc_open() or found in
 * LM_LICENSE_FILE, made of entries separated by ',' or ':':
 *
 *   27000@lic1              a server: port@host
 *   @lic1                   a server on the default port, 27000
 *   27000@[::1]             an IPv6 literal, in brackets (its colons are
 *                           not separators)
 *   27000@a,27000@b,27000@c the three servers of a redundant triad
 *   /opt/acme/license.dat   a license file: its SERVER lines name servers,
 *                           its uncounted lines are used with no server
 *
 * An entry is a server when it contains '@' and no '/', and a file path
 * otherwise (FlexLM reads LM_LICENSE_FILE the same way).  Blanks around
 * entries and empty entries are ignored.  The same server named twice (a
 * file listed next to its own SERVER lines) is kept once, at its first
 * place, because the order is the order in which servers are tried. */
#ifndef LM_SOURCE_H
#define LM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/license.h"
#include "core/limits.h"
#include "proto/address.h"

struct lm_source {
	struct lm_address servers[LM_SOURCE_SERVERS_MAX];
	size_t nservers;
	/* The server key a license file's SERVER line pins for each (KEY=). */
	bool pinned[LM_SOURCE_SERVERS_MAX];
	uint8_t keys[LM_SOURCE_SERVERS_MAX][LM_SERVER_KEY_LEN];
	/* File entries, in order, as given (heap copies owned by the list). */
	char *files[LM_SOURCE_FILES_MAX];
	size_t nfiles;
};

/* Starts an empty list. */
void lm_source_init(struct lm_source *l);
/* Frees the file paths; the list is empty afterwards. */
void lm_source_free(struct lm_source *l);

/* Splits source and appends its entries to l: servers parsed, file paths
 * recorded but not read (see lm_source_add_file).  Returns 0,
 * LMC_EINVAL for a malformed server entry, LMC_ETOOLARGE past the limits
 * or LMC_ENOMEM, with a sentence in err; l keeps the entries before the
 * faulty one. */
int lm_source_parse(struct lm_source *l, const char *source, char *err, size_t errsize);

/* Appends the servers that the SERVER lines of f name.  Returns 0 or
 * LMC_ETOOLARGE. */
int lm_source_add_file(struct lm_source *l, const struct lm_license_file *f);

/* Appends one server.  Returns 0 or LMC_ETOOLARGE (a duplicate is
 * ignored). */
int lm_source_add(struct lm_source *l, const struct lm_address *a);

/* The server key pinned for a by a license file of the list, or NULL. */
const uint8_t *lm_source_pin(const struct lm_source *l, const struct lm_address *a);

/* lm_source_parse, then reads each file entry for its SERVER lines:
 * what a tool given `-c SOURCE` needs to find servers.  A file that
 * cannot be read or parsed is an error (LMC_EIO, LMC_ESYNTAX...) named in
 * err. */
int lm_source_load(struct lm_source *l, const char *source, char *err, size_t errsize);

#endif
