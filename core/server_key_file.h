/* The file that holds a server's identity key pair: DATA/server-key in
 * lmd's data directory, a PEM PKCS#8 Ed25519 private key, mode 0600.
 * lmd reads it at start and `lmutil lmhostid --server` prints its public
 * half; whichever runs first on a new data directory makes it, so that the
 * vendor can be sent the key before the server ever ran. */
#ifndef LM_SERVER_KEY_FILE_H
#define LM_SERVER_KEY_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#define LM_SERVER_KEY_FILE "server-key"

/* Reads the key pair from LM_SERVER_KEY_FILE in the directory dirfd (named
 * dirpath in messages), or makes it there when there is none and create
 * is set (*created then true).  The file is opened without following a
 * link, and refused (LMC_EDENIED) unless it belongs to this user and no one
 * else may read or write it: a private key that others could read proves
 * nothing about which machine holds it.  Returns 0 with *out the key (the
 * caller frees it), or a negative LMC_E* code (LMC_EIO, LMC_EKEY,
 * LMC_EDENIED; LMC_ENOFEATURE when there is no key and create is false)
 * with a sentence in msg. */
int lm_server_key_file_open(int dirfd, const char *dirpath, bool create, EVP_PKEY **out,
                            bool *created, char *msg, size_t size);

#endif
