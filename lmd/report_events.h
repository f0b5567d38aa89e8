/* What the report log records of each applied command (lmd/report_log.h).
 *
 * lm_report_events_before runs just before the pool applies a command, to
 * read what the command is about to remove (the handles of a session being
 * closed, the holder of a handle being checked in); lm_report_events_after
 * runs once it is applied, with its result, and writes the records.  Both
 * read only the command and the pool, so every server writes the same:
 *
 *   license        SetLicense: lines, license_sha256, options, options_sha256
 *   issued         one per (feature, version) pool after a SetLicense: count,
 *                  expiry (as of the command's day)
 *   session_open   session, user, host, display, ip, project, pid, app_version
 *   session_refused  code, reason
 *   checkout       session, user, host, feature, version, pool_version, count,
 *                  handle
 *   denied         session, user, host, feature, version, count, code (LMC_E*
 *                  name: LMC_ENOSEATS when no seat was free, LMC_EDENIED for
 *                  the options file's rules...) and reason (the sentence the
 *                  client was given, naming the rule)
 *   checkin, expired, abandoned, removed, timeout
 *                  seats coming back (a checkin; a session's closing for a
 *                  clean close, a session timeout, a crashed client not back
 *                  in time, lmremove of its session; lmremove of a handle;
 *                  the options file's TIMEOUT, with idle_s): session, user,
 *                  host, feature, version (the pool's), count, handle, since
 *   session_close  session, user, host, reason (clean, expired, removed,
 *                  abandoned), count
 *   cluster_id     id
 * and, from the log itself: gap, lost (report_log.h).  A retried request
 * answered again from the session's memory changed nothing: no record. */
#ifndef LM_REPORT_EVENTS_H
#define LM_REPORT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "lmd/pool.h"
#include "lmd/report_log.h"

struct lm_report_events;

/* hide_user: the options file's REPORTLOG ... HIDE_USER; records name no
 * user, host, display or address. */
int lm_report_events_new(struct lm_report_events **out, struct lm_report_log *log, bool hide_user);
void lm_report_events_free(struct lm_report_events *e);

void lm_report_events_before(struct lm_report_events *e, struct lm_pool *pool, uint64_t index,
                             const void *cmd, size_t len);
void lm_report_events_after(struct lm_report_events *e, struct lm_pool *pool,
                            const struct lm_pool_result *res);

#endif
