/* The key center's store (keycenter.h): one LMDB file of JSON records. */
#include "vendor/keycenter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "core/error.h"

int lm_kc_fail(struct lm_kc *kc, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(kc->error, sizeof kc->error, fmt, ap);
	va_end(ap);
	return code;
}

int lm_kc_key(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size || n > LM_KC_KEY_MAX)
		return LMC_ETOOLARGE;
	return 0;
}

/* A store is a regular file whose size covers every page LMDB says it
 * uses: LMDB trusts its meta page, and reading a page past the end of a
 * truncated file would end the process with SIGBUS instead of a sentence. */
static int check_size(struct lm_kc *kc)
{
	struct stat st;
	MDB_envinfo info;
	MDB_stat ms;
	if (stat(kc->path, &st) != 0)
		return lm_kc_fail(kc, LMC_EIO, "cannot read the key-center store %s: %s", kc->path,
		                  strerror(errno));
	if (mdb_env_info(kc->env, &info) != 0 || mdb_env_stat(kc->env, &ms) != 0)
		return lm_kc_fail(kc, LMC_EIO, "cannot read the key-center store %s", kc->path);
	if (((unsigned long long)info.me_last_pgno + 1) * ms.ms_psize >
	    (unsigned long long)st.st_size)
		return lm_kc_fail(kc, LMC_EIO,
		                  "the key-center store %s is corrupted: it is shorter than its "
		                  "own index says (truncated?); restore it from a backup",
		                  kc->path);
	return 0;
}

/* The meta record says the file is a key center's, and of a format this
 * release reads.  A new, empty environment gets one (create only). */
static int check_meta(struct lm_kc *kc, bool create)
{
	json_t *meta = NULL;
	int rc = lm_kc_get(kc, "meta", &meta);
	if (rc == LM_KC_NOTFOUND) {
		MDB_stat ms;
		if (mdb_stat(kc->txn, kc->dbi, &ms) != 0 || ms.ms_entries != 0)
			return lm_kc_fail(
			        kc, LMC_EINVAL,
			        "%s is an LMDB file but not a key-center store (it has no "
			        "key-center header): check --store",
			        kc->path);
		if (!create)
			return lm_kc_fail(kc, LMC_EINVAL,
			                  "the key-center store %s is empty: add a site first",
			                  kc->path);
		meta = json_pack("{sssi}", "format", LM_KC_FORMAT, "version", LM_KC_VERSION);
		if (!meta)
			return lm_kc_fail(kc, LMC_ENOMEM, "out of memory");
		rc = lm_kc_put(kc, "meta", meta);
		json_decref(meta);
		return rc;
	}
	if (rc)
		return rc;
	const char *format = json_string_value(json_object_get(meta, "format"));
	json_int_t version = json_integer_value(json_object_get(meta, "version"));
	if (!format || strcmp(format, LM_KC_FORMAT) != 0)
		rc = lm_kc_fail(kc, LMC_EINVAL,
		                "%s is an LMDB file but not a key-center store (its header "
		                "names another format): check --store",
		                kc->path);
	else if (version != LM_KC_VERSION)
		rc = lm_kc_fail(kc, LMC_EINVAL,
		                "the key-center store %s has format version %lld; this lmvendor "
		                "reads version %d only",
		                kc->path, (long long)version, LM_KC_VERSION);
	json_decref(meta);
	return rc;
}

