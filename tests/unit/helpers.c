#define _GNU_SOURCE
#include "tests/unit/helpers.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, const char *path)
{
	fprintf(stderr, "test helper: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

char *th_tempdir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;
	if (asprintf(&path, "%s/lmd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		abort();
	if (!mkdtemp(path))
		die("mkdtemp", path);
	return path;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void th_rmtree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			die("mkdir", path);
		*p = '/';
	}
}

const char *th_path(const char *dir, const char *name)
{
	static char slots[8][4096];
	static int next;
	char *buf = slots[next++ % 8];
	snprintf(buf, sizeof slots[0], "%s/%s", dir, name);
	return buf;
}

void th_write(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	mkdirs(path);
	FILE *f = fopen(path, "w");
	if (!f)
		die("fopen", path);
	fputs(text, f);
	if (fclose(f) != 0)
		die("fclose", path);
}

void th_make_machine(const char *root, const struct th_machine *m)
{
	char buf[1024];
	if (m->machine_id) {
		snprintf(buf, sizeof buf, "%s\n", m->machine_id);
		th_write(root, "etc/machine-id", buf);
	}
	if (m->product_uuid) {
		snprintf(buf, sizeof buf, "%s\n", m->product_uuid);
		th_write(root, "sys/class/dmi/id/product_uuid", buf);
	}
	for (int i = 0; i < 4; i++) {
		if (!m->macs[i])
			continue;
		char name[64];
		snprintf(name, sizeof name, "sys/class/net/eth%d/address", i);
		snprintf(buf, sizeof buf, "%s\n", m->macs[i]);
		th_write(root, name, buf);
		snprintf(name, sizeof name, "sys/class/net/eth%d/device/uevent", i);
		th_write(root, name, "DRIVER=e1000\n");
	}
	/* A virtual interface: never part of the lock code. */
	th_write(root, "sys/class/net/lo/address", "00:00:00:00:00:00\n");
	if (m->hostname) {
		snprintf(buf, sizeof buf, "%s\n", m->hostname);
		th_write(root, "proc/sys/kernel/hostname", buf);
	}
	if (m->disk_uuid) {
		th_write(root, "proc/self/mountinfo",
		         "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
		         "23 22 0:5 / /proc rw - proc proc rw\n");
		char dir[4096], link[4096];
		snprintf(dir, sizeof dir, "%s/dev/disk/by-uuid/x", root);
		mkdirs(dir);
		snprintf(link, sizeof link, "%s/dev/disk/by-uuid/%s", root, m->disk_uuid);
		if (symlink("../../sda1", link) != 0)
			die("symlink", link);
		/* Another disk's filesystem, not mounted at /: must be ignored. */
		snprintf(link, sizeof link, "%s/dev/disk/by-uuid/0000-other", root);
		if (symlink("../../sdb1", link) != 0)
			die("symlink", link);
	}
	if (m->cpu_model) {
		snprintf(buf, sizeof buf,
		         "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
		         "model\t\t: 85\nmodel name\t: %s\nstepping\t: 7\ncpu MHz\t\t: 2100.000\n\n"
		         "processor\t: 1\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
		         "model\t\t: 85\nmodel name\t: %s\ncpu MHz\t\t: 1800.000\n",
		         m->cpu_model, m->cpu_model);
		th_write(root, "proc/cpuinfo", buf);
	}
}

struct th_machine th_machine_default(void)
{
	struct th_machine m = {
	        .machine_id = "4f1c2b9a8e7d4c3b9a1f0e2d3c4b5a69",
	        .product_uuid = "6A1B2C3D-4E5F-6789-ABCD-EF0123456789",
	        .macs = {"52:54:00:12:34:56", "52:54:00:ab:cd:ef"},
	        .hostname = "build-07.example.com",
	        .disk_uuid = "2f8e1c3a-5b7d-4e9f-8a1b-3c5d7e9f1a2b",
	        .cpu_model = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
	};
	return m;
}
