/* Who may use the admin requests (admin_auth.h): the admin socket's peer
 * credentials, admin keys and their challenges. */
#include "config.h"

#include "lmd/admin_auth.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "core/error_message.h"
#include "core/key.h"
#include "core/log.h"
#include "lmd/admin_audit.h"
#include "lmd/connection.h"

/* ---- the --admin-keys file ---- */

static bool key_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > LM_ADMIN_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._@-", name[i]))
			return false;
	return true;
}

/* "NAME ed25519 BASE64" into k. */
static int parse_key_line(char *line, struct lm_admin_key *k, char *why, size_t whysize)
{
	char *save = NULL;
	char *name = strtok_r(line, " \t", &save);
	char *kind = strtok_r(NULL, " \t", &save);
	char *b64 = strtok_r(NULL, " \t", &save);
	if (!name || !kind || !b64 || strtok_r(NULL, " \t", &save))
		return lm_error_message(why, whysize, LMC_EKEY,
		                        "expected NAME ed25519 PUBLIC-KEY (as lmutil admin-keygen "
		                        "prints)");
	if (!key_name_ok(name))
		return lm_error_message(why, whysize, LMC_EKEY,
		                        "key name \"%.80s\": up to %d letters, digits and ._@-",
		                        name, LM_ADMIN_KEY_NAME_MAX);
	if (strcmp(kind, "ed25519") != 0)
		return lm_error_message(why, whysize, LMC_EKEY,
		                        "key type \"%.40s\": only ed25519 is accepted", kind);
	size_t len = strlen(b64);
	unsigned char raw[64];
	/* 32 bytes are 44 characters of base64 with one '=' of padding. */
	if (len != 44 || EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len) != 33 ||
	    b64[43] != '=' || b64[42] == '=')
		return lm_error_message(why, whysize, LMC_EKEY,
		                        "the public key is not 32 bytes of base64");
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	if (!key)
		return lm_key_fail(LMC_EKEY, why, whysize, "not an Ed25519 public key");
	snprintf(k->name, sizeof k->name, "%s", name);
	k->key = key;
	return 0;
}

int lm_admin_keys_load(struct lm_admin_keys *keys, const char *path, char *err, size_t errsize)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return lm_error_message(err, errsize, LMC_EIO, "--admin-keys %s: %s", path,
		                        strerror(errno));
	char line[512], why[200];
	unsigned lineno = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof line - 1 && line[n - 1] != '\n') {
			rc = lm_error_message(err, errsize, LMC_ETOOLARGE,
			                      "--admin-keys %s line %u: longer than %zu characters",
			                      path, lineno, sizeof line - 2);
			break;
		}
		while (n && isspace((unsigned char)line[n - 1]))
			line[--n] = 0;
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (keys->n == LM_ADMIN_KEYS_MAX) {
			rc = lm_error_message(err, errsize, LMC_ETOOLARGE,
			                      "--admin-keys %s: more than %d keys", path,
			                      LM_ADMIN_KEYS_MAX);
			break;
		}
		struct lm_admin_key *k = &keys->keys[keys->n];
		rc = parse_key_line(p, k, why, sizeof why);
		if (rc != 0) {
			lm_error_message(err, errsize, rc, "--admin-keys %s line %u: %s", path,
			                 lineno, why);
			break;
		}
		for (unsigned i = 0; i < keys->n; i++)
			if (strcmp(keys->keys[i].name, k->name) == 0) {
				EVP_PKEY_free(k->key);
				k->key = NULL;
				rc = lm_error_message(
				        err, errsize, LMC_EKEY,
				        "--admin-keys %s line %u: the name %s is taken "
				        "by line before",
				        path, lineno, k->name);
			}
		if (rc == 0)
			keys->n++;
	}
	if (rc == 0 && ferror(f))
		rc = lm_error_message(err, errsize, LMC_EIO, "--admin-keys %s: read error", path);
	fclose(f);
	if (rc != 0)
		lm_admin_keys_free(keys);
	return rc;
}

