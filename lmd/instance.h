/* One lmd per license and server on a machine.
 *
 * Two lmds serving one license from one machine would each count the
 * seats: 10 in use of a 5-seat license.  At start a server takes a
 * machine-wide lock named by the license's identity and its own SERVER
 * line, holds it for its life, and the kernel releases it when the process
 * ends, however it ends. */
#ifndef LM_INSTANCE_H
#define LM_INSTANCE_H

#include <stddef.h>

#include <openssl/evp.h>

#include "core/license.h"

/* Takes the lock of license f (verified under vendor_key) as served by
 * the server of SERVER line `node`.  Returns 0, or a negative LMC_E* code
 * with a message in msg: LMC_ELIMIT when another process holds the lock
 * (the message names its pid when the kernel tells it), LMC_EIO when the
 * lock cannot be taken at all.  The lock lives until the process exits. */
int lm_instance_lock(const struct lm_license_file *f, EVP_PKEY *vendor_key, unsigned node,
                     char *msg, size_t size);

#endif
