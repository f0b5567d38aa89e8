#!/usr/bin/env python3
"""Judges a lease test from the clients' own beliefs.

usage: lease_events.py --seats N [--mark NAME=T_US]... EVENTS.json...

Each EVENTS.json is what one client printed, `lmutil checkout --json` after
`lmutil checkout --json` (one process at a time per file): one object per
line with t_us (wall-clock microseconds, one clock for every client since
they run on one machine), event and handle.

A client believes it holds a seat from "granted" or "regained" until "lost"
or "releasing", or until the test kills it ("killed", written by the test).
Checks, exiting 1 with a line per violation:
- at no instant do the clients believe they hold more seats than the
  license allows (N): in particular no client goes on believing in a seat
  the pool has given to another, and none hears "regained" for it;
- "regained" only for a seat reported "lost" before, and "lost" only for a
  seat believed held;
- every "lost" carries one of the codes liblmc documents.

For each mark (a fault or a heal injected at T_US) it prints when the next
"lost" and the next "granted" came, in milliseconds after the mark: the
lost-report and reclaim times of the README.
"""
import argparse
import sys

from client_events import read_events

LOST_CODES = {"LMC_ENOSERVER", "LMC_ENOQUORUM", "LMC_ENOSESSION", "LMC_ENOHANDLE",
              "LMC_ENOSEATS", "LMC_ENOFEATURE", "LMC_EDENIED", "LMC_EBADSIG"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seats", type=int, required=True)
    ap.add_argument("--mark", action="append", default=[])
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    bad = []
    changes = []  # (t_us, +1/-1, who)
    events = []   # (t_us, event, who, code)
    for path in a.files:
        who = path.rsplit("/", 1)[-1]
        believed = set()
        lost = set()
        for n, line, e in read_events(path, bad):
            ev, t, h = e["event"], e["t_us"], e.get("handle")
            events.append((t, ev, who, e.get("code")))
            if ev in ("granted", "regained"):
                if h in believed:
                    bad.append("%s:%d: %s a seat it already believed held" % (who, n, ev))
                    continue
                if ev == "regained":
                    if h not in lost:
                        bad.append("%s:%d: regained a seat never reported lost" % (who, n))
                    lost.discard(h)
                believed.add(h)
                changes.append((t, 1, who))
            elif ev == "killed":
                for _ in believed:
                    changes.append((t, -1, who))
                believed.clear()
            elif ev in ("lost", "releasing"):
                if ev == "lost":
                    if e.get("code") not in LOST_CODES:
                        bad.append("%s:%d: lost with code %s" % (who, n, e.get("code")))
                    if h not in believed:
                        bad.append("%s:%d: lost a seat it did not believe held" % (who, n))
                    lost.add(h)
                if h in believed:
                    believed.discard(h)
                    changes.append((t, -1, who))

    # At one microsecond, the end of a belief sorts before the start of
    # another: only a real overlap counts.
    changes.sort(key=lambda c: (c[0], c[1]))
    level = peak = 0
    holders = {}
    for t, d, who in changes:
        level += d
        holders[who] = holders.get(who, 0) + d
        if level > peak:
            peak = level
        if level > a.seats:
            bad.append("at t_us %d the clients believed they held %d seats (%s); the license "
                       "allows %d" % (t, level, ", ".join(
                           "%s %d" % kv for kv in sorted(holders.items()) if kv[1]), a.seats))
    counts = {}
    for _, ev, _, _ in events:
        counts[ev] = counts.get(ev, 0) + 1
    print("events: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    print("most seats believed held at once: %d of %d" % (peak, a.seats))

    events.sort()
    for m in a.mark:
        name, _, t = m.partition("=")
        t = int(t)
        line = "after %s:" % name
        for want in ("lost", "granted", "regained"):
            after = [(u, who, code) for u, ev, who, code in events if ev == want and u > t]
            if after:
                u, who, code = after[0]
                line += " %s %s at +%d ms%s;" % (
                    who, want, (u - t) // 1000, " (%s)" % code if want == "lost" else "")
        print(line.rstrip(";") if line.endswith(";") else line + " nothing")

    for b in bad:
        print("FAIL: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
