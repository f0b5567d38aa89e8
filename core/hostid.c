/* Host ids as license lines name them (hostid.h). */
#include "core/hostid.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

const char *lm_hostid_kind_name(enum lm_hostid_kind kind)
{
	switch (kind) {
	case LM_HOSTID_CODE: return "an lmd lock code";
	case LM_HOSTID_ANY: return "ANY";
	case LM_HOSTID_DEMO: return "DEMO";
	case LM_HOSTID_ID: return "an ID= number";
	case LM_HOSTID_ETHER: return "an Ethernet address";
	case LM_HOSTID_HOSTNAME: return "a host name";
	case LM_HOSTID_INTERNET: return "an IPv4 address";
	case LM_HOSTID_USER: return "a user name";
	case LM_HOSTID_DISPLAY: return "a display";
	}
	return "a host id";
}

/* FlexLM host id types lmd cannot check, and why. */
static const struct {
	const char *prefix;
	const char *why;
} unsupported[] = {
        {"FLEXID=", "a FlexLM dongle (FLEXid), which lmd does not read"},
        {"GUARD_ID=", "a dongle id, which lmd does not read"},
        {"DONGLE_ID=", "a dongle id, which lmd does not read"},
        {"COMPOSITE=", "a vendor's own composite host id, which only the vendor's code computes"},
        {"VM_UUID=", "a virtual machine UUID, which lmd does not read"},
        {"DISK_SERIAL_NUM=", "a Windows disk serial number"},
        {"TPM_ID", "a TPM id, which lmd does not read"},
        {"ETHER=", "an Ethernet address written with ETHER=; write the 12 hex digits alone"},
};

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == '\0';
}

/* An Ethernet address: 12 hex digits, or six pairs joined by '-' or ':'
 * (as PTC writes them, with its own PTC_HOSTID= in front).  Writes the 12
 * digits in lower case to out. */
static bool ether_address(const char *item, char *out, size_t size)
{
	if (strncasecmp(item, "PTC_HOSTID=", 11) == 0)
		item += 11;
	size_t n = strlen(item), digits = 0;
	if (size < 13 || (n != 12 && n != 17))
		return false;
	for (size_t i = 0; i < n; i++) {
		bool separator_place = n == 17 && i % 3 == 2;
		if (separator_place) {
			if (item[i] != item[2] || (item[i] != '-' && item[i] != ':'))
				return false;
			continue;
		}
		if (!isxdigit((unsigned char)item[i]))
			return false;
		out[digits++] = (char)tolower((unsigned char)item[i]);
	}
	out[digits] = '\0';
	return digits == 12;
}

/* An octet pattern: a number from 0 to 255, or '*'. */
static bool internet_pattern(const char *s)
{
	int octets = 0;
	while (*s) {
		if (*s == '*') {
			s++;
		} else {
			int v = 0, digits = 0;
			while (isdigit((unsigned char)*s) && digits < 4)
				v = v * 10 + (*s++ - '0'), digits++;
			if (digits == 0 || digits > 3 || v > 255)
				return false;
		}
		octets++;
		if (*s == '.' && octets < 4)
			s++;
		else if (*s)
			return false;
	}
	return octets == 4;
}

/* A value after NAME=: printable, no quote or space (those split lists). */
static bool plain_value(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '"')
			return false;
	return true;
}

