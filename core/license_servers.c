/* The license file parser: SERVER and VENDOR lines, the part of a file
 * that says who serves it (FlexLM's server section). */
#include "core/license.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/hostid.h"
#include "core/license_internal.h"
#include "core/server_key.h"

/* A vendor's SERVER line from FlexLM names its server by a FlexLM host id
 * (an Ethernet address, ANY, INTERNET=...): lmd needs its own lock code
 * there, and says so rather than "invalid". */
#define FLEXLM_HOST_ID_REFUSED                                                                     \
	"SERVER host id '%.20s%s%.40s' is FlexLM's; lmd locks a server by its lock code: run "     \
	"`lmutil lmhostid` on the server and ask the vendor for a license with that code"

static bool flexlm_host_id(const struct lm_license_token *t)
{
	char text[LM_TEXT_MAX], why[160];
	struct lm_hostid_list ids;
	snprintf(text, sizeof text, "%s%s%s", t->word, t->value ? "=" : "",
	         t->value ? t->value : "");
	return lm_hostid_parse(text, &ids, why, sizeof why) == 0;
}

/* KEY=, the one keyword of a SERVER line: the identity key of that server
 * (core/server_key.h), pinned so that liblmc accepts grants only from the
 * machine that holds the private half.  Either every SERVER line pins its
 * key or none does: a triad with one unpinned server would let an emulator
 * answer as that one. */
static int server_key(struct lm_license_parser *ps, struct lm_license_server *s,
                      const struct lm_license_token *tok, int n, int lineno)
{
	char why[200];
	s->has_key = false;
	for (int i = 1; i < n; i++) {
		if (!tok[i].value)
			continue;
		if (strcasecmp(tok[i].word, "KEY") != 0 && flexlm_host_id(&tok[i]))
			return lm_license_fail(ps->err, lineno, LMC_EBADCODE,
			                       FLEXLM_HOST_ID_REFUSED, tok[i].word, "=",
			                       tok[i].value);
		if (strcasecmp(tok[i].word, "KEY") != 0)
			return lm_license_fail(
			        ps->err, lineno, LMC_ESYNTAX,
			        "SERVER lines take no keywords but KEY=<server key>; "
			        "found %.40s=",
			        tok[i].word);
		if (s->has_key)
			return lm_license_fail(ps->err, lineno, LMC_ESYNTAX,
			                       "KEY= is given twice on this SERVER line");
		if (lm_server_key_parse(tok[i].value, s->key, why, sizeof why) != 0)
			return lm_license_fail(ps->err, lineno, LMC_EBADCODE,
			                       "SERVER KEY '%.40s' is invalid: %s", tok[i].value,
			                       why);
		s->has_key = true;
	}
	const struct lm_license_file *f = ps->f;
	if (f->nservers > 0 && f->servers[0].has_key != s->has_key)
		return lm_license_fail(ps->err, lineno, LMC_ESYNTAX,
		                       "SERVER line %d pins a key (KEY=) and this one does not, "
		                       "or the reverse; pin every server's key or none",
		                       f->servers[0].lineno);
	return 0;
}

int lm_license_parse_server(struct lm_license_parser *ps, char *line, int lineno)
{
	struct lm_license_file *f = ps->f;
	struct lm_license_token tok[LM_LICENSE_TOKENS_MAX];
	struct lm_license_token words[LM_LICENSE_TOKENS_MAX];
	char msg[200];
	int n, nwords = 0;
	const char *usage = "SERVER <host> <lock code> [<port>] [KEY=<server key>]";
	int rc = lm_license_tokenize(line, tok, &n, msg, sizeof msg);
	if (rc)
		return lm_license_fail(ps->err, lineno, rc, "%s", msg);
	for (int i = 0; i < n; i++)
		if (!tok[i].value)
			words[nwords++] = tok[i];
	struct lm_license_server *s = &f->servers[f->nservers];
	if (f->nservers < LM_LICENSE_SERVERS_MAX) {
		rc = server_key(ps, s, tok, n, lineno);
		if (rc)
			return rc;
	}
	/* FlexLM lets the port go unwritten: its servers then take the first
	 * free port from 27000 up; lmd takes 27000. */
	if (nwords != 4 && nwords != 3)
		return lm_license_fail(ps->err, lineno, LMC_ESYNTAX,
		                       "SERVER has %d fields; expected %s", nwords - 1, usage);
	if (f->nservers == LM_LICENSE_SERVERS_MAX)
		return lm_license_fail(
		        ps->err, lineno, LMC_ESYNTAX,
		        "a fourth SERVER line; a license names one server, or three redundant "
		        "servers");

	unsigned long port;
	char why[160];
	if (!lm_license_valid_host(words[1].word))
		return lm_license_fail(
		        ps->err, lineno, LMC_ESYNTAX,
		        "SERVER host '%.40s' is invalid; expected a host name or an IP address",
		        words[1].word);
	if (lm_lockcode_parse(words[2].word, &s->code, why, sizeof why) != 0) {
		if (flexlm_host_id(&words[2]))
			return lm_license_fail(ps->err, lineno, LMC_EBADCODE,
			                       FLEXLM_HOST_ID_REFUSED, words[2].word, "", "");
		return lm_license_fail(
		        ps->err, lineno, LMC_EBADCODE,
		        "SERVER lock code '%.40s' is invalid: %s; run `lmutil lmhostid` on the "
		        "server to get it",
		        words[2].word, why);
	}
	if (nwords == 3)
		port = LM_LICENSE_PORT_DEFAULT;
	else if (lm_license_parse_number(words[3].word, 65535, &port) != 0)
		return lm_license_fail(
		        ps->err, lineno, LMC_ESYNTAX,
		        "SERVER port '%.40s' is invalid; expected a TCP port from 1 to 65535 "
		        "(27000 is usual)",
		        words[3].word);
	for (int i = 0; i < f->nservers; i++)
		if (strcasecmp(f->servers[i].host, words[1].word) == 0 &&
		    f->servers[i].port == port)
			return lm_license_fail(
			        ps->err, lineno, LMC_ESYNTAX,
			        "SERVER %s %lu is already named on line %d; redundant servers "
			        "need distinct addresses",
			        words[1].word, port, f->servers[i].lineno);
	strcpy(s->host, words[1].word);
	if (lm_lockcode_format(&s->code, s->code_text, sizeof s->code_text) != 0)
		return lm_license_fail(ps->err, lineno, LMC_EBADCODE,
		                       "SERVER lock code cannot be printed");
	s->port = (uint16_t)port;
	s->lineno = lineno;
	f->nservers++;
	return 0;
}

