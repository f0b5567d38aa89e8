/* Who may use the admin requests (lmdown, lmremove, lmreread, lmreplace).
 *
 * The source address never grants admin authority: anyone on the server's
 * machine can reach 127.0.0.1, and behind a proxy or a NAT so can anyone
 * else.  Two things do:
 *
 *   - the admin socket (admin_socket.c), a Unix domain socket the kernel
 *     tells us the peer of (SO_PEERCRED, SO_PEERGROUPS): root, or a process
 *     whose group or supplementary groups include lmd's admin group
 *     (--admin-group, default "lmadmin" when that group exists);
 *   - an admin key (--admin-keys): the request comes as a
 *     SignedAdminRequest whose Ed25519 signature covers a nonce this server
 *     handed out on the same connection (AdminChallenge).  A nonce serves one
 *     request, accepted or not, so a recorded request cannot be replayed.
 *
 * Every admin request, allowed or refused, goes to the audit trail
 * (admin_audit.h).
 *
 * The --admin-keys file: one key per line, "NAME ed25519 BASE64" where
 * BASE64 is the 32-byte raw public key (lmutil admin-keygen prints such a
 * line); blank lines and lines starting with '#' are skipped. */
#ifndef LM_ADMIN_AUTH_H
#define LM_ADMIN_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "core/limits.h"
#include "lmd/admin_state.h"
#include "lmd/dispatch.h"

struct lm_connection;
struct lm_server;

/* Loads the --admin-keys file into keys (which the caller zeroed).
 * Returns 0, or LMC_EIO / LMC_EKEY / LMC_ETOOLARGE with a sentence naming
 * the file and line in err. */
int lm_admin_keys_load(struct lm_admin_keys *keys, const char *path, char *err, size_t errsize);
void lm_admin_keys_free(struct lm_admin_keys *keys);

/* Resolves --admin-group (NULL: "lmadmin", which may not exist) into
 * s->admin_gid.  Returns 0, or LMC_EINVAL for a group named on the command
 * line that does not exist. */
int lm_admin_group_resolve(struct lm_server *s, char *err, size_t errsize);

/* For an accepted admin socket connection: reads the peer's credentials,
 * decides whether it is an admin and names it in c->peer. */
void lm_admin_auth_peer(struct lm_connection *c, int fd);

/* Whether c may make the admin request env (its body names the action);
 * refuses it (LMC_ENOTADMIN) when not.  Records the decision in the audit
 * trail either way. */
bool lm_admin_auth_check(struct lm_connection *c, const Lm__Envelope *env);

/* Registers AdminChallengeRequest and SignedAdminRequest. */
void lm_admin_auth_register(struct lm_dispatch *d);

/* Fills the admin socket's path and this process's instance id into a
 * HelloReply (the pointers stay valid as long as the server). */
void lm_admin_auth_hello(struct lm_server *s, Lm__HelloReply *r);

#endif
