/* Probing this machine's lock code criteria below a root directory (see
 * machine.h for the files read): each probe records the raw value, where it
 * came from or why it is missing, and the digest that enters the code. */
#include "config.h"

#include "core/machine.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* A root longer than this is refused rather than silently truncated into
 * the wrong path: every probed path must fit in PATH_MAX. */
#define LM_ROOT_MAX (PATH_MAX / 2)

/* At most this many physical interfaces enter the MAC criterion.  Beyond
 * it, the smallest addresses are kept, so the choice does not depend on the
 * order in which the directory lists them. */
#define LM_MAC_MAX 64
/* Long enough for an InfiniBand hardware address (20 bytes, 59 chars). */
#define LM_MAC_TEXT_MAX 64

/* What one probe run needs: the root without its trailing slashes ("" for
 * "/"), and where results go. */
struct probe {
	char root[LM_ROOT_MAX + 1];
	struct lm_machine *m;
};

/* Formats a path into buf; false when it does not fit.  A cut path would
 * name another file, so callers treat it as unreadable. */
static bool pathf(char *buf, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static bool pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size;
}

/* Formats text for people (a value or a source) into buf, cut if long. */
static void say(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* Cannot fail for the fixed relative paths of machine.h: the root is at
 * most LM_ROOT_MAX long and buf is PATH_MAX. */
static bool path_of(const struct probe *p, const char *rel, char *buf, size_t size)
{
	return pathf(buf, size, "%s/%s", p->root, rel);
}

static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size) {
		/* Only the display copy is cut; the digest uses the whole value. */
		n = size - 4;
		memcpy(dst, src, n);
		memcpy(dst + n, "...", 4);
		return;
	}
	memcpy(dst, src, n + 1);
}

static void found(struct probe *p, enum lm_criterion c, const char *value, const char *source)
{
	struct lm_machine *m = p->m;
	m->code.present |= (uint16_t)(1u << c);
	m->code.digest[c] = lm_criterion_digest(c, value);
	copy_text(m->value[c], sizeof m->value[c], value);
	copy_text(m->source[c], sizeof m->source[c], source);
}

static void lacking(struct probe *p, enum lm_criterion c, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void lacking(struct probe *p, enum lm_criterion c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->m->source[c], sizeof p->m->source[c], fmt, ap);
	va_end(ap);
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	size_t i = 0;
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Reads the first line of path, trimmed.  Returns 0, or a positive errno
 * (ENODATA for an empty file). */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return errno;
	int rc = 0;
	if (!fgets(buf, (int)size, f)) {
		buf[0] = '\0';
		rc = ferror(f) ? EIO : 0;
	}
	fclose(f);
	if (rc)
		return rc;
	trim(buf);
	return buf[0] ? 0 : ENODATA;
}

/* The single-line criteria: read rel, or say why not. */
static int probe_line(struct probe *p, enum lm_criterion c, const char *rel, char *buf, size_t size,
                      char *path, size_t pathsize)
{
	path_of(p, rel, path, pathsize);
	int e = read_line(path, buf, size);
	if (e == ENODATA)
		lacking(p, c, "empty: %s", path);
	else if (e)
		lacking(p, c, "unreadable: %s (%s)", path, strerror(e));
	return e;
}

static void probe_machine_id(struct probe *p)
{
	char path[PATH_MAX], v[LM_CRIT_VALUE_MAX];
	if (probe_line(p, LM_CRIT_MACHINE_ID, "etc/machine-id", v, sizeof v, path, sizeof path))
		return;
	found(p, LM_CRIT_MACHINE_ID, v, path);
}

static void probe_hostname(struct probe *p)
{
	char path[PATH_MAX], v[LM_CRIT_VALUE_MAX];
	if (probe_line(p, LM_CRIT_HOSTNAME, "proc/sys/kernel/hostname", v, sizeof v, path,
	               sizeof path))
		return;
	found(p, LM_CRIT_HOSTNAME, v, path);
}

/* True when every hexadecimal digit of s is `digit`: firmware that has no
 * real identity fills the field with zeros or with F. */
static bool all_hex(const char *s, char digit)
{
	bool any = false;
	for (; *s; s++) {
		if (*s == '-' || *s == ':')
			continue;
		if (*s != digit)
			return false;
		any = true;
	}
	return any;
}

