/* lmd's LMDB store: the records, read and written inside a transaction
 * (store.h). */
#include "lmd/store_internal.h"

#include <errno.h>
#include <string.h>

#include <lmdb.h>

#include "core/error.h"
#include "lmd/faults.h"

static int check_txn(struct lm_store *s, bool write)
{
	if (!s->txn)
		return lm_store_misuse(s, "access outside a transaction");
	if (write && !s->writing)
		return lm_store_misuse(s, "write inside a read transaction");
	return 0;
}

int lm_store_get(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen,
                 struct lm_val *val)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
	int rc = check_txn(s, false);

	val->data = NULL;
	val->len = 0;
	if (rc)
		return rc;
	rc = mdb_get(s->txn, s->dbi[db], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lm_store_fail(s, rc, "get from %s", lm_store_db_name(db));
	/* An empty value may come back with a NULL pointer; callers tell
	 * absent from empty by data alone. */
	val->data = v.mv_size ? v.mv_data : (const void *)"";
	val->len = v.mv_size;
	return 0;
}

int lm_store_put(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen,
                 const void *val, size_t vlen)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
	int rc = check_txn(s, true);

	if (!rc)
		rc = lm_store_reserve_write(s, klen, vlen);
	if (rc)
		return rc;
	rc = lm_fault(LM_FAULT_STORE_WRITE) ? EIO : mdb_put(s->txn, s->dbi[db], &k, &v, 0);
	if (rc)
		return lm_store_fail(s, rc, "put into %s", lm_store_db_name(db));
	return 0;
}

int lm_store_del(struct lm_store *s, enum lm_store_db db, const void *key, size_t klen, bool *found)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	int rc = check_txn(s, true);

	if (found)
		*found = false;
	if (!rc)
		rc = lm_store_reserve_write(s, 0, 0);
	if (rc)
		return rc;
	rc = lm_fault(LM_FAULT_STORE_WRITE) ? EIO : mdb_del(s->txn, s->dbi[db], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lm_store_fail(s, rc, "delete from %s", lm_store_db_name(db));
	if (found)
		*found = true;
	return 0;
}

int lm_store_scan(struct lm_store *s, enum lm_store_db db, const void *prefix, size_t plen,
                  lm_store_scan_fn fn, void *arg)
{
	MDB_cursor *c;
	MDB_val k = {.mv_size = plen, .mv_data = (void *)prefix}, v;
	int rc = check_txn(s, false);

	if (rc)
		return rc;
	rc = mdb_cursor_open(s->txn, s->dbi[db], &c);
	if (rc)
		return lm_store_fail(s, rc, "open a cursor on %s", lm_store_db_name(db));
	/* MDB_SET_RANGE finds the first key >= prefix, where the records that
	 * share the prefix begin. */
	rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		struct lm_val key = {k.mv_data, k.mv_size};
		struct lm_val val = {v.mv_size ? v.mv_data : (const void *)"", v.mv_size};
		int stop = fn(arg, key, val);
		if (stop) {
			mdb_cursor_close(c);
			return stop;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return lm_store_fail(s, rc, "scan %s", lm_store_db_name(db));
	return 0;
}

int lm_store_count(struct lm_store *s, enum lm_store_db db, size_t *n)
{
	MDB_stat st;
	int rc = check_txn(s, false);

	*n = 0;
	if (rc)
		return rc;
	rc = mdb_stat(s->txn, s->dbi[db], &st);
	if (rc)
		return lm_store_fail(s, rc, "stat %s", lm_store_db_name(db));
	*n = st.ms_entries;
	return 0;
}

int lm_store_drop(struct lm_store *s, enum lm_store_db db)
{
	int rc = check_txn(s, true);

	if (rc)
		return rc;
	/* 0: empty the table but keep its handle open. */
	rc = lm_fault(LM_FAULT_STORE_WRITE) ? EIO : mdb_drop(s->txn, s->dbi[db], 0);
	if (rc)
		return lm_store_fail(s, rc, "empty %s", lm_store_db_name(db));
	return 0;
}

int lm_store_clear(struct lm_store *s)
{
	for (int i = 0; i < LM_DB_COUNT; i++) {
		int rc = lm_store_drop(s, (enum lm_store_db)i);
		if (rc)
			return rc;
	}
	return 0;
}