static int parse_one(const char *item, struct lm_hostid *id, char *why, size_t size)
{
	static const char hint[] = "; lock the line with HOSTID=<lock code> (`lmutil lmhostid` "
	                           "prints it), or a FlexLM host id lmd checks: an Ethernet "
	                           "address, HOSTNAME=, INTERNET=, USER=, DISPLAY=, ID=, ANY";
	char lockwhy[160];
	memset(id, 0, sizeof *id);
	if (strcasecmp(item, "ANY") == 0 || strcasecmp(item, "DEMO") == 0) {
		id->kind = toupper((unsigned char)item[0]) == 'A' ? LM_HOSTID_ANY : LM_HOSTID_DEMO;
		snprintf(id->text, sizeof id->text, "%s",
		         id->kind == LM_HOSTID_ANY ? "ANY" : "DEMO");
		return 0;
	}
	if (strncasecmp(item, "ID=", 3) == 0) {
		/* FlexLM ignores dashes written for readability. */
		char digits[32];
		size_t n = 0;
		for (const char *s = item + 3; *s; s++) {
			if (*s == '-')
				continue;
			if (!isdigit((unsigned char)*s) || n + 1 >= sizeof digits) {
				snprintf(why, size,
				         "HOSTID '%.40s' is not an ID= number (digits, dashes "
				         "allowed)",
				         item);
				return LMC_EBADCODE;
			}
			digits[n++] = *s;
		}
		digits[n] = '\0';
		if (n == 0) {
			snprintf(why, size, "HOSTID '%.40s' has no number after ID=", item);
			return LMC_EBADCODE;
		}
		id->kind = LM_HOSTID_ID;
		snprintf(id->text, sizeof id->text, "ID=%s", digits);
		return 0;
	}
	static const struct {
		const char *prefix;
		enum lm_hostid_kind kind;
		size_t max;
	} named[] = {
	        {"HOSTNAME=", LM_HOSTID_HOSTNAME, LM_HOST_MAX},
	        {"INTERNET=", LM_HOSTID_INTERNET, 15},
	        {"USER=", LM_HOSTID_USER, LM_NAME_MAX},
	        {"DISPLAY=", LM_HOSTID_DISPLAY, LM_HOST_MAX},
	};
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		size_t plen = strlen(named[i].prefix);
		if (strncasecmp(item, named[i].prefix, plen) != 0)
			continue;
		const char *value = item + plen;
		if (!plain_value(value, named[i].max)) {
			snprintf(why, size,
			         "HOSTID '%.60s' needs a value of printable characters "
			         "without spaces or quotes after the =",
			         item);
			return LMC_EBADCODE;
		}
		if (named[i].kind == LM_HOSTID_INTERNET && !internet_pattern(value)) {
			snprintf(why, size,
			         "HOSTID '%.40s' is not an IPv4 address pattern: four octets "
			         "from 0 to 255 or *, as INTERNET=10.1.*.*",
			         item);
			return LMC_EBADCODE;
		}
		id->kind = named[i].kind;
		/* The keyword in capitals whatever the file wrote. */
		snprintf(id->text, sizeof id->text, "%s%s", named[i].prefix, value);
		return 0;
	}
	size_t n = strlen(item);
	if (ether_address(item, id->text, sizeof id->text)) {
		id->kind = LM_HOSTID_ETHER;
		return 0;
	}
	if (lm_lockcode_parse(item, &id->code, lockwhy, sizeof lockwhy) == 0) {
		id->kind = LM_HOSTID_CODE;
		if (lm_lockcode_format(&id->code, id->text, sizeof id->text) == 0)
			return 0;
		snprintf(why, size, "HOSTID '%.40s' cannot be printed", item);
		return LMC_EBADCODE;
	}
	for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
		if (strncasecmp(item, unsupported[i].prefix, strlen(unsupported[i].prefix)) == 0) {
			snprintf(why, size, "HOSTID '%.40s' is %s%s", item, unsupported[i].why,
			         hint);
			return LMC_EBADCODE;
		}
	if (n == 8 && is_hex(item, 8)) {
		snprintf(why, size,
		         "HOSTID '%s' is an 8-digit host id number (Solaris or a Windows "
		         "disk serial), which lmd does not read%s",
		         item, hint);
		return LMC_EBADCODE;
	}
	const char *eq = strchr(item, '=');
	if (eq) {
		snprintf(why, size, "HOSTID '%.40s': lmd does not know the host id type %.*s=%s",
		         item, (int)(eq - item < 20 ? eq - item : 20), item, hint);
		return LMC_EBADCODE;
	}
	snprintf(why, size, "HOSTID '%.40s' is not a host id lmd knows (%s)%s", item, lockwhy,
	         hint);
	return LMC_EBADCODE;
}

