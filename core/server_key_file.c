/* The identity key file of a server (see server_key_file.h). */
#include "core/server_key_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.h"

/* Makes a new key pair and writes it through a temporary name and a
 * rename, so that a crash never leaves half a key under the real name. */
static int create_key(int dirfd, const char *dirpath, EVP_PKEY **out, char *msg, size_t size)
{
	const char *tmp = LM_SERVER_KEY_FILE ".tmp";
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!key) {
		ERR_clear_error();
		snprintf(msg, size, "cannot make a server key: OpenSSL has no Ed25519");
		return LMC_EKEY;
	}
	int fd = -1;
	FILE *fp = NULL;
	bool ok = (unlinkat(dirfd, tmp, 0) == 0 || errno == ENOENT) &&
	          (fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                       0600)) >= 0 &&
	          (fp = fdopen(fd, "w")) != NULL;
	if (ok)
		ok = PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) == 1 &&
		     fflush(fp) == 0 && fsync(fd) == 0;
	if (fp ? fclose(fp) != 0 : (fd >= 0 && close(fd) != 0))
		ok = false;
	ok = ok && renameat(dirfd, tmp, dirfd, LM_SERVER_KEY_FILE) == 0 && fsync(dirfd) == 0;
	if (!ok) {
		int e = errno;
		ERR_clear_error();
		EVP_PKEY_free(key);
		snprintf(msg, size, "cannot write %s/%s: %s", dirpath, LM_SERVER_KEY_FILE,
		         strerror(e));
		return LMC_EIO;
	}
	*out = key;
	return 0;
}

int lm_server_key_file_open(int dirfd, const char *dirpath, bool create, EVP_PKEY **out,
                            bool *created, char *msg, size_t size)
{
	*out = NULL;
	*created = false;
	int fd = openat(dirfd, LM_SERVER_KEY_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (!create) {
			snprintf(msg, size,
			         "%s/%s does not exist: lmd makes it at its first start (or "
			         "`lmutil lmhostid --server --data %s`)",
			         dirpath, LM_SERVER_KEY_FILE, dirpath);
			return LMC_ENOFEATURE;
		}
		int rc = create_key(dirfd, dirpath, out, msg, size);
		*created = rc == 0;
		return rc;
	}
	if (fd < 0) {
		snprintf(msg, size, "cannot read %s/%s: %s%s", dirpath, LM_SERVER_KEY_FILE,
		         strerror(errno), errno == ELOOP ? " (a symbolic link is refused)" : "");
		return errno == ELOOP ? LMC_EDENIED : LMC_EIO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(msg, size, "%s/%s is not a regular file", dirpath, LM_SERVER_KEY_FILE);
		return LMC_EIO;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		snprintf(msg, size,
		         "%s/%s is not private (mode %04o, owner uid %u): a server key that "
		         "others can read proves nothing; `chmod 600` it and check who read it, "
		         "or remove it so that a new one is made (the license's KEY= must then "
		         "be reissued)",
		         dirpath, LM_SERVER_KEY_FILE, (unsigned)(st.st_mode & 07777),
		         (unsigned)st.st_uid);
		return LMC_EDENIED;
	}
	FILE *fp = fdopen(fd, "r");
	if (!fp) {
		close(fd);
		snprintf(msg, size, "cannot read %s/%s: %s", dirpath, LM_SERVER_KEY_FILE,
		         strerror(errno));
		return LMC_EIO;
	}
	/* An empty passphrase rather than a prompt: lmd runs unattended. */
	EVP_PKEY *key = PEM_read_PrivateKey(fp, NULL, NULL, (void *)"");
	fclose(fp);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(key);
		ERR_clear_error();
		snprintf(msg, size,
		         "%s/%s is not an Ed25519 private key; remove it so that a new one is "
		         "made (the license's KEY= must then be reissued)",
		         dirpath, LM_SERVER_KEY_FILE);
		return LMC_EKEY;
	}
	*out = key;
	return 0;
}
