/* The admin socket (admin_socket.c): listening, and removing it at stop. */
#ifndef LM_ADMIN_SOCKET_H
#define LM_ADMIN_SOCKET_H

#include <stddef.h>

#include "lmd/server.h"

/* Room for "DATA/admin.sock" before its length is checked. */
#define LM_ADMIN_SOCKET_DEFAULT_MAX 4096

/* Listens on --admin-socket (default DATA/admin.sock; "none": nothing).
 * Returns 0, or a code with a sentence in err. */
int lm_admin_socket_start(struct lm_server *s, char *err, size_t errsize);
void lm_admin_socket_stop(struct lm_server *s);

#endif
