/* What liblmc checks in a grant before it believes in the seats (issue
 * 16): a server, or anything that speaks its protocol, could replay a
 * genuine license line.  So the line must be signed by the vendor, be for
 * the feature and a version asked for, be valid today, cover the seats
 * granted, name the servers this client knows for the one it talks to
 * and, when the servers' identity keys are pinned, come with the server's
 * signature over this very grant (core/grant.h).  Thread only. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client/session_internal.h"
#include "core/date.h"
#include "core/error.h"
#include "core/grant.h"
#include "core/key.h"
#include "core/license.h"
#include "core/nodelock.h"
#include "core/server_key.h"

static const char *const not_licensed_server =
        "; a server that is not the licensed one cannot grant this vendor's seats";

/* The SERVER lines of a license file the application was given that name
 * the server at addr, or NULL when it was named only as port@host. */
static const struct lm_license_file *file_naming(const struct lm_session *s,
                                                 const struct lm_address *addr, int *index)
{
	for (size_t i = 0; i < s->cfg.nfiles; i++) {
		const struct lm_license_file *f = &s->cfg.files[i];
		for (int j = 0; j < f->nservers; j++)
			if (f->servers[j].port == addr->port &&
			    strcasecmp(f->servers[j].host, addr->host) == 0) {
				*index = j;
				return f;
			}
	}
	return NULL;
}

const uint8_t *lm_session_pinned_key(const struct lm_session *s, const struct lm_address *addr)
{
	int index;
	const struct lm_license_file *f = file_naming(s, addr, &index);
	return f && f->servers[index].has_key ? f->servers[index].key : NULL;
}

