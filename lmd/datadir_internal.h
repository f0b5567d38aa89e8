/* What the files of lmd's data directory share.  Private to
 * lmd/datadir*.c; the API is lmd/datadir.h. */
#ifndef LM_DATADIR_INTERNAL_H
#define LM_DATADIR_INTERNAL_H

#include <stddef.h>

#include "lmd/datadir.h"

/* Writes why lmd refuses the link at path into msg; returns LMC_EDENIED. */
int lm_datadir_refuse_link(const char *path, char *msg, size_t size);
/* Reads DATA/raft-seen into d->seen, at open (datadir_ids.c). */
int lm_datadir_read_seen(struct lm_datadir *d, char *msg, size_t size);

#endif
