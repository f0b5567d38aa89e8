/* What a server keeps for admin authority (admin_auth.h) and its audit
 * trail (admin_audit.h): plain data, so that server.h can hold it without
 * depending on the code that uses it. */
#ifndef LM_ADMIN_STATE_H
#define LM_ADMIN_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/limits.h"

/* The --admin-keys file's keys. */
struct lm_admin_key {
	char name[LM_ADMIN_KEY_NAME_MAX + 1];
	EVP_PKEY *key;
};

struct lm_admin_keys {
	struct lm_admin_key keys[LM_ADMIN_KEYS_MAX];
	unsigned n;
};

/* Entries lmstat shows. */
#define LM_ADMIN_AUDIT_KEEP           16
#define LM_ADMIN_AUDIT_REFUSALS_PER_S 10

struct lm_admin_audit_entry {
	int64_t time; /* Unix seconds */
	char who[160];
	char address[96];
	char action[16];
	bool accepted;
	char detail[256];
};

struct lm_admin_audit {
	struct lm_admin_audit_entry entries[LM_ADMIN_AUDIT_KEEP];
	unsigned next, count;
	/* The rate limit on refusals proposed to the report log. */
	int64_t window_s;
	unsigned window_refusals, suppressed;
};

#endif
