/* lmd's data directory (see datadir.h): the server's identity key,
 * DATA/server-key (core/server_key_file.h), and the check that the license
 * pins this key for this server. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/server_key.h"
#include "core/server_key_file.h"
#include "lmd/datadir.h"

int lm_datadir_server_key(struct lm_datadir *d, const struct lm_license_server *own, EVP_PKEY **out,
                          bool *created, char *msg, size_t size)
{
	EVP_PKEY *key;
	int rc = lm_server_key_file_open(d->fd, d->path, true, &key, created, msg, size);
	if (rc != 0)
		return rc;
	uint8_t raw[LM_SERVER_KEY_LEN];
	char have[LM_SERVER_KEY_TEXT_MAX], pinned[LM_SERVER_KEY_TEXT_MAX];
	if (lm_server_key_raw(key, raw) != 0 || lm_server_key_format(raw, have, sizeof have) != 0) {
		EVP_PKEY_free(key);
		snprintf(msg, size, "%s/%s: the key cannot be read back", d->path,
		         LM_SERVER_KEY_FILE);
		return LMC_EKEY;
	}
	/* The license pins another server's key: this machine would sign
	 * grants that every client refuses, or the file was meant for a
	 * server whose key was lost.  Better to say so now than to serve
	 * refusals. */
	if (own && own->has_key && memcmp(own->key, raw, LM_SERVER_KEY_LEN) != 0) {
		lm_server_key_format(own->key, pinned, sizeof pinned);
		snprintf(msg, size,
		         "the license's SERVER line %d pins the server key %s, but this "
		         "server's key (%s/%s) is %s; run lmd with the data directory that "
		         "holds the pinned key, or send `lmutil lmhostid --server --data %s` to "
		         "the vendor for a license pinning this key",
		         own->lineno, pinned, d->path, LM_SERVER_KEY_FILE, have, d->path);
		EVP_PKEY_free(key);
		return LMC_ENOTLICENSED;
	}
	*out = key;
	return 0;
}
