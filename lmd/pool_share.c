/* DUP_GROUP: checkouts that share one seat.
 *
 * FlexLM's duplicate grouping: a checkout whose user (U), host (H),
 * display (D) and vendor data (V: the application's vendor-defined
 * checkout data, core/vendor_data.h), as many of them as the line's
 * DUP_GROUP names, are those of a checkout already holding seats of the
 * same pool takes no seat of its own; it shares the seats held.  DUP_GROUP=SITE makes every
 * checkout of the pool share; NONE (or no DUP_GROUP) shares nothing.
 *
 * A group is named by a SHA-256 over the grouping letters and the fields
 * they name, so that a name has a fixed size (LMDB keys are short) and the
 * same bytes on every server.  The shares table holds, per pool and group,
 * how many handles share the group and how many seats it charged to the
 * pool: the seats of the handle that opened it.  A later checkout joins
 * the group when it asks for as many seats as the group holds (FlexLM
 * shares duplicates of the same request; a different count takes seats of
 * its own, in a group of its own count); checking
 * in one of the sharing handles keeps the seats while another holds them,
 * and the last one out returns them.  The table is derived from the
 * handles (each handle keeps its group's name), so a snapshot rebuilds it
 * by charging its handles in order. */
#include "lmd/pool.h"

#include <openssl/evp.h>
#include <string.h>

#include "core/error.h"
#include "core/license.h"
#include "lmd/pool_internal.h"
#include "lmd/store.h"

#define SHARE_KEY_MAX   (LM_POOL_KEY_MAX + LM_POOL_SHARE_LEN)
#define SHARE_VALUE_LEN 8 /* u32 holders, u32 seats */

/* Each field with its length in front, so that no two identities write
 * the same bytes. */
static int digest_field(EVP_MD_CTX *ctx, const char *field)
{
	uint8_t len[2];
	size_t n = strlen(field);
	lm_be16_put(len, (uint16_t)n);
	return EVP_DigestUpdate(ctx, len, sizeof len) && EVP_DigestUpdate(ctx, field, n);
}

int lm_pool_share_name(unsigned dup_group, const struct lm_pool_session *s, const char *vendor_data,
                       bool *shared, uint8_t share[LM_POOL_SHARE_LEN])
{
	char letters[8];
	unsigned len = 0;
	bool ok;

	*shared = false;
	if (!dup_group || (dup_group & LM_DUP_NONE))
		return 0;
	lm_license_dup_group_format(dup_group, letters, sizeof letters);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && digest_field(ctx, letters);
	if (ok && (dup_group & LM_DUP_USER))
		ok = digest_field(ctx, s->user);
	if (ok && (dup_group & LM_DUP_HOST))
		ok = digest_field(ctx, s->host);
	if (ok && (dup_group & LM_DUP_DISPLAY))
		ok = digest_field(ctx, s->display);
	/* No data is a value like any other: under V alone, the checkouts
	 * without vendor data agree on it and share one group. */
	if (ok && (dup_group & LM_DUP_VENDOR))
		ok = digest_field(ctx, vendor_data);
	ok = ok && EVP_DigestFinal_ex(ctx, share, &len) && len == LM_POOL_SHARE_LEN;
	EVP_MD_CTX_free(ctx);
	/* Only an allocation can fail here: a local failure, fatal to the
	 * server like any other, so that no server decides differently. */
	if (!ok)
		return LMC_ENOMEM;
	*shared = true;
	return 0;
}

static size_t share_key(uint8_t key[SHARE_KEY_MAX], const uint8_t *pkey, size_t plen,
                        const uint8_t share[LM_POOL_SHARE_LEN])
{
	memcpy(key, pkey, plen);
	memcpy(key + plen, share, LM_POOL_SHARE_LEN);
	return plen + LM_POOL_SHARE_LEN;
}

int lm_pool_share_seats(struct lm_pool *p, const uint8_t *pkey, size_t plen,
                        const uint8_t share[LM_POOL_SHARE_LEN], uint32_t *seats, uint32_t *holders)
{
	uint8_t key[SHARE_KEY_MAX];
	struct lm_val v;
	int rc = lm_store_get(p->store, LM_DB_SHARES, key, share_key(key, pkey, plen, share), &v);
	if (rc)
		return lm_pool_store_failed(p, rc);
	*seats = *holders = 0;
	if (!v.data)
		return 0;
	if (v.len != SHARE_VALUE_LEN)
		return lm_pool_corrupt("shares");
	*holders = lm_be32_get(v.data);
	*seats = lm_be32_get((const uint8_t *)v.data + 4);
	if (*holders == 0 || *seats == 0)
		return lm_pool_corrupt("shares");
	return 0;
}

static int share_put(struct lm_pool *p, const uint8_t *key, size_t klen, uint32_t holders,
                     uint32_t seats)
{
	uint8_t b[SHARE_VALUE_LEN];
	int rc;
	if (holders == 0) {
		rc = lm_store_del(p->store, LM_DB_SHARES, key, klen, NULL);
	} else {
		lm_be32_put(b, holders);
		lm_be32_put(b + 4, seats);
		rc = lm_store_put(p->store, LM_DB_SHARES, key, klen, b, sizeof b);
	}
	return rc ? lm_pool_store_failed(p, rc) : 0;
}

int lm_pool_share_join(struct lm_pool *p, const struct lm_pool_handle *h, const uint8_t *pkey,
                       size_t plen, uint32_t *charge)
{
	uint8_t key[SHARE_KEY_MAX];
	uint32_t seats, holders;
	int rc;

	*charge = h->count;
	if (!h->has_share)
		return 0;
	rc = lm_pool_share_seats(p, pkey, plen, h->share, &seats, &holders);
	if (rc)
		return rc;
	size_t klen = share_key(key, pkey, plen, h->share);
	if (holders == 0)
		return share_put(p, key, klen, 1, h->count);
	/* Checkout joins a group only when it holds as many seats as asked
	 * for: every handle of a group has the same count, so whichever of
	 * them opens it again in a restore, it holds the same seats.  A
	 * snapshot that says otherwise was not written by a pool. */
	if (h->count != seats || holders == UINT32_MAX)
		return lm_pool_corrupt("shares");
	*charge = 0;
	return share_put(p, key, klen, holders + 1, seats);
}

int lm_pool_share_leave(struct lm_pool *p, const struct lm_pool_handle *h, const uint8_t *pkey,
                        size_t plen, uint32_t *release)
{
	uint8_t key[SHARE_KEY_MAX];
	uint32_t seats, holders;
	int rc;

	*release = h->count;
	if (!h->has_share)
		return 0;
	rc = lm_pool_share_seats(p, pkey, plen, h->share, &seats, &holders);
	if (rc)
		return rc;
	if (holders == 0)
		return lm_pool_corrupt("shares");
	*release = holders == 1 ? seats : 0;
	return share_put(p, key, share_key(key, pkey, plen, h->share), holders - 1, seats);
}
