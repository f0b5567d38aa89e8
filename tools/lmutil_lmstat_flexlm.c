/* lmstat in FlexLM's layout (lmutil_lmstat.h), line for line as
 * tests/data/lmstat/MONITORS.md describes what the monitors parse: the
 * Prometheus exporter, phpLicenseWatcher, the Nagios checks, the Slurm
 * license syncs.  Spacing, singular and plural, date forms and the single
 * (MASTER) are what they match on. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/lmutil_lmstat.h"

static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

/* Month, day and hour not padded, as FlexLM prints them. */
void lm_lmstat_flex_time(int64_t when, bool with_year, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;
	localtime_r(&t, &tm);
	if (with_year)
		snprintf(out, size, "%s %d/%d/%d %d:%02d", days[tm.tm_wday], tm.tm_mon + 1,
		         tm.tm_mday, tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
	else
		snprintf(out, size, "%s %d/%d %d:%02d", days[tm.tm_wday], tm.tm_mon + 1, tm.tm_mday,
		         tm.tm_hour, tm.tm_min);
}

void lm_lmstat_flex_expiry(int32_t expiry, char *out, size_t size)
{
	if (expiry == LM_DATE_PERMANENT) {
		snprintf(out, size, "permanent(no expiration date)");
		return;
	}
	time_t t = (time_t)expiry * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, size, "%d-%s-%d", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900);
}

void lm_lmstat_one_word(const ProtobufCBinaryData *b, const char *fallback, char *out, size_t size)
{
	size_t n = b->len < size - 1 ? b->len : size - 1;
	for (size_t i = 0; i < n; i++) {
		char ch = (char)b->data[i];
		out[i] = (ch == ' ' || ch == '\t' || ch == '(' || ch == ')' || ch < ' ') ? '_' : ch;
	}
	out[n] = '\0';
	if (!n)
		snprintf(out, size, "%s", fallback);
}

/* The host of "port@host", and its port. */
static void split_address(const char *address, char *host, size_t hsize, char *port, size_t psize)
{
	const char *at = strchr(address, '@');
	snprintf(host, hsize, "%s", at ? at + 1 : address);
	snprintf(port, psize, "%.*s", at ? (int)(at - address) : 0, address);
}

/* "lmd 0.1.0" -> "v0.1.0". */
static void flex_version(const char *version, char *out, size_t size)
{
	const char *sp = version ? strrchr(version, ' ') : NULL;
	snprintf(out, size, "v%s", sp ? sp + 1 : (version && *version ? version : "0.0"));
}

static const char *plural(uint32_t n)
{
	return n == 1 ? "" : "s";
}

/* The idle reserved seats of a pool, as FlexLM lists reservations:
 * "        2 RESERVATIONs for GROUP lab (host/27000)".  A reservation its
 * holders use shows as their holder lines instead. */
static void print_reservations(const Lm__FeatureStatus *f, const char *host, const char *port)
{
	for (size_t j = 0; j < f->n_reservations; j++) {
		const Lm__Reservation *r = f->reservations[j];
		char who[LM_WIRE_USER_MAX + 1];
		if (!r->idle)
			continue;
		lm_lmstat_one_word(&r->name, "?", who, sizeof who);
		printf("        %u RESERVATION%s for %s %s (%s/%s)\n", r->idle, plural(r->idle),
		       r->type ? r->type : "USER", who, host, port);
	}
}

static void print_holders(const Lm__FeatureStatus *f, const char *version, const char *host,
                          const char *port)
{
	for (size_t j = 0; j < f->n_holders; j++) {
		const Lm__Holder *h = f->holders[j];
		char user[LM_WIRE_USER_MAX + 1], hhost[LM_WIRE_HOST_MAX + 1];
		char display[LM_WIRE_DISPLAY_MAX + 1], start[32];
		char vendor_data[LM_WIRE_VENDOR_DATA_MAX + 2] = "";
		lm_lmstat_one_word(&h->user, "?", user, sizeof user);
		lm_lmstat_one_word(&h->host, "?", hhost, sizeof hhost);
		lm_lmstat_one_word(&h->display, hhost, display, sizeof display);
		/* SUITE_RESERVED: a suite seat holding this component for its
		 * holder is a reservation for that user, as FlexLM lists it. */
		if (h->has_suite_reserved && h->suite_reserved) {
			printf("        %u RESERVATION%s for USER %s (%s/%s)\n", h->count,
			       plural(h->count), user, host, port);
			continue;
		}
		/* The checkout's vendor data, one more word after the display
		 * as FlexLM prints it: the monitors read the display as
		 * everything up to the version. */
		if (h->has_vendor_data) {
			vendor_data[0] = ' ';
			lm_lmstat_one_word(&h->vendor_data, "", vendor_data + 1,
			                   sizeof vendor_data - 1);
		}
		lm_lmstat_flex_time(h->since, false, start, sizeof start);
		printf("    %s %s %s%s (v%s) (%s/%s %llu), start %s", user, hhost, display,
		       vendor_data, version, host, port, (unsigned long long)h->handle, start);
		if (h->count > 1)
			printf(", %u licenses", h->count);
		/* A suffix in parentheses, as FlexLM writes (linger: n). */
		if (h->overdraft)
			printf(" (overdraft: %u)", h->overdraft);
		/* DUP_GROUP: FlexLM lists each duplicate under the one seat;
		 * the suffix says the seats are counted once for them all. */
		if (h->has_sharers && h->sharers > 1)
			printf(" (shared: %u)", h->sharers);
		printf("\n");
	}
}

/* The server that leads, as its own reply says, or NULL. */
static const struct server_view *leader_of(const struct server_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].self && v[i].self->role == LM__SERVER_ROLE__SERVER_ROLE_LEADER)
			return &v[i];
	return NULL;
}