int lm_kc_open(struct lm_kc *kc, const char *path, bool create)
{
	memset(kc, 0, sizeof *kc);
	if (strlen(path) >= sizeof kc->path - 8)
		return lm_kc_fail(kc, LMC_ETOOLARGE, "the store path is too long");
	snprintf(kc->path, sizeof kc->path, "%s", path);
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno != ENOENT || !create)
			return lm_kc_fail(
			        kc, LMC_EIO, "cannot open the key-center store %s: %s", path,
			        errno == ENOENT ? "no such file (add a site first, or check "
			                          "--store)"
			                        : strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		return lm_kc_fail(kc, LMC_EINVAL, "the key-center store %s is not a regular file",
		                  path);
	} else if (st.st_size == 0) {
		/* LMDB would quietly make a new environment in an empty file:
		 * a store emptied by accident must not look like a new one. */
		return lm_kc_fail(kc, LMC_EIO,
		                  "the key-center store %s is empty (0 bytes): corrupted", path);
	}
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc)
		return lm_kc_fail(kc, LMC_ENOMEM, "cannot open the key-center store: %s",
		                  mdb_strerror(rc));
	kc->env = env;
	if ((rc = mdb_env_set_mapsize(env, LM_KC_MAP_SIZE)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0644)) != 0) {
		if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED)
			return lm_kc_fail(kc, LMC_EIO,
			                  "%s is not a key-center store, or it is corrupted (%s): "
			                  "check --store, or restore it from a backup",
			                  path, mdb_strerror(rc));
		return lm_kc_fail(kc, LMC_EIO, "cannot open the key-center store %s: %s", path,
		                  mdb_strerror(rc));
	}
	if ((rc = check_size(kc)) != 0)
		return rc;
	if ((rc = lm_kc_begin(kc, create)) != 0)
		return rc;
	if ((rc = check_meta(kc, create)) != 0) {
		lm_kc_abort(kc);
		return rc;
	}
	return create ? lm_kc_commit(kc) : (lm_kc_abort(kc), 0);
}

void lm_kc_close(struct lm_kc *kc)
{
	lm_kc_abort(kc);
	lm_kc_release(kc, false);
	if (kc->env)
		mdb_env_close(kc->env);
	kc->env = NULL;
}

int lm_kc_begin(struct lm_kc *kc, bool write)
{
	if (kc->txn)
		return lm_kc_fail(kc, LMC_EINVAL, "a transaction is already open");
	MDB_txn *txn;
	/* LMDB's child transactions are write transactions only. */
	int rc = mdb_txn_begin(kc->env, kc->held, write || kc->held ? 0 : MDB_RDONLY, &txn);
	if (rc)
		return lm_kc_fail(kc, LMC_EIO, "cannot use the key-center store %s: %s", kc->path,
		                  mdb_strerror(rc));
	MDB_dbi dbi;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0) {
		mdb_txn_abort(txn);
		return lm_kc_fail(kc, LMC_EIO, "cannot use the key-center store %s: %s", kc->path,
		                  mdb_strerror(rc));
	}
	kc->txn = txn;
	kc->dbi = dbi;
	return 0;
}

int lm_kc_commit(struct lm_kc *kc)
{
	/* LMDB frees the transaction whether the commit succeeded or not. */
	int rc = mdb_txn_commit(kc->txn);
	kc->txn = NULL;
	if (rc)
		return lm_kc_fail(kc, LMC_EIO,
		                  "cannot write the key-center store %s: %s (nothing "
		                  "was changed)",
		                  kc->path, mdb_strerror(rc));
	return 0;
}

void lm_kc_abort(struct lm_kc *kc)
{
	if (kc->txn)
		mdb_txn_abort(kc->txn);
	kc->txn = NULL;
}

int lm_kc_hold(struct lm_kc *kc)
{
	if (kc->txn || kc->held)
		return lm_kc_fail(kc, LMC_EINVAL, "a transaction is already open");
	int rc = mdb_txn_begin(kc->env, NULL, 0, &kc->held);
	if (rc) {
		kc->held = NULL;
		return lm_kc_fail(kc, LMC_EIO, "cannot use the key-center store %s: %s", kc->path,
		                  mdb_strerror(rc));
	}
	return 0;
}

int lm_kc_release(struct lm_kc *kc, bool commit)
{
	MDB_txn *held = kc->held;
	if (!held)
		return 0;
	lm_kc_abort(kc);
	kc->held = NULL;
	if (!commit) {
		mdb_txn_abort(held);
		return 0;
	}
	int rc = mdb_txn_commit(held);
	if (rc)
		return lm_kc_fail(kc, LMC_EIO,
		                  "cannot write the key-center store %s: %s (nothing "
		                  "was changed)",
		                  kc->path, mdb_strerror(rc));
	return 0;
}