static bool same_code(const struct lm_lockcode *a, const struct lm_lockcode *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

/* The line's SERVER_CODES and SERVER_KEYS must be the file's SERVER lines:
 * a genuine line for another customer's servers proves nothing about these
 * seats. */
static int check_servers(const struct lm_session *s, const struct lm_license_file *f,
                         const struct lm_license *l, const struct lm_lockcode *codes, int ncodes,
                         char *why, size_t size)
{
	bool all = ncodes == f->nservers;
	for (int i = 0; all && i < ncodes; i++) {
		bool found = false;
		for (int j = 0; !found && j < f->nservers; j++) {
			if (!same_code(&codes[i], &f->servers[j].code))
				continue;
			found = f->servers[j].has_key == (l->nserver_keys > 0) &&
			        (!l->nserver_keys || memcmp(l->server_keys[i], f->servers[j].key,
			                                    LM_SERVER_KEY_LEN) == 0);
		}
		all = found;
	}
	if (all)
		return 0;
	lm_session_msg_set(why, size,
	                   "%s granted %s under a line for other servers (its SERVER lock "
	                   "codes or keys are not those of the license file naming this "
	                   "server)%s",
	                   s->conn.name, l->name, not_licensed_server);
	return LMC_EWRONGHOST;
}

/* Whether b names the same servers as a, with the same keys. */
static bool same_servers(const struct lm_license *a, const struct lm_lockcode *acodes, int na,
                         const struct lm_license *b, const struct lm_lockcode *bcodes, int nb)
{
	if (na != nb || a->nserver_keys != b->nserver_keys)
		return false;
	for (int i = 0; i < na; i++) {
		if (!same_code(&acodes[i], &bcodes[i]))
			return false;
		if (a->nserver_keys &&
		    memcmp(a->server_keys[i], b->server_keys[i], LM_SERVER_KEY_LEN) != 0)
			return false;
	}
	return true;
}

/* The seats the vendor signed for the pool the grant came from: the
 * granted line's count plus that of each other line the server sent
 * (CheckoutReply.pool_lines) that is genuine, distinct, for the same
 * feature, version and servers, and valid today.  A line that fails any of
 * these is not counted, so that replaying lines can never add seats. */
static uint64_t signed_seats(const struct lm_session *s, const Lm__CheckoutReply *m,
                             const char *text, const struct lm_license *l,
                             const struct lm_lockcode *codes, int ncodes)
{
	uint64_t seats = (uint64_t)l->count + l->overdraft;
	char seen[LM_WIRE_POOL_LINES_MAX][LM_LINE_MAX + 1];
	size_t nseen = 0;
	int32_t today = lm_date_today();
	for (size_t i = 0; i < m->n_pool_lines && i < LM_WIRE_POOL_LINES_MAX; i++) {
		const Lm__SignedLicense *p = m->pool_lines[i];
		char *other = seen[nseen];
		struct lm_license o;
		struct lm_lockcode ocodes[LM_LICENSE_SERVERS_MAX];
		int nocodes;
		char reason[200];
		if (lm_bytes_to_cstr(&p->text, other, LM_LINE_MAX + 1) != 0 ||
		    strcmp(other, text) == 0 ||
		    lm_license_parse_canonical(other, &o, ocodes, &nocodes, NULL) != 0 ||
		    lm_sig_verify(s->cfg.vendor_key, other, strlen(other), p->signature.data) !=
		            0 ||
		    o.type == LM_LINE_PACKAGE || o.uncounted || strcmp(o.name, l->name) != 0 ||
		    lm_version_compare(o.version, l->version) != 0 ||
		    !same_servers(l, codes, ncodes, &o, ocodes, nocodes) ||
		    lm_license_check_terms(&o, NULL, today, reason, sizeof reason) != 0)
			continue;
		bool repeated = false;
		for (size_t j = 0; j < nseen && !repeated; j++)
			repeated = strcmp(seen[j], other) == 0;
		if (repeated)
			continue;
		nseen++;
		seats += (uint64_t)o.count + o.overdraft;
	}
	return seats;
}

/* The grant's own signature, by the key pinned for this server: the one of
 * its SERVER line in a file the application was given, else any server key
 * the vendor signed into the line. */
static int check_grant_signature(const struct lm_session *s, const struct lm_session_request *r,
                                 const Lm__CheckoutReply *m, const char *text,
                                 const struct lm_license *l, const uint8_t *pinned, char *why,
                                 size_t size)
{
	if (!m->has_grant_signature || m->grant_signature.len != LM_SIG_LEN ||
	    !m->has_grant_time_ms) {
		lm_session_msg_set(why, size,
		                   "%s granted %s without signing the grant, and the license pins "
		                   "the servers' keys%s",
		                   s->conn.name, l->name, not_licensed_server);
		return LMC_EBADSIG;
	}
	struct lm_grant_claim g = {.line = text,
	                           .count = m->has_count ? m->count : r->count,
	                           .session_id = s->session_id,
	                           .time_ms = m->grant_time_ms};
	memcpy(g.nonce, r->nonce, sizeof g.nonce);
	char signed_text[LM_GRANT_TEXT_MAX];
	int n = lm_grant_text(&g, signed_text, sizeof signed_text);
	if (n > 0) {
		const uint8_t *sig = m->grant_signature.data;
		if (pinned && lm_server_key_verify(pinned, signed_text, (size_t)n, sig) == 0)
			return 0;
		for (int i = 0; !pinned && i < l->nserver_keys; i++)
			if (lm_server_key_verify(l->server_keys[i], signed_text, (size_t)n, sig) ==
			    0)
				return 0;
	}
	lm_session_msg_set(why, size,
	                   "%s granted %s with a signature that the pinned server key does not "
	                   "verify%s",
	                   s->conn.name, l->name, not_licensed_server);
	return LMC_EBADSIG;
}

/* A grant of component r->feature under enabling line l (named after the
 * package): the reply must carry the PACKAGE line, signed by the vendor,
 * of l's name and vendor, listing the component, of a version l covers;
 * *version gets the component's version. */
static int check_package(struct lm_session *s, const struct lm_session_request *r,
                         const Lm__CheckoutReply *m, const struct lm_license *l, char *version,
                         char *why, size_t size)
{
	char text[LM_LINE_MAX + 1];
	struct lm_license pkg;
	struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
	int ncodes;

	if (!m->package) {
		lm_session_msg_set(why, size, "%s granted %s under a license line for %s",
		                   s->conn.name, r->feature, l->name);
		return LMC_EBADSIG;
	}
	if (lm_bytes_to_cstr(&m->package->text, text, sizeof text) != 0 ||
	    lm_license_parse_canonical(text, &pkg, codes, &ncodes, NULL) != 0 ||
	    pkg.type != LM_LINE_PACKAGE ||
	    lm_sig_verify(s->cfg.vendor_key, text, strlen(text), m->package->signature.data) != 0) {
		lm_session_msg_set(why, size,
		                   "%s granted %s of package %s under a PACKAGE line that the "
		                   "vendor key does not verify",
		                   s->conn.name, r->feature, l->name);
		return LMC_EBADSIG;
	}
	if (strcmp(pkg.name, l->name) != 0 || strcmp(pkg.vendor, l->vendor) != 0 ||
	    !lm_license_component(&pkg, r->feature, version, LM_VERSION_MAX + 1) ||
	    lm_version_compare(l->version, pkg.version) < 0) {
		lm_session_msg_set(why, size,
		                   "%s granted %s under a license line for %s, whose PACKAGE line "
		                   "(%s %s) does not list it",
		                   s->conn.name, r->feature, l->name, pkg.name, pkg.vendor);
		return LMC_EBADSIG;
	}
	return 0;
}

int lm_session_check_grant(struct lm_session *s, const struct lm_session_request *r,
                           const Lm__CheckoutReply *m, struct lm_session_grant *grant, char *why,
                           size_t size)
{
	char text[LM_LINE_MAX + 1];
	struct lm_license l;
	struct lm_lockcode codes[LM_LICENSE_SERVERS_MAX];
	int ncodes;
	struct lm_parse_error perr;
	const char *refusal = "; a server running a license this vendor did not sign cannot "
	                      "grant seats to this vendor's applications";
	int rc;

	if (lm_bytes_to_cstr(&m->license->text, text, sizeof text) != 0) {
		lm_session_msg_set(why, size, "%s: the granted license line is unreadable",
		                   s->conn.name);
		return LMC_EBADSIG;
	}
	if (lm_license_parse_canonical(text, &l, codes, &ncodes, &perr) != 0) {
		lm_session_msg_set(why, size, "%s: the granted license line does not parse: %s",
		                   s->conn.name, perr.message);
		return LMC_EBADSIG;
	}
	if (lm_sig_verify(s->cfg.vendor_key, text, strlen(text), m->license->signature.data) != 0) {
		lm_session_msg_set(
		        why, size,
		        "%s granted %s under a line that the vendor key does not verify%s",
		        s->conn.name, r->feature, refusal);
		return LMC_EBADSIG;
	}
	/* A genuine line for something else proves nothing about this
	 * grant: the vendor signed other seats, not these, unless the vendor
	 * also signed a PACKAGE of that name listing the feature. */
	char component_version[LM_VERSION_MAX + 1] = "";
	if (strcmp(l.name, r->feature) != 0) {
		rc = check_package(s, r, m, &l, component_version, why, size);
		if (rc != 0)
			return rc;
	}
	if (component_version[0]) {
		if (r->version[0] && lm_version_compare(component_version, r->version) < 0) {
			lm_session_msg_set(why, size,
			                   "%s granted %s %s, the package gives it version %s",
			                   s->conn.name, r->feature, r->version, component_version);
			return LMC_EBADSIG;
		}
	} else if (r->version[0] && lm_version_compare(l.version, r->version) < 0) {
		lm_session_msg_set(why, size,
		                   "%s granted %s %s under a license line for version %s",
		                   s->conn.name, r->feature, r->version, l.version);
		return LMC_EBADSIG;
	}
	/* The dates, by this machine's clock: a server whose clock was set
	 * back, or an emulator replaying an old line, must not revive it. */
	char reason[300];
	rc = lm_license_check_terms(&l, NULL, lm_date_today(), reason, sizeof reason);
	if (rc != 0) {
		lm_session_msg_set(why, size,
		                   "%s granted %s under a line that is not valid today (%s)",
		                   s->conn.name, r->feature, reason + strcspn(reason, ":") + 2);
		return rc;
	}
	if (m->has_count && m->count != r->count) {
		lm_session_msg_set(why, size, "%s granted %u seats of %s, %u were asked for",
		                   s->conn.name, (unsigned)m->count, r->feature, r->count);
		return LMC_EPROTO;
	}
	if (m->has_overdraft && m->overdraft > r->count) {
		lm_session_msg_set(why, size, "%s granted %u overdraft seats of %s among %u",
		                   s->conn.name, (unsigned)m->overdraft, r->feature, r->count);
		return LMC_EPROTO;
	}
	/* The seats the vendor signed for: each line's count and the
	 * overdraft it lends beyond it. */
	uint64_t seats = (uint64_t)l.count + l.overdraft;
	if (l.type != LM_LINE_PACKAGE && !l.uncounted && r->count > seats &&
	    r->count > (seats = signed_seats(s, m, text, &l, codes, ncodes))) {
		lm_session_msg_set(why, size,
		                   "%s granted %u seats of %s under lines for %llu seats%s",
		                   s->conn.name, r->count, r->feature, (unsigned long long)seats,
		                   not_licensed_server);
		return LMC_ENOSEATS;
	}
	int index = -1;
	const struct lm_license_file *f = file_naming(s, &s->conn.addr, &index);
	if (f) {
		rc = check_servers(s, f, &l, codes, ncodes, why, size);
		if (rc != 0)
			return rc;
	}
	const uint8_t *pinned = f && f->servers[index].has_key ? f->servers[index].key : NULL;
	if (pinned || l.nserver_keys > 0) {
		rc = check_grant_signature(s, r, m, text, &l, pinned, why, size);
		if (rc != 0)
			return rc;
	}
	memset(grant, 0, sizeof *grant);
	snprintf(grant->version, sizeof grant->version, "%s",
	         component_version[0] ? component_version : l.version);
	grant->expiry = l.expiry;
	snprintf(grant->vendor_string, sizeof grant->vendor_string, "%s", l.vendor_string);
	grant->overdraft = m->has_overdraft ? m->overdraft : 0;
	grant->expiry_warning_days = m->has_expiry_warning_days && m->expiry_warning_days >= 0
	                                     ? m->expiry_warning_days
	                                     : -1;
	return 0;
}