/* FlexLM's optional VENDOR fields: positional ones fill the daemon path,
 * the options file and the port in that order; OPTIONS= and PORT= name
 * theirs wherever they stand. */
static int vendor_fields(struct lm_license_file *f, const struct lm_license_token *tok, int n,
                         const char *usage, int lineno, struct lm_parse_error *err)
{
	int next = 0; /* the positional field the next bare word fills */
	for (int i = 0; i < n; i++) {
		const char *word = tok[i].word, *value = tok[i].value;
		int which;
		if (value && strcasecmp(word, "OPTIONS") == 0) {
			which = 1;
		} else if (value && strcasecmp(word, "PORT") == 0) {
			which = 2;
		} else if (value) {
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "VENDOR does not take %.40s=; expected %s", word,
			                       usage);
		} else if (next < 3) {
			which = next;
			value = word;
		} else {
			return lm_license_fail(err, lineno, LMC_ESYNTAX,
			                       "VENDOR has too many fields; expected %s", usage);
		}
		next = which + 1;
		if (which == 2) {
			char *end;
			unsigned long port = strtoul(value, &end, 10);
			if (!*value || *end || port == 0 || port > 65535)
				return lm_license_fail(
				        err, lineno, LMC_ESYNTAX,
				        "VENDOR port '%.40s' is not a number from 1 to "
				        "65535",
				        value);
			f->vendor_port = (unsigned)port;
			continue;
		}
		char *to = which == 0 ? f->vendor_path : f->vendor_options;
		if (strlen(value) >= LM_TEXT_MAX)
			return lm_license_fail(err, lineno, LMC_ETOOLARGE,
			                       "VENDOR %s is longer than %d characters",
			                       which == 0 ? "daemon path" : "options file",
			                       LM_TEXT_MAX - 1);
		strcpy(to, value);
	}
	return 0;
}

int lm_license_parse_vendor(struct lm_license_parser *ps, char *line, int lineno)
{
	struct lm_license_token tok[LM_LICENSE_TOKENS_MAX];
	char msg[200];
	int n;
	int rc = lm_license_tokenize(line, tok, &n, msg, sizeof msg);
	if (rc)
		return lm_license_fail(ps->err, lineno, rc, "%s", msg);
	const char *usage =
	        "VENDOR <vendor name> [daemon path] [[OPTIONS=]options file] [[PORT=]port]";
	if (n < 2 || tok[1].value)
		return lm_license_fail(ps->err, lineno, LMC_ESYNTAX, "expected %s", usage);
	rc = vendor_fields(ps->f, tok + 2, n - 2, usage, lineno, ps->err);
	if (rc)
		return rc;
	if (ps->vendor_lineno)
		return lm_license_fail(
		        ps->err, lineno, LMC_ESYNTAX,
		        "a second VENDOR line (the first is line %d); a file serves one vendor",
		        ps->vendor_lineno);
	if (!lm_license_valid_name(tok[1].word))
		return lm_license_fail(
		        ps->err, lineno, LMC_ESYNTAX,
		        "vendor name '%.40s' is invalid; names are 1 to %d letters, digits, "
		        "'_', '.' or '-'",
		        tok[1].word, LM_NAME_MAX);
	strcpy(ps->f->vendor, tok[1].word);
	ps->vendor_lineno = lineno;
	return 0;
}