void lm_admin_keys_free(struct lm_admin_keys *keys)
{
	for (unsigned i = 0; i < keys->n; i++)
		EVP_PKEY_free(keys->keys[i].key);
	keys->n = 0;
}

static const struct lm_admin_key *find_key(const struct lm_server *s, const char *name)
{
	for (unsigned i = 0; i < s->admin_keys.n; i++)
		if (strcmp(s->admin_keys.keys[i].name, name) == 0)
			return &s->admin_keys.keys[i];
	return NULL;
}

/* ---- the admin group and the admin socket's peers ---- */

int lm_admin_group_resolve(struct lm_server *s, char *err, size_t errsize)
{
	const char *name = s->cfg.admin_group ? s->cfg.admin_group : "lmadmin";
	snprintf(s->admin_group, sizeof s->admin_group, "%s", name);
	struct group *g = getgrnam(name);
	if (g) {
		s->admin_gid = g->gr_gid;
		s->has_admin_gid = true;
		return 0;
	}
	s->has_admin_gid = false;
	if (s->cfg.admin_group)
		return lm_error_message(err, errsize, LMC_EINVAL, "--admin-group %s: no such group",
		                        name);
	return 0;
}

/* Whether the peer's groups (its primary group, then the supplementary
 * groups the kernel recorded at connect) hold the admin group. */
static bool peer_in_admin_group(const struct lm_server *s, int fd, gid_t primary)
{
	if (!s->has_admin_gid)
		return false;
	if (primary == s->admin_gid)
		return true;
#ifdef SO_PEERGROUPS
	gid_t groups[256];
	socklen_t len = sizeof groups;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		for (size_t i = 0; i < len / sizeof groups[0]; i++)
			if (groups[i] == s->admin_gid)
				return true;
#endif
	return false;
}

void lm_admin_auth_peer(struct lm_connection *c, int fd)
{
	struct lm_server *s = c->s;
	struct ucred cred;
	socklen_t len = sizeof cred;
	c->socket_admin = false;
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		snprintf(c->peer, sizeof c->peer, "admin-socket (no credentials)");
		return;
	}
	c->peer_uid = cred.uid;
	c->socket_admin = cred.uid == 0 || peer_in_admin_group(s, fd, cred.gid);
	/* The name is only for people reading the log: the uid decides. */
	char name[64] = "?";
	struct passwd pw, *found = NULL;
	char buf[1024];
	if (getpwuid_r(cred.uid, &pw, buf, sizeof buf, &found) == 0 && found)
		snprintf(name, sizeof name, "%s", found->pw_name);
	snprintf(c->peer, sizeof c->peer, "admin-socket pid=%ld", (long)cred.pid);
	snprintf(c->peer_who, sizeof c->peer_who, "uid=%u(%s)", (unsigned)cred.uid, name);
}

/* ---- deciding ---- */

static const char *action_of(Lm__Envelope__BodyCase body)
{
	switch (body) {
	case LM__ENVELOPE__BODY_REMOVE_REQUEST: return "lmremove";
	case LM__ENVELOPE__BODY_SHUTDOWN_REQUEST: return "lmdown";
	case LM__ENVELOPE__BODY_REREAD_REQUEST: return "lmreread";
	case LM__ENVELOPE__BODY_REPLACE_REQUEST: return "lmreplace";
	default: return NULL;
	}
}

