/* One lmd per license and server on a machine (see instance.h).
 *
 * The lock is a Linux abstract unix socket, "\0lmd-<hex>-<rank>", bound
 * and listening for the life of the process:
 *  - nothing on disk: no stale lock file after a crash, and no directory
 *    that every lmd of the machine must agree on (/run/lmd needs root,
 *    /tmp is anyone's to pre-create files in);
 *  - the kernel releases the name when the process dies, even by SIGKILL;
 *  - a second lmd that connects learns the holder's pid from the socket's
 *    credentials (SO_PEERCRED), so its message can name it.
 * The name is per network namespace, which is what a machine means to a
 * license server: lmds in separate containers have separate addresses.
 * What it gives up: abstract names have no permissions, so another local
 * user could bind the name first and keep this license from being served;
 * the refusal then names that process and its user, which makes the
 * squatter plain to see.
 *
 * The identity is what the vendor signed, not the file's text: counted
 * lines are signed over the SERVER lock codes, sorted (license.h), while
 * the SERVER hosts, ports and order can be edited at will.  A copy of the
 * file with another port or its SERVER lines swapped is the same license,
 * so the name hashes the vendor's public key and the sorted lock codes, and
 * a server is named by the rank of its own lock code among them (ties,
 * three servers of one test machine, by line) rather than by --node. */
#include "config.h"

#include "lmd/instance.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/bytes.h"
#include "core/error.h"

#define PREFIX "lmd-license-v1\n"

/* "lmd-" + 64 hex digits + "-" + rank: well under sun_path's 107 bytes. */
static int lock_name(const struct lm_license_file *f, EVP_PKEY *key, unsigned node, char *name,
                     size_t size)
{
	uint8_t raw[64];
	size_t rawlen = sizeof raw;
	if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1)
		return LMC_EKEY;
	char text[sizeof PREFIX + 2 * sizeof raw + 3 * LM_LOCKCODE_TEXT_MAX + 8];
	size_t len = (size_t)snprintf(text, sizeof text, "%s", PREFIX);
	lm_hex_encode(raw, rawlen, text + len);
	len += 2 * rawlen;
	text[len++] = '\n';
	/* Sorted as the signature's SERVER_CODES are: by their text. */
	const char *codes[LM_LICENSE_SERVERS_MAX];
	int n = f->nservers;
	for (int i = 0; i < n; i++)
		codes[i] = f->servers[i].code_text;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(codes[j - 1], codes[j]) > 0; j--) {
			const char *t = codes[j];
			codes[j] = codes[j - 1];
			codes[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%s\n", codes[i]);
	uint8_t md[32];
	unsigned mdlen = 0;
	if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof md)
		return LMC_ENOMEM;

	const char *own = f->servers[node - 1].code_text;
	unsigned rank = 1;
	for (int i = 0; i < n; i++) {
		int c = strcmp(f->servers[i].code_text, own);
		if (c < 0 || (c == 0 && (unsigned)i + 1 < node))
			rank++;
	}
	char digest[2 * sizeof md + 1];
	snprintf(name, size, "lmd-%s-%u", lm_hex_encode(md, sizeof md, digest), rank);
	return 0;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	size_t n = strlen(name);
	memcpy(a->sun_path + 1, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* The holder never serves anything on the socket; it only accepts and
 * closes, so that the connections of refused lmds do not fill its backlog
 * and hide its pid from the next one.  A thread rather than a loop handle:
 * the socket must outlive the loop, and a blocked accept costs nothing. */
static void *drain(void *arg)
{
	int fd = (int)(intptr_t)arg;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED)
			return NULL;
	}
}

static void start_drain(int fd)
{
	/* Signals are the loop's (uv_signal): this thread takes none. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	if (pthread_create(&t, NULL, drain, (void *)(intptr_t)fd) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The holder's pid and uid, from the credentials its listening socket
 * hands to whoever connects; false when it cannot be told. */
static bool holder(const struct sockaddr_un *a, socklen_t alen, struct ucred *cred)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	socklen_t clen = sizeof *cred;
	bool ok = connect(fd, (const struct sockaddr *)a, alen) == 0 &&
	          getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &clen) == 0 && cred->pid > 0;
	close(fd);
	return ok;
}

int lm_instance_lock(const struct lm_license_file *f, EVP_PKEY *vendor_key, unsigned node,
                     char *msg, size_t size)
{
	char name[128];
	int rc = lock_name(f, vendor_key, node, name, sizeof name);
	if (rc != 0) {
		snprintf(msg, size, "cannot name this license's lock: %s", lmc_strerror(rc));
		return rc;
	}
	struct sockaddr_un a;
	socklen_t alen = abstract_addr(&a, name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, size, "cannot create the lock socket of this license: %s",
		         strerror(errno));
		return LMC_EIO;
	}
	if (bind(fd, (struct sockaddr *)&a, alen) == 0 && listen(fd, 16) == 0) {
		start_drain(fd);
		return 0;
	}
	int e = errno;
	close(fd);
	if (e != EADDRINUSE) {
		snprintf(msg, size, "cannot take the lock of this license (@%s): %s", name,
		         strerror(e));
		return LMC_EIO;
	}
	struct ucred cred;
	char who[64] = "another process", stop[64] = "";
	if (holder(&a, alen, &cred)) {
		snprintf(who, sizeof who, "process %ld (uid %ld)", (long)cred.pid, (long)cred.uid);
		snprintf(stop, sizeof stop, ", or `kill %ld`", (long)cred.pid);
	}
	snprintf(msg, size,
	         "%s already serves this license as this server (SERVER line %u; lock @%s): a "
	         "license is served by one lmd per server, whatever its --port or --data. Stop "
	         "that lmd first (`lmutil lmdown`%s), or serve all of this vendor's features "
	         "from one license file with one lmd",
	         who, node, name, stop);
	return LMC_ELIMIT;
}
