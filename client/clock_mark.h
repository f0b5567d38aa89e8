/* The offline clock high-water mark (issue 16): node-locked lines are
 * judged by this machine's clock alone, so liblmc remembers the latest
 * time it has seen and refuses time-limited lines when the clock goes back
 * past it by more than LM_CLOCK_MARK_TOLERANCE_S.
 *
 * The mark is one small file holding Unix seconds in decimal:
 * $LMC_CLOCK_FILE when set (an application or a test chooses its own),
 * else $XDG_STATE_HOME/lmc/clock-mark, else ~/.local/state/lmc/clock-mark.
 * Removing it resets the mark (what a vendor tells a customer whose clock
 * really was wrong); it only guards against setting the clock back, not
 * against a user who edits their own files. */
#ifndef LM_CLOCK_MARK_H
#define LM_CLOCK_MARK_H

#include <stddef.h>
#include <stdint.h>

/* Small steps back (NTP corrections, a changed time zone setting done
 * wrong) are not a clock set back. */
#define LM_CLOCK_MARK_TOLERANCE_S 3600

/* Compares now (Unix seconds) with the mark and moves the mark forward to
 * now.  Returns 0, or LMC_ECLOCK with a sentence in why when now is more
 * than the tolerance behind the mark.  A mark that cannot be read or
 * written is no mark: 0. */
int lm_clock_mark_check(int64_t now, char *why, size_t size);

#endif
