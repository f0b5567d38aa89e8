/* The audit trail of admin requests: every one this server saw, allowed or
 * refused, with who asked (a uid from the admin socket, an admin key's name,
 * or the unauthenticated user name a refused client claimed) and from where.
 *
 * Each goes to lmd's log (event "admin") and to a short list of the latest
 * that lmstat shows admins (StatusReply.admin_actions).  With a report log,
 * the leader also proposes an AdminAction command for each: the report log
 * is written from applied commands only, so that the three logs of a triad
 * stay identical (report_events.c).  Refusals are proposed at most
 * LM_ADMIN_AUDIT_REFUSALS_PER_S a second: someone hammering the port with
 * unsigned requests must not fill the replicated log; the log says how many
 * were left out of the report log, and lmd's own log has each of them. */
#ifndef LM_ADMIN_AUDIT_H
#define LM_ADMIN_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lmd/admin_state.h"
#include "proto/lm.pb-c.h"

struct lm_server;

/* Records one admin request: logs it, keeps it for lmstat and, on the
 * leader with a report log, proposes it. */
void lm_admin_audit_record(struct lm_server *s, const char *who, const char *address,
                           const char *action, bool accepted, const char *detail);

/* Fills r->admin_actions from the kept entries, oldest first, with memory
 * from the server's arena; the strings point into the trail. */
void lm_admin_audit_status(struct lm_server *s, Lm__StatusReply *r);

#endif
