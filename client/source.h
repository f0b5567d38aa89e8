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

#include <stddef.h>
#include <stdint.h>

#include "core/license.h"

#define LM_DEFAULT_PORT 27000
/* Servers and files one source may name (LMC_ETOOLARGE beyond). */
#define LM_SERVER_LIST_MAX  16
#define LM_SOURCE_FILES_MAX 16
/* Longest "port@[host]" with its NUL. */
#define LM_SERVER_NAME_MAX (LM_HOST_MAX + 9)

struct lm_server_addr {
	/* A host name or an IP address; IPv6 without its brackets. */
	char host[LM_HOST_MAX + 1];
	uint16_t port;
};

struct lm_server_list {
	struct lm_server_addr servers[LM_SERVER_LIST_MAX];
	size_t nservers;
	/* File entries, in order, as given (heap copies owned by the list). */
	char *files[LM_SOURCE_FILES_MAX];
	size_t nfiles;
};

/* Parses one server entry, "port@host" or "@host" (surrounding blanks
 * allowed).  Returns 0 or LMC_EINVAL with a sentence in err. */
int lm_server_addr_parse(const char *text, struct lm_server_addr *out, char *err, size_t errsize);

/* Writes a as "port@host" ("port@[v6]" for an IPv6 address) into buf.
 * Returns 0 or LMC_ETOOLARGE. */
int lm_server_addr_format(const struct lm_server_addr *a, char *buf, size_t size);

/* True when a and b name the same server (host names compared without
 * case). */
int lm_server_addr_equal(const struct lm_server_addr *a, const struct lm_server_addr *b);

/* Starts an empty list. */
void lm_server_list_init(struct lm_server_list *l);
/* Frees the file paths; the list is empty afterwards. */
void lm_server_list_free(struct lm_server_list *l);

/* Splits source and appends its entries to l: servers parsed, file paths
 * recorded but not read (see lm_server_list_add_file).  Returns 0,
 * LMC_EINVAL for a malformed server entry, LMC_ETOOLARGE past the limits
 * or LMC_ENOMEM, with a sentence in err; l keeps the entries before the
 * faulty one. */
int lm_server_list_parse(struct lm_server_list *l, const char *source, char *err, size_t errsize);

/* Appends the servers that the SERVER lines of f name.  Returns 0 or
 * LMC_ETOOLARGE. */
int lm_server_list_add_file(struct lm_server_list *l, const struct lm_license_file *f);

/* Appends one server.  Returns 0 or LMC_ETOOLARGE (a duplicate is
 * ignored). */
int lm_server_list_add(struct lm_server_list *l, const struct lm_server_addr *a);

/* lm_server_list_parse, then reads each file entry for its SERVER lines:
 * what a tool given `-c SOURCE` needs to find servers.  A file that
 * cannot be read or parsed is an error (LMC_EIO, LMC_ESYNTAX...) named in
 * err. */
int lm_server_list_load(struct lm_server_list *l, const char *source, char *err, size_t errsize);

#endif
