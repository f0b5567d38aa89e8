/* The license set the server serves (server.h).
 *
 * The license set is replicated state: every server serves the set the
 * log holds, whatever file it loaded.  A server's file only proposes a set:
 * at the cluster's first start and at lmreread.  A server whose file
 * differs (it was down during an lmreread, someone edited its copy) says so
 * in its log and in lmstat instead of silently changing the seat counts
 * whenever it becomes the leader. */
#include "config.h"

#include "lmd/server.h"

#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "lmd/command.h"

static void set_license_done(void *arg, int status, struct lm_pool_result *res)
{
	struct lm_server *s = arg;
	if (status == 0)
		lm_log("license", "serving %zu license lines from %s", s->license.nlines,
		       s->cfg.license_path);
	else
		lm_log_error("could not commit the license set (status %d); will retry at the "
		             "next election",
		             status);
}

int lm_server_propose_license(struct lm_server *s)
{
	struct lm_command cmd;
	lm_command_set_license(&cmd, &s->license, s->options);
	int rc = lm_server_propose(s, &cmd, set_license_done, s);
	lm_command_release(&cmd);
	return rc;
}

static void digest_update_line(EVP_MD_CTX *md, const char *text, size_t len, const uint8_t *sig)
{
	uint32_t n = (uint32_t)len;
	EVP_DigestUpdate(md, &n, sizeof n);
	EVP_DigestUpdate(md, text, len);
	EVP_DigestUpdate(md, sig, LM_SIG_LEN);
}

/* SHA-256 over the canonical lines and signatures of the loaded file (from
 * the pool when pool is set), in order; -1 when one cannot be read. */
static int license_set_digest(struct lm_server *s, bool pool, uint8_t out[32])
{
	static char text[LM_LINE_MAX];
	uint8_t sig[LM_SIG_LEN];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
	for (uint32_t i = 0; rc == 0; i++) {
		if (pool) {
			int r = lm_pool_line(s->pool, i, text, sizeof text, sig);
			if (r == LMC_ENOFEATURE)
				break;
			if (r != 0)
				rc = -1;
			else
				digest_update_line(md, text, strlen(text), sig);
		} else {
			if (i >= s->license.nlines)
				break;
			const struct lm_license *l = &s->license.lines[i];
			int len = lm_license_canonical(&s->license, l, text, sizeof text);
			if (len < 0)
				rc = -1;
			else
				digest_update_line(md, text, (size_t)len, l->sig);
		}
	}
	unsigned int outlen = 32;
	if (rc == 0 && EVP_DigestFinal_ex(md, out, &outlen) != 1)
		rc = -1;
	EVP_MD_CTX_free(md);
	return rc;
}

bool lm_server_license_differs(struct lm_server *s)
{
	if (s->license_check_due) {
		uint8_t mine[32], cluster[32];
		s->license_differs = license_set_digest(s, false, mine) != 0 ||
		                     license_set_digest(s, true, cluster) != 0 ||
		                     memcmp(mine, cluster, 32) != 0;
		s->license_check_due = false;
	}
	return s->license_differs;
}

void lm_server_adopt_license(struct lm_server *s)
{
	char text[16];
	uint8_t sig[LM_SIG_LEN];
	if (lm_pool_line(s->pool, 0, text, sizeof text, sig) == LMC_ENOFEATURE) {
		int rc = lm_server_propose_license(s);
		if (rc != 0)
			lm_log_error("cannot propose the license set: %s", lmc_strerror(rc));
		return;
	}
	s->license_check_due = true;
	if (lm_server_license_differs(s))
		lm_log("license",
		       "%s differs from the license set the cluster serves: serving the "
		       "cluster's; run `lmutil lmreread` to serve this file",
		       s->cfg.license_path);
}