int lm_hostid_parse(const char *value, struct lm_hostid_list *out, char *why, size_t size)
{
	memset(out, 0, sizeof *out);
	const char *s = value;
	for (;;) {
		s += strspn(s, " \t");
		if (!*s)
			break;
		size_t n = strcspn(s, " \t");
		char item[LM_HOSTID_TEXT_MAX];
		if (n >= sizeof item) {
			snprintf(why, size, "HOSTID item '%.40s...' is longer than %d characters",
			         s, LM_HOSTID_TEXT_MAX - 1);
			return LMC_ETOOLARGE;
		}
		if (out->n == LM_HOSTIDS_MAX) {
			snprintf(why, size, "HOSTID lists more than %d host ids", LM_HOSTIDS_MAX);
			return LMC_ETOOLARGE;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		int rc = parse_one(item, &out->ids[out->n], why, size);
		if (rc)
			return rc;
		out->n++;
		s += n;
	}
	if (out->n == 0) {
		snprintf(why, size, "HOSTID is empty; write a lock code, a FlexLM host id or ANY");
		return LMC_EBADCODE;
	}
	return 0;
}

int lm_hostid_format(const struct lm_hostid_list *ids, char *buf, size_t size)
{
	size_t len = 0;
	if (size == 0)
		return LMC_ETOOLARGE;
	buf[0] = '\0';
	for (int i = 0; i < ids->n; i++) {
		/* A lock code is written from the code matching uses, so that
		 * what is signed is what is checked. */
		char code[LM_LOCKCODE_TEXT_MAX];
		const char *item = ids->ids[i].text;
		if (ids->ids[i].kind == LM_HOSTID_CODE) {
			if (lm_lockcode_format(&ids->ids[i].code, code, sizeof code) != 0) {
				buf[0] = '\0';
				return LMC_ETOOLARGE;
			}
			item = code;
		}
		int w = snprintf(buf + len, size - len, "%s%s", i ? " " : "", item);
		if (w < 0 || (size_t)w >= size - len) {
			buf[0] = '\0';
			return LMC_ETOOLARGE;
		}
		len += (size_t)w;
	}
	return 0;
}

const struct lm_lockcode *lm_hostid_first_code(const struct lm_hostid_list *ids)
{
	for (int i = 0; i < ids->n; i++)
		if (ids->ids[i].kind == LM_HOSTID_CODE)
			return &ids->ids[i].code;
	return NULL;
}

/* Whether item (a comma-separated list) holds want, compared by fn. */
static bool list_has(const char *list, const char *want,
                     bool (*same)(const char *, size_t, const char *))
{
	const char *s = list;
	while (*s) {
		size_t n = strcspn(s, ",");
		if (n && same(s, n, want))
			return true;
		s += n;
		if (*s == ',')
			s++;
	}
	return false;
}

/* "00:50:56:9a:1b:2c" against "0050569a1b2c". */
static bool same_ether(const char *have, size_t n, const char *want)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (have[i] == ':' || have[i] == '-')
			continue;
		if (!want[w] || tolower((unsigned char)have[i]) != want[w])
			return false;
		w++;
	}
	return want[w] == '\0';
}

static bool same_internet(const char *have, size_t n, const char *pattern)
{
	char addr[32];
	if (n >= sizeof addr)
		return false;
	memcpy(addr, have, n);
	addr[n] = '\0';
	const char *a = addr, *p = pattern;
	for (int octet = 0; octet < 4; octet++) {
		size_t an = strcspn(a, "."), pn = strcspn(p, ".");
		if (!(pn == 1 && *p == '*') && (an != pn || strncmp(a, p, an) != 0))
			return false;
		a += an + (a[an] == '.');
		p += pn + (p[pn] == '.');
	}
	return true;
}

/* A fully qualified licensed name matches the machine called by its first
 * label, and the other way round: the kernel's host name is usually
 * short, while vendors often write the name DNS gives. */
static bool same_hostname(const char *licensed, const char *here)
{
	if (strcasecmp(licensed, here) == 0)
		return true;
	size_t ln = strcspn(licensed, "."), hn = strcspn(here, ".");
	bool one_short = !licensed[ln] || !here[hn];
	return one_short && ln == hn && ln > 0 && strncasecmp(licensed, here, ln) == 0;
}

static bool item_matches(const struct lm_hostid *id, const struct lm_machine *here)
{
	const char *value = strchr(id->text, '=');
	value = value ? value + 1 : id->text;
	switch (id->kind) {
	case LM_HOSTID_ANY:
	case LM_HOSTID_DEMO:
	case LM_HOSTID_ID: return true;
	case LM_HOSTID_ETHER: return list_has(here->value[LM_CRIT_MAC], value, same_ether);
	case LM_HOSTID_HOSTNAME:
		return here->value[LM_CRIT_HOSTNAME][0] &&
		       same_hostname(value, here->value[LM_CRIT_HOSTNAME]);
	case LM_HOSTID_INTERNET: return list_has(here->ipv4, value, same_internet);
	case LM_HOSTID_USER: return here->user[0] && strcmp(value, here->user) == 0;
	case LM_HOSTID_DISPLAY: return here->display[0] && strcmp(value, here->display) == 0;
	case LM_HOSTID_CODE: return false; /* lm_hostid_match weighs lock codes */
	}
	return false;
}

void lm_hostid_match(const struct lm_hostid_list *ids, const struct lm_machine *here, int tolerance,
                     struct lm_hostid_match *m)
{
	memset(m, 0, sizeof *m);
	m->which = -1;
	for (int i = 0; i < ids->n; i++) {
		const struct lm_hostid *id = &ids->ids[i];
		if (id->kind == LM_HOSTID_CODE) {
			struct lm_lock_match lock;
			lm_lockcode_match(&id->code, &here->code, tolerance, &lock);
			/* Explain with the lock code that came closest. */
			if (!m->has_code || lock.accepted ||
			    (!m->lock.accepted && lock.matched > m->lock.matched))
				m->lock = lock;
			m->has_code = true;
			if (lock.accepted && !m->accepted) {
				m->accepted = true;
				m->which = i;
			}
		} else if (!m->accepted && item_matches(id, here)) {
			m->accepted = true;
			m->which = i;
		}
	}
}
