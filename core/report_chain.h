/* The hash chain of the usage report log (lmd/report_log.h), shared by the
 * writer in lmd and the checker in lmutil (`lmutil report --verify`).
 *
 * A report log is text, one JSON object per line.  lmd writes every record
 * in the same shape: it starts with {"seq":N,"index":I, and ends with
 * ,"prev":"<64 hex digits>"} where prev is the SHA-256 of the previous
 * record's bytes (the line without its newline).  The first record of a
 * log, in the first file, chains from the anchor, 64 zeros; when the log
 * is rotated the new file's first record chains from the last record of
 * the file before, so the files in order form one chain.  Any edit,
 * deletion or insertion changes a hash that a later record names, and a
 * truncation shows as a last line without its newline. */
#ifndef LM_CORE_REPORT_CHAIN_H
#define LM_CORE_REPORT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LM_REPORT_CHAIN_HEX    64 /* hex digits of one link */
#define LM_REPORT_CHAIN_ANCHOR "0000000000000000000000000000000000000000000000000000000000000000"

/* hex (65 bytes with its NUL) = the SHA-256 of the len bytes of line. */
void lm_report_chain_hash(const char *line, size_t len, char hex[LM_REPORT_CHAIN_HEX + 1]);

/* The prev link of a record (line without its newline), copied to hex;
 * false when the line does not end as lmd ends its records. */
bool lm_report_chain_prev(const char *line, size_t len, char hex[LM_REPORT_CHAIN_HEX + 1]);

/* The seq and the raft index a record starts with; false when the line
 * does not start as lmd starts its records. */
bool lm_report_chain_head(const char *line, size_t len, uint64_t *seq, uint64_t *index);

#endif
