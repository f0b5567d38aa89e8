/* Telling systemd how lmd is doing, when it runs as a Type=notify service
 * (sd_notify(3), Debian's libsystemd): READY once it listens for clients,
 * a STATUS line (role, sessions, seats in use) that `systemctl status`
 * shows, and STOPPING when it shuts down.  Without NOTIFY_SOCKET in the
 * environment every call does nothing. */
#ifndef LM_NOTIFY_H
#define LM_NOTIFY_H

void lm_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lm_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lm_notify_stopping(void);
/* Whether anyone listens: callers skip the work of a status line if not. */
int lm_notify_enabled(void);

#endif