static const struct server_view *first_up(const struct server_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].self)
			return &v[i];
	return NULL;
}

void lm_lmstat_flexlm_header(void)
{
	char now[40];
	lm_lmstat_flex_time(time(NULL), true, now, sizeof now);
	printf("lmutil - Copyright (c) 2026 the lmd authors. All Rights Reserved.\n");
	printf("Flexible License Manager status on %s\n\n", now);
}

void lm_lmstat_flexlm_servers(const struct server_view *v, size_t n)
{
	char host[LM_WIRE_HOST_MAX + 1], port[8];
	const struct server_view *lead = leader_of(v, n), *any = first_up(v, n);
	printf("License server status: ");
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", v[i].address);
	printf("\n");
	/* The path is that server's own. */
	split_address(any ? any->address : v[0].address, host, sizeof host, port, sizeof port);
	if (any && any->self->license_path)
		printf("    License file(s) on %s: %s:\n", host, any->self->license_path);
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		if (!v[i].asked)
			continue;
		split_address(v[i].address, host, sizeof host, port, sizeof port);
		if (v[i].self) {
			char version[40];
			flex_version(v[i].self->version, version, sizeof version);
			printf("%s: license server UP%s %s\n", host,
			       &v[i] == lead ? " (MASTER)" : "", version);
		} else if (v[i].error == LMC_ETIMEDOUT) {
			printf("%s: Cannot read data from license server system. (-16,287)\n",
			       host);
		} else {
			printf("%s: Cannot connect to license server system. (-15,570:111 "
			       "\"Connection refused\")\n",
			       host);
		}
	}
	printf("\n");
}

/* The vendor daemon is up where a leader serves. */
void lm_lmstat_flexlm_vendor(const struct server_view *v, size_t n)
{
	char host[LM_WIRE_HOST_MAX + 1], port[8], version[40];
	const struct server_view *lead = leader_of(v, n), *any = first_up(v, n);
	const char *vendor = lm_lmstat_vendor(v, n);
	if (lead)
		split_address(lead->address, host, sizeof host, port, sizeof port);
	printf("Vendor daemon status (on %s):\n\n", lead ? host : "none");
	flex_version(any ? any->self->version : NULL, version, sizeof version);
	if (lead)
		printf("%10s: UP %s\n", vendor, version);
	else
		printf("%10s: The desired vendor daemon is down. (-97,121)\n", vendor);
	printf("\n");
}

static bool name_is(const ProtobufCBinaryData *name, const char *s)
{
	return name->len == strlen(s) && memcmp(name->data, s, name->len) == 0;
}

void lm_lmstat_flexlm_features(const struct server_view *v, size_t n, const Lm__StatusReply *r,
                               const char *asked)
{
	char host[LM_WIRE_HOST_MAX + 1], port[8];
	const struct server_view *lead = leader_of(v, n), *any = first_up(v, n);
	const char *vendor = lm_lmstat_vendor(v, n);
	/* Holders are on the leader's port, as FlexLM names its master. */
	split_address(lead  ? lead->address
	              : any ? any->address
	                    : v[0].address,
	              host, sizeof host, port, sizeof port);
	bool found = false;
	/* lmd's pools are per feature and version, in name order: one "Users
	 * of" per name, one detail header per pool. */
	for (size_t i = 0; i < r->n_features;) {
		const Lm__FeatureStatus *f = r->features[i];
		size_t end = i + 1;
		/* FlexLM counts idle reserved seats among those in use. */
		uint32_t issued = f->issued, in_use = f->in_use + f->reserved;
		bool detail = f->n_holders > 0 || f->reserved > 0;
		while (end < r->n_features && r->features[end]->name.len == f->name.len &&
		       memcmp(r->features[end]->name.data, f->name.data, f->name.len) == 0) {
			issued += r->features[end]->issued;
			in_use += r->features[end]->in_use + r->features[end]->reserved;
			detail |= r->features[end]->n_holders > 0 || r->features[end]->reserved > 0;
			end++;
		}
		if (asked && !name_is(&f->name, asked)) {
			i = end;
			continue;
		}
		found = true;
		char name[LM_NAME_MAX + 1];
		lm_lmstat_one_word(&f->name, "?", name, sizeof name);
		printf("Users of %s:  (Total of %u license%s issued;  Total of %u license%s in "
		       "use)\n\n",
		       name, issued, plural(issued), in_use, plural(in_use));
		if (f->has_package) {
			char package[LM_NAME_MAX + 1];
			lm_lmstat_one_word(&f->package, "?", package, sizeof package);
			printf("  (from package %s)\n\n", package);
		}
		for (size_t k = i; k < end; k++)
			if (r->features[k]->has_named_max) {
				lm_lmstat_print_named(r->features[k], "  ");
				printf("\n");
				break;
			}
		for (size_t k = i; detail && k < end; k++) {
			const Lm__FeatureStatus *p = r->features[k];
			char pversion[LM_VERSION_MAX + 1], expiry[40];
			lm_lmstat_one_word(&p->version, "0", pversion, sizeof pversion);
			lm_lmstat_flex_expiry(p->expiry, expiry, sizeof expiry);
			printf("  \"%s\" v%s, vendor: %s, expiry: %s\n", name, pversion, vendor,
			       expiry);
			printf("  floating license\n\n");
			print_reservations(p, host, port);
			print_holders(p, pversion, host, port);
			printf("\n");
		}
		i = end;
	}
	if (asked && !found)
		printf("Users of %s: Cannot get users of %s: No such feature exists. (-5,222)\n",
		       asked, asked);
}
