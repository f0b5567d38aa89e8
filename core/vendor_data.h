/* Vendor data: a short text an application attaches to its checkouts
 * (lmc_set_checkout_data), FlexLM's vendor-defined checkout data
 * (LM_A_CHECKOUT_DATA).  lmd keeps it with the seats it grants, lmstat
 * shows it on the holder's line, and a line with DUP_GROUP=...V shares one
 * seat among the checkouts that carry the same data (lmd/pool_share.c).
 *
 * It is shown to people and hashed into a sharing group's name on every
 * server, so it is held to one rule wherever it enters: liblmc, the wire
 * (proto/envelope_bodies.c), the replicated command and a snapshot. */
#ifndef LM_VENDOR_DATA_H
#define LM_VENDOR_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"

/* True when the len bytes at text are vendor data: at most
 * LM_WIRE_VENDOR_DATA_MAX bytes of printable ASCII, spaces included (no
 * control character, no NUL, nothing above 0x7e).  "" is valid: no data. */
bool lm_vendor_data_valid(const char *text, size_t len);

#endif