/* What was asked, in words for the audit trail. */
static void describe(const Lm__Envelope *env, char *out, size_t size)
{
	*out = 0;
	if (env->body_case == LM__ENVELOPE__BODY_REMOVE_REQUEST) {
		const Lm__RemoveRequest *q = env->remove_request;
		char feature[LM_WIRE_FEATURE_MAX + 1], user[LM_WIRE_USER_MAX + 1],
		        host[LM_WIRE_HOST_MAX + 1];
		lm_bytes_opt_to_cstr(q->has_feature, &q->feature, feature, sizeof feature);
		lm_bytes_opt_to_cstr(q->has_user, &q->user, user, sizeof user);
		lm_bytes_opt_to_cstr(q->has_host, &q->host, host, sizeof host);
		if (q->has_named) {
			lm_bytes_opt_to_cstr(q->has_named, &q->named, user, sizeof user);
			snprintf(out, size, "feature=%s named=%.64s", feature, user);
		} else if (q->has_handle)
			snprintf(out, size, "feature=%s handle=%llu", feature,
			         (unsigned long long)q->handle);
		else
			snprintf(out, size, "feature=%s user=%.64s host=%.64s", feature, user,
			         host);
	} else if (env->body_case == LM__ENVELOPE__BODY_REPLACE_REQUEST) {
		const Lm__ReplaceRequest *q = env->replace_request;
		snprintf(out, size, "SERVER line %u by raft id %llu", q->node,
		         (unsigned long long)q->new_id);
	}
}

bool lm_admin_auth_check(struct lm_connection *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const char *action = action_of(env->body_case);
	char detail[256], who[160];
	describe(env, detail, sizeof detail);
	if (c->signed_by[0]) {
		snprintf(who, sizeof who, "key=%s", c->signed_by);
		lm_admin_audit_record(s, who, c->peer, action, true, detail);
		return true;
	}
	if (c->socket_admin) {
		lm_admin_audit_record(s, c->peer_who, c->peer, action, true, detail);
		return true;
	}
	char msg[400];
	if (c->on_admin_socket) {
		snprintf(who, sizeof who, "%s", c->peer_who);
		snprintf(msg, sizeof msg,
		         "%s is neither root nor a member of the admin group %s: not an "
		         "administrator of this server",
		         c->peer_who, s->admin_group);
	} else {
		/* The name is the client's claim, kept to tell attempts apart. */
		snprintf(who, sizeof who, "user=%.100s (unauthenticated)", c->user);
		snprintf(msg, sizeof msg,
		         "%s needs admin authority: run lmutil as root or a member of group %s "
		         "on the server's machine (it uses the admin socket), or sign the request "
		         "with an admin key listed in lmd's --admin-keys (LM_ADMIN_KEY)",
		         action, s->admin_group);
	}
	char why[300];
	snprintf(why, sizeof why, "%s%srefused: not an administrator", detail, *detail ? "; " : "");
	lm_admin_audit_record(s, who, c->peer, action, false, why);
	lm_connection_send_error(c, env->request_id, LMC_ENOTADMIN, msg, false);
	return false;
}

/* ---- challenges and signed requests ---- */

static void on_challenge(struct lm_connection *c, const Lm__Envelope *env)
{
	if (RAND_bytes(c->challenge, sizeof c->challenge) != 1) {
		lm_connection_send_error(c, env->request_id, LMC_EIO,
		                         "the server could not make a random challenge", false);
		return;
	}
	c->has_challenge = true;
	Lm__Envelope e;
	lm_envelope_init(&e, env->request_id);
	Lm__AdminChallenge r = LM__ADMIN_CHALLENGE__INIT;
	r.has_nonce = 1;
	r.nonce.data = c->challenge;
	r.nonce.len = sizeof c->challenge;
	e.body_case = LM__ENVELOPE__BODY_ADMIN_CHALLENGE;
	e.admin_challenge = &r;
	lm_connection_send(c, &e, false);
}

static bool signature_holds(EVP_PKEY *key, const uint8_t *nonce, const ProtobufCBinaryData *req,
                            const uint8_t *sig)
{
	size_t prefix = sizeof LM_ADMIN_SIGNED_PREFIX; /* with its NUL */
	size_t len = prefix + LM_ADMIN_NONCE_LEN + req->len;
	uint8_t *msg = malloc(len);
	if (!msg)
		return false;
	memcpy(msg, LM_ADMIN_SIGNED_PREFIX, prefix);
	memcpy(msg + prefix, nonce, LM_ADMIN_NONCE_LEN);
	memcpy(msg + prefix + LM_ADMIN_NONCE_LEN, req->data, req->len);
	bool ok = lm_sig_verify(key, msg, len, sig) == 0;
	free(msg);
	return ok;
}