static void probe_product_uuid(struct probe *p)
{
	char path[PATH_MAX], v[LM_CRIT_VALUE_MAX];
	if (probe_line(p, LM_CRIT_PRODUCT_UUID, "sys/class/dmi/id/product_uuid", v, sizeof v, path,
	               sizeof path))
		return;
	lower(v);
	if (all_hex(v, '0') || all_hex(v, 'f')) {
		lacking(p, LM_CRIT_PRODUCT_UUID, "placeholder ignored: %s (%s)", path, v);
		return;
	}
	found(p, LM_CRIT_PRODUCT_UUID, v, path);
}

struct mac {
	char addr[LM_MAC_TEXT_MAX];
	char ifname[NAME_MAX + 1];
};

/* Inserts into the sorted list, keeping the LM_MAC_MAX smallest. */
static void mac_insert(struct mac *list, int *n, const char *addr, const char *ifname)
{
	int i = *n;
	if (i == LM_MAC_MAX) {
		if (strcmp(addr, list[i - 1].addr) >= 0)
			return;
		i--;
	} else {
		(*n)++;
	}
	for (; i > 0 && strcmp(addr, list[i - 1].addr) < 0; i--)
		list[i] = list[i - 1];
	snprintf(list[i].addr, sizeof list[i].addr, "%s", addr);
	snprintf(list[i].ifname, sizeof list[i].ifname, "%s", ifname);
}

/* Appends s to the string of length *len in buf, cutting what does not
 * fit. */
static void append(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);
	if (*len + 1 >= size)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static void probe_mac(struct probe *p)
{
	char dir[PATH_MAX], path[PATH_MAX];
	path_of(p, "sys/class/net", dir, sizeof dir);
	DIR *d = opendir(dir);
	if (!d) {
		lacking(p, LM_CRIT_MAC, "unreadable: %s (%s)", dir, strerror(errno));
		return;
	}
	/* On the heap: the list is some 20 KiB, too much to take from the
	 * stack of an application thread that calls lmc_lockcode(). */
	struct mac *list = calloc(LM_MAC_MAX, sizeof *list);
	if (!list) {
		closedir(d);
		lacking(p, LM_CRIT_MAC, "out of memory while listing %s", dir);
		return;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		/* Only interfaces backed by a device are physical: lo, bridges,
		 * veth pairs and tunnels have no device link, and their
		 * addresses are made up at boot or by whoever creates them. */
		struct stat st;
		if (!pathf(path, sizeof path, "%s/%s/device", dir, e->d_name) ||
		    lstat(path, &st) != 0)
			continue;
		char addr[128];
		if (!pathf(path, sizeof path, "%s/%s/address", dir, e->d_name) ||
		    read_line(path, addr, sizeof addr) != 0)
			continue;
		lower(addr);
		if (strlen(addr) >= LM_MAC_TEXT_MAX || all_hex(addr, '0'))
			continue;
		mac_insert(list, &n, addr, e->d_name);
	}
	closedir(d);

	if (n == 0) {
		lacking(p, LM_CRIT_MAC, "no physical network interface with an address in %s", dir);
		free(list);
		return;
	}
	/* Room for every address and its comma: the value is never cut. */
	char value[LM_MAC_MAX * LM_MAC_TEXT_MAX] = "";
	char source[LM_CRIT_VALUE_MAX] = "";
	size_t vlen = 0, slen = 0;
	append(source, sizeof source, &slen, dir);
	for (int i = 0; i < n; i++) {
		append(value, sizeof value, &vlen, i ? "," : "");
		append(value, sizeof value, &vlen, list[i].addr);
		append(source, sizeof source, &slen, i ? "," : n > 1 ? "/{" : "/");
		append(source, sizeof source, &slen, list[i].ifname);
	}
	append(source, sizeof source, &slen, n > 1 ? "}/address" : "/address");
	free(list);
	found(p, LM_CRIT_MAC, value, source);
}

/* The name the kernel gives the block device behind source: by-uuid links
 * point at kernel names (../../sda1, ../../dm-0), while mountinfo may name
 * a symlink to one (/dev/mapper/vg-root, /dev/disk/by-label/x). */
static void device_name(const struct probe *p, const char *source, char *out, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *name = source;
	if (source[0] == '/' && path_of(p, source + 1, path, sizeof path)) {
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			name = target;
		}
	}
	const char *slash = strrchr(name, '/');
	/* Too long for a kernel device name: match nothing. */
	if (!pathf(out, size, "%s", slash ? slash + 1 : name))
		out[0] = '\0';
}

