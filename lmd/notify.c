/* Telling systemd how lmd is doing (notify.h), through sd_notify(3). */
#include "config.h"

#include "lmd/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

int lm_notify_enabled(void)
{
	const char *socket = getenv("NOTIFY_SOCKET");
	return socket != NULL && *socket != '\0';
}

/* One datagram: "READY=1\nSTATUS=..." must arrive together, or systemd
 * could show a ready service with no status. */
static void send_state(const char *head, const char *fmt, va_list ap)
{
	char status[512];
	vsnprintf(status, sizeof status, fmt, ap);
	/* Errors are not ours to handle: systemd went away, or the socket is
	 * not its, and lmd serves the same either way. */
	(void)sd_notifyf(0, "%sSTATUS=%s", head, status);
}

void lm_notify_ready(const char *fmt, ...)
{
	if (!lm_notify_enabled())
		return;
	va_list ap;
	va_start(ap, fmt);
	send_state("READY=1\n", fmt, ap);
	va_end(ap);
}

void lm_notify_status(const char *fmt, ...)
{
	if (!lm_notify_enabled())
		return;
	va_list ap;
	va_start(ap, fmt);
	send_state("", fmt, ap);
	va_end(ap);
}

void lm_notify_stopping(void)
{
	if (lm_notify_enabled())
		(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