/* A signed request is refused, recorded and answered. */
static void refuse_signed(struct lm_connection *c, uint64_t request_id, const char *who,
                          const char *action, const char *why)
{
	char msg[300];
	snprintf(msg, sizeof msg, "refused: %s", why);
	lm_admin_audit_record(c->s, who, c->peer, action, false, msg);
	snprintf(msg, sizeof msg, "admin request refused: %s", why);
	lm_connection_send_error(c, request_id, LMC_EADMINSIG, msg, false);
}

static void on_signed(struct lm_connection *c, const Lm__Envelope *env)
{
	struct lm_server *s = c->s;
	const Lm__SignedAdminRequest *q = env->signed_admin_request;
	char name[LM_ADMIN_KEY_NAME_MAX + 1], who[LM_ADMIN_KEY_NAME_MAX + 8];
	lm_bytes_to_cstr(&q->key_name, name, sizeof name);
	snprintf(who, sizeof who, "key=%s", name);
	/* The challenge serves this request whatever happens to it. */
	bool had_challenge = c->has_challenge;
	uint8_t nonce[LM_ADMIN_NONCE_LEN];
	memcpy(nonce, c->challenge, sizeof nonce);
	c->has_challenge = false;
	memset(c->challenge, 0, sizeof c->challenge);

	const struct lm_admin_key *k = find_key(s, name);
	if (!k) {
		refuse_signed(c, env->request_id, who, "signed",
		              s->admin_keys.n
		                      ? "no such admin key (lmd --admin-keys)"
		                      : "this server accepts no admin keys (lmd --admin-keys)");
		return;
	}
	if (!had_challenge) {
		refuse_signed(c, env->request_id, who, "signed",
		              "no challenge to answer: ask for one on this connection first (a "
		              "challenge serves one request)");
		return;
	}
	if (!signature_holds(k->key, nonce, &q->request, q->signature.data)) {
		refuse_signed(c, env->request_id, who, "signed",
		              "the signature does not hold for this key and challenge");
		return;
	}
	Lm__Envelope *inner = NULL;
	char err[300];
	int rc = lm_envelope_decode(q->request.data, q->request.len, &s->arena, &inner, err,
	                            sizeof err);
	if (rc != 0) {
		refuse_signed(c, env->request_id, who, "signed", err);
		return;
	}
	if (!action_of(inner->body_case)) {
		snprintf(err, sizeof err, "a %s is not an admin request",
		         lm_body_name(inner->body_case));
		refuse_signed(c, env->request_id, who, "signed", err);
		return;
	}
	/* The reply answers the request the client is waiting for. */
	inner->request_id = env->request_id;
	lm_handler_fn handler = lm_dispatch_find(&s->dispatch, inner->body_case);
	snprintf(c->signed_by, sizeof c->signed_by, "%s", name);
	handler(c, inner);
	c->signed_by[0] = 0;
}

void lm_admin_auth_register(struct lm_dispatch *d)
{
	lm_dispatch_add(d, LM__ENVELOPE__BODY_ADMIN_CHALLENGE_REQUEST, on_challenge);
	lm_dispatch_add(d, LM__ENVELOPE__BODY_SIGNED_ADMIN_REQUEST, on_signed);
}

void lm_admin_auth_hello(struct lm_server *s, Lm__HelloReply *r)
{
	if (s->admin_socket_path[0])
		r->admin_socket = s->admin_socket_path;
	r->has_instance = 1;
	r->instance.data = s->instance;
	r->instance.len = sizeof s->instance;
}