/* The source of the filesystem mounted at /, from mountinfo lines
 * "id parent major:minor root mountpoint options [optional...] - fstype
 * source superoptions".  Returns 0 or a positive errno (ENOENT: no line
 * for /). */
static int root_source(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return errno;
	char *line = NULL;
	size_t cap = 0;
	int rc = ENOENT;
	while (getline(&line, &cap, f) != -1) {
		char *save = NULL, *tok;
		int field = 0;
		bool at_root = false, after_dash = false;
		const char *source = NULL;
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			if (field == 4)
				at_root = strcmp(tok, "/") == 0;
			if (field >= 6 && !after_dash && strcmp(tok, "-") == 0) {
				after_dash = true;
				field = 0;
				continue;
			}
			/* After the dash: field 0 is the type, 1 the source. */
			if (after_dash && field == 1) {
				source = tok;
				break;
			}
			field++;
		}
		/* Keep the last match: a later mount at / hides the earlier ones
		 * (a container's root over the host's), and the visible one
		 * is the root this process runs on. */
		if (at_root && source) {
			snprintf(out, size, "%s", source);
			rc = 0;
		}
	}
	if (ferror(f))
		rc = EIO;
	free(line);
	fclose(f);
	return rc;
}

static void probe_disk(struct probe *p)
{
	char path[PATH_MAX], dir[PATH_MAX], source[PATH_MAX], dev[NAME_MAX + 1];

	path_of(p, "proc/self/mountinfo", path, sizeof path);
	int e = root_source(path, source, sizeof source);
	if (e == ENOENT && access(path, F_OK) == 0) {
		lacking(p, LM_CRIT_DISK, "no filesystem mounted at / in %s", path);
		return;
	}
	if (e) {
		lacking(p, LM_CRIT_DISK, "unreadable: %s (%s)", path, strerror(e));
		return;
	}
	device_name(p, source, dev, sizeof dev);
	if (!dev[0]) {
		lacking(p, LM_CRIT_DISK, "no device name in %s for the filesystem mounted at /",
		        path);
		return;
	}

	path_of(p, "dev/disk/by-uuid", dir, sizeof dir);
	DIR *d = opendir(dir);
	if (!d) {
		lacking(p, LM_CRIT_DISK, "unreadable: %s (%s), where the UUID of %s would be", dir,
		        strerror(errno), source);
		return;
	}
	/* Two names for one device should not happen; if it does, the
	 * smallest wins so that the directory order cannot change the code. */
	char best[NAME_MAX + 1] = "";
	struct dirent *ent;
	while ((ent = readdir(d))) {
		if (ent->d_name[0] == '.')
			continue;
		char target[PATH_MAX];
		if (!pathf(path, sizeof path, "%s/%s", dir, ent->d_name))
			continue;
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		const char *slash = strrchr(target, '/');
		if (strcmp(slash ? slash + 1 : target, dev) != 0)
			continue;
		if (!best[0] || strcmp(ent->d_name, best) < 0)
			snprintf(best, sizeof best, "%s", ent->d_name);
	}
	closedir(d);
	if (!best[0]) {
		lacking(p, LM_CRIT_DISK, "no UUID in %s for %s, which is mounted at /", dir,
		        source);
		return;
	}
	char where[LM_CRIT_VALUE_MAX];
	say(where, sizeof where, "%s/%s -> %s, mounted at /", dir, best, dev);
	found(p, LM_CRIT_DISK, best, where);
}

