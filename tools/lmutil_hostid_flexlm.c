/* lmutil lmhostid -ether | -hostname | -internet | -user | -display | -flexlm
 * [-n]: this machine's host ids in FlexLM's forms, printed the way FlexLM's
 * lmhostid prints them, for vendors who still lock lines with HOSTID=
 * <Ethernet address> and the like (core/hostid.h says which lmd checks). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/hostid.h"
#include "core/machine.h"
#include "tools/lmutil_hostid.h"
#include "tools/report.h"

enum flexlm_form {
	FORM_NONE,
	FORM_ETHER,
	FORM_HOSTNAME,
	FORM_INTERNET,
	FORM_USER,
	FORM_DISPLAY,
	FORM_ALL
};

static enum flexlm_form form_of(const char *arg)
{
	static const struct {
		const char *flag;
		enum flexlm_form form;
	} flags[] = {
	        {"-ether", FORM_ETHER}, {"-hostname", FORM_HOSTNAME}, {"-internet", FORM_INTERNET},
	        {"-user", FORM_USER},   {"-display", FORM_DISPLAY},   {"-flexlm", FORM_ALL},
	};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strcmp(arg, flags[i].flag) == 0)
			return flags[i].form;
	return FORM_NONE;
}

/* Appends item to the space-separated list in buf. */
static void add(char *buf, size_t size, const char *prefix, const char *item, size_t n)
{
	size_t len = strlen(buf);
	snprintf(buf + len, size - len, "%s%s%.*s", len ? " " : "", prefix, (int)n, item);
}

/* Each item of a comma-separated probe value, with prefix, and for
 * Ethernet addresses without their colons. */
static void add_each(char *buf, size_t size, const char *prefix, const char *list, bool ether)
{
	for (const char *s = list; *s;) {
		size_t n = strcspn(s, ",");
		if (ether) {
			char hex[32];
			size_t h = 0;
			for (size_t i = 0; i < n && h + 1 < sizeof hex; i++)
				if (s[i] != ':')
					hex[h++] = s[i];
			/* Only 6-byte addresses are FlexLM Ethernet host ids. */
			if (h == 12)
				add(buf, size, prefix, hex, h);
		} else if (n) {
			add(buf, size, prefix, s, n);
		}
		s += n + (s[n] == ',');
	}
}

static void ids_of(const struct lm_machine *m, enum flexlm_form form, char *buf, size_t size)
{
	buf[0] = '\0';
	if (form == FORM_ETHER || form == FORM_ALL)
		add_each(buf, size, "", m->value[LM_CRIT_MAC], true);
	if ((form == FORM_HOSTNAME || form == FORM_ALL) && m->value[LM_CRIT_HOSTNAME][0])
		add(buf, size, "HOSTNAME=", m->value[LM_CRIT_HOSTNAME],
		    strlen(m->value[LM_CRIT_HOSTNAME]));
	if (form == FORM_INTERNET || form == FORM_ALL)
		add_each(buf, size, "INTERNET=", m->ipv4, false);
	if ((form == FORM_USER || form == FORM_ALL) && m->user[0])
		add(buf, size, "USER=", m->user, strlen(m->user));
	if ((form == FORM_DISPLAY || form == FORM_ALL) && m->display[0])
		add(buf, size, "DISPLAY=", m->display, strlen(m->display));
}

int lm_lmhostid_flexlm(int argc, char **argv, const char *root)
{
	enum flexlm_form form = FORM_NONE;
	bool bare = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0) {
			bare = true;
			continue;
		}
		enum flexlm_form f = form_of(argv[i]);
		if (f == FORM_NONE)
			return -1;
		if (form != FORM_NONE && form != f) {
			lm_report_fail(LMC_EINVAL, "lmhostid: give one of -ether, -hostname, "
			                           "-internet, -user, -display, -flexlm");
			return 2;
		}
		form = f;
	}
	if (form == FORM_NONE && !bare)
		return -1;
	if (form == FORM_NONE)
		form = FORM_ETHER; /* FlexLM's default host id on Linux */

	struct lm_machine m;
	lm_machine_probe(root, &m);
	char ids[4096];
	ids_of(&m, form, ids, sizeof ids);
	if (!ids[0]) {
		lm_report_fail(LMC_EIO, "lmhostid: this machine has no host id of that kind "
		                        "(no physical network interface, or no address)");
		return 1;
	}
	if (bare) {
		printf("%s\n", ids);
		return 0;
	}
	/* FlexLM's layout: a list is wrapped in doubled quotes, as a HOSTID=
	 * value is quoted in the license file. */
	bool list = strchr(ids, ' ') != NULL;
	printf("The host ID of this machine is %s%s%s\n", list ? "\"\"" : "\"", ids,
	       list ? "\"\"" : "\"");
	if (list)
		printf("Only use ONE from the list of hostids.\n");
	return 0;
}
