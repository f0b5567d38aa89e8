/* Commands: every change lmd replicates is one lmcmd.Command
 * (proto/command.proto), built here from plain values, stamped with the
 * leader's wall clock (walltime.h: the only clock the pool reads) and packed
 * for lm_server_propose().
 *
 * A packed command is sized from what it holds: small ones (every command a
 * client's request makes) sit in the struct, larger ones (a license set) on
 * the heap, up to the cluster's limit (LM_CLUSTER_MAX_COMMAND), which
 * lm_cluster_propose() enforces.  Each builder returns 0 or LMC_ENOMEM and
 * keeps that code in cmd->error, so that proposing a command that could not
 * be built reports it like any other refusal; either way the caller
 * releases the command once proposed.  A struct lm_command must not be
 * copied (it may point into itself). */
#ifndef LM_COMMAND_H
#define LM_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/license.h"
#include "core/options.h"
#include "proto/command.pb-c.h"

/* Commands up to this many bytes are packed inside the struct. */
#define LM_COMMAND_LOCAL_MAX 512

struct lm_command {
	uint8_t *data; /* the packed bytes: local, or malloc'd */
	size_t len;
	int error; /* 0, or why the command could not be built */
	uint8_t local[LM_COMMAND_LOCAL_MAX];
};

/* Who opens a session: the identity its client said Hello with. */
struct lm_command_session {
	uint64_t session_id;
	const uint8_t *secret_digest; /* 32 bytes: SHA-256 of the session secret */
	const char *user, *host, *display, *lock_code, *app_version;
	const char *ip;      /* the connection's address, as the leader saw it */
	const char *project; /* LM_PROJECT, "" when the client set none */
	uint32_t pid;
};

int lm_command_open_session(struct lm_command *cmd, const struct lm_command_session *s);
/* vendor_data: the client's (core/vendor_data.h), "" for none. */
int lm_command_checkout(struct lm_command *cmd, uint64_t session_id, uint64_t request_id,
                        const char *feature, const char *version, uint32_t count,
                        const char *vendor_data);
int lm_command_checkin(struct lm_command *cmd, uint64_t session_id, uint64_t request_id,
                       uint64_t handle);
int lm_command_close_session(struct lm_command *cmd, uint64_t session_id,
                             Lmcmd__CloseReason reason);
/* reason REMOVE_IDLE carries how long the application had been idle. */
int lm_command_remove_handle(struct lm_command *cmd, uint64_t handle, Lmcmd__RemoveReason reason,
                             uint32_t idle_s);
/* The lines of f, canonical text and signature, as the pool's license set,
 * with the options file served with them (NULL: none). */
int lm_command_set_license(struct lm_command *cmd, const struct lm_license_file *f,
                           const struct lm_options *options);

/* The cluster's id (pool.h), as its first leader names it. */
/* RemoveNamed: name off feature's list of named users or hosts, allowed
 * once hold_us has passed since it was added (pool_named.c). */
int lm_command_remove_named(struct lm_command *cmd, const char *feature, const char *name,
                            int64_t hold_us);
int lm_command_set_cluster_id(struct lm_command *cmd, const uint8_t *id, size_t len);

/* An admin request for the report log (admin_audit.h). */
int lm_command_admin_action(struct lm_command *cmd, const char *who, const char *address,
                            const char *action, bool accepted, const char *detail,
                            uint32_t suppressed);
/* A new leader names itself for the report log. */
int lm_command_leader_change(struct lm_command *cmd, uint32_t raft_id, uint32_t node,
                             const char *address, uint64_t term);

/* Frees what the command holds; it may then be built again. */
void lm_command_release(struct lm_command *cmd);

#endif