static int decode(struct lm_kc *kc, const MDB_val *key, const MDB_val *val, json_t **out)
{
	json_error_t jerr;
	json_t *v = json_loadb(val->mv_data, val->mv_size, JSON_REJECT_DUPLICATES, &jerr);
	if (!v || !json_is_object(v)) {
		json_decref(v);
		return lm_kc_fail(kc, LMC_EIO,
		                  "the key-center store %s is corrupted: record '%.*s' is not "
		                  "readable; restore it from a backup",
		                  kc->path, (int)(key->mv_size > 100 ? 100 : key->mv_size),
		                  (const char *)key->mv_data);
	}
	*out = v;
	return 0;
}

static int store_error(struct lm_kc *kc, int rc)
{
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
		return lm_kc_fail(kc, LMC_EIO,
		                  "the key-center store %s is corrupted (%s); restore it from a "
		                  "backup",
		                  kc->path, mdb_strerror(rc));
	if (rc == MDB_MAP_FULL)
		return lm_kc_fail(kc, LMC_ESTORE, "the key-center store %s is full", kc->path);
	return lm_kc_fail(kc, LMC_EIO, "cannot use the key-center store %s: %s", kc->path,
	                  mdb_strerror(rc));
}

int lm_kc_get(struct lm_kc *kc, const char *key, json_t **out)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	int rc = mdb_get(kc->txn, kc->dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return LM_KC_NOTFOUND;
	if (rc)
		return store_error(kc, rc);
	return decode(kc, &k, &v, out);
}

int lm_kc_put(struct lm_kc *kc, const char *key, const json_t *value)
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		return lm_kc_fail(kc, LMC_ENOMEM, "out of memory");
	MDB_val k = {strlen(key), (void *)key}, v = {strlen(text), text};
	int rc = mdb_put(kc->txn, kc->dbi, &k, &v, 0);
	free(text);
	return rc ? store_error(kc, rc) : 0;
}

int lm_kc_next(struct lm_kc *kc, const char *name, long long *out)
{
	char key[LM_KC_KEY_MAX + 1];
	if (lm_kc_key(key, sizeof key, "counter/%s", name) != 0)
		return lm_kc_fail(kc, LMC_ETOOLARGE, "counter name too long");
	json_t *rec = NULL;
	int rc = lm_kc_get(kc, key, &rec);
	if (rc < 0)
		return rc;
	long long next = rc == 0 ? (long long)json_integer_value(json_object_get(rec, "next")) : 1;
	json_decref(rec);
	if (next < 1)
		return lm_kc_fail(kc, LMC_EIO, "the key-center store %s is corrupted: counter %s",
		                  kc->path, name);
	rec = json_pack("{sI}", "next", (json_int_t)(next + 1));
	if (!rec)
		return lm_kc_fail(kc, LMC_ENOMEM, "out of memory");
	rc = lm_kc_put(kc, key, rec);
	json_decref(rec);
	if (rc == 0)
		*out = next;
	return rc;
}

int lm_kc_scan(struct lm_kc *kc, const char *prefix, lm_kc_visit_fn fn, void *arg)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(kc->txn, kc->dbi, &cur);
	if (rc)
		return store_error(kc, rc);
	size_t plen = strlen(prefix);
	MDB_val k = {plen, (void *)prefix}, v;
	int status = 0;
	/* LMDB takes no empty key: the empty prefix starts at the first. */
	for (rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		char key[LM_KC_KEY_MAX + 1];
		if (k.mv_size > LM_KC_KEY_MAX) {
			status = lm_kc_fail(kc, LMC_EIO,
			                    "the key-center store %s is corrupted: a key "
			                    "is too long",
			                    kc->path);
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		json_t *value;
		if ((status = decode(kc, &k, &v, &value)) != 0)
			break;
		status = fn(arg, key, value);
		json_decref(value);
		if (status)
			break;
	}
	if (rc && rc != MDB_NOTFOUND && status == 0)
		status = store_error(kc, rc);
	mdb_cursor_close(cur);
	return status;
}