static void probe_cpu(struct probe *p)
{
	/* Fields that name the processor model.  Clock speed, flags and
	 * microcode change with load, BIOS settings or updates, and the
	 * processor count with hot-plug or a container's CPU limit. */
	static const char *const keys[] = {"vendor_id", "cpu family", "model", "model name"};
	enum { NKEYS = sizeof keys / sizeof keys[0] };
	char vals[NKEYS][LM_CRIT_VALUE_MAX] = {{0}};
	bool seen[NKEYS] = {false};
	int nseen = 0;
	char path[PATH_MAX];

	path_of(p, "proc/cpuinfo", path, sizeof path);
	FILE *f = fopen(path, "re");
	if (!f) {
		lacking(p, LM_CRIT_CPU, "unreadable: %s (%s)", path, strerror(errno));
		return;
	}
	char *line = NULL;
	size_t cap = 0;
	while (nseen < NKEYS && getline(&line, &cap, f) != -1) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		trim(line);
		for (int i = 0; i < NKEYS; i++) {
			if (seen[i] || strcmp(line, keys[i]) != 0)
				continue;
			char *v = colon + 1;
			trim(v);
			snprintf(vals[i], sizeof vals[i], "%s", v);
			seen[i] = true;
			nseen++;
		}
	}
	bool failed = ferror(f);
	free(line);
	fclose(f);
	if (failed) {
		lacking(p, LM_CRIT_CPU, "unreadable: %s (%s)", path, strerror(EIO));
		return;
	}
	if (nseen == 0) {
		lacking(p, LM_CRIT_CPU, "no vendor_id, cpu family, model or model name in %s",
		        path);
		return;
	}
	/* A field this kernel does not report stays empty between its
	 * slashes, so that the other fields keep their places. */
	char value[NKEYS * LM_CRIT_VALUE_MAX];
	snprintf(value, sizeof value, "%s/%s/%s/%s", vals[0], vals[1], vals[2], vals[3]);
	found(p, LM_CRIT_CPU, value, path);
}

/* The kernel's routing trie lists each local address as a "|-- a.b.c.d"
 * leaf followed by a "/32 host LOCAL" line; it is the one text file that
 * holds every IPv4 address of every interface. */
static void probe_ipv4(struct probe *p)
{
	char path[PATH_MAX], line[256], leaf[INET_ADDRSTRLEN] = "";
	size_t len = 0;
	if (!path_of(p, "proc/net/fib_trie", path, sizeof path))
		return;
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		const char *s = line + strspn(line, " |+-");
		unsigned a, b, c, d;
		char end;
		if (s != line && sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) == 5 &&
		    end == '\n' && a < 256 && b < 256 && c < 256 && d < 256 &&
		    strstr(line, "-- ")) {
			snprintf(leaf, sizeof leaf, "%u.%u.%u.%u", a, b, c, d);
			continue;
		}
		if (!leaf[0] || !strstr(line, "/32 host LOCAL"))
			continue;
		/* Each address shows once per table (Main, Local): keep one. */
		char item[INET_ADDRSTRLEN + 2];
		snprintf(item, sizeof item, ",%s,", leaf);
		char have[sizeof p->m->ipv4 + 2];
		snprintf(have, sizeof have, ",%s,", p->m->ipv4);
		if (strncmp(leaf, "127.", 4) != 0 && !strstr(have, item)) {
			append(p->m->ipv4, sizeof p->m->ipv4, &len, len ? "," : "");
			append(p->m->ipv4, sizeof p->m->ipv4, &len, leaf);
		}
		leaf[0] = '\0';
	}
	fclose(f);
}

/* The user and display are the running process's own: no root directory
 * can stand in for them. */
static void probe_user_display(struct lm_machine *m)
{
	struct passwd pw, *found_pw = NULL;
	char buf[4096];
	if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found_pw) == 0 && found_pw)
		copy_text(m->user, sizeof m->user, found_pw->pw_name);
	const char *display = getenv("DISPLAY");
	copy_text(m->display, sizeof m->display, display && *display ? display : "/dev/tty");
}

const char *lm_machine_default_root(void)
{
#ifdef LM_TEST_HOOKS
	/* Only test builds read it: anyone who can set an environment
	 * variable could otherwise present a copy of a licensed machine's
	 * files as this machine. */
	const char *env = secure_getenv("LM_HOSTID_ROOT");
	if (env && *env)
		return env;
#endif
	return "/";
}

int lm_machine_probe(const char *root, struct lm_machine *out)
{
	struct probe p = {.m = out};

	memset(out, 0, sizeof *out);
	if (!root)
		root = lm_machine_default_root();
	size_t len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		len--;
	if (len > LM_ROOT_MAX)
		return LMC_EINVAL;
	if (len == 1 && root[0] == '/')
		len = 0;
	memcpy(p.root, root, len);
	p.root[len] = '\0';

	probe_machine_id(&p);
	probe_product_uuid(&p);
	probe_mac(&p);
	probe_hostname(&p);
	probe_disk(&p);
	probe_cpu(&p);
	probe_ipv4(&p);
	probe_user_display(out);
	return out->code.present ? 0 : LMC_EIO;
}
