#!/usr/bin/env python3
"""Judges a triad test from the clients' own events.

usage: triad_events.py --seats N [--mark NAME=T_US[@SERVER]]... [--holders FILE]
                       [--resume-within S] EVENTS.json...

Each EVENTS.json is what one `lmutil checkout --json` printed: one object per
line, with t_us (wall-clock microseconds), event (granted, denied,
releasing, released, lost, regained) and handle.

Checks, exiting 1 with a line per violation:
- never more than N seats held at once across all clients, each client
  holding its seat from "granted" to "releasing" (the server holds it a
  little longer on both sides, so this undercounts, never overcounts);
- no "lost" event: a failover shorter than the session timeout is invisible
  to the application;
- after each mark (a fault injected at T_US into SERVER, "port@host"), some
  client was granted a seat by another server within --resume-within
  seconds; the delay is printed (the failover time);
- with --holders, every handle that lmstat ever listed as held (one handle
  per line) was granted to some client: a seat granted twice for one retried
  request would be held by nobody's knowledge.
"""
import argparse
import sys

from client_events import read_events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seats", type=int, required=True)
    ap.add_argument("--mark", action="append", default=[])
    ap.add_argument("--holders")
    ap.add_argument("--resume-within", type=float, default=20.0)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    bad = []
    changes = []  # (t_us, +1/-1)
    grants = []
    granted_handles = set()
    counts = {}
    for path in a.files:
        held = None
        for n, line, e in read_events(path, bad):
            ev, t = e["event"], e["t_us"]
            counts[ev] = counts.get(ev, 0) + 1
            if ev == "granted":
                if held is not None:
                    bad.append("%s:%d: granted twice without a release" % (path, n))
                held = t
                changes.append((t, 1))
                grants.append((t, e.get("server")))
                granted_handles.add(e.get("handle"))
            elif ev == "releasing" and held is not None:
                changes.append((t, -1))
                held = None
            elif ev == "lost":
                bad.append("%s:%d: the application saw its seat lost: %s" % (path, n, line))
        if held is not None:
            bad.append("%s: ends holding a seat it never released" % path)

    # Releases sort before grants at the same microsecond.
    changes.sort(key=lambda c: (c[0], c[1]))
    level = peak = 0
    for t, d in changes:
        level += d
        peak = max(peak, level)
    print("events: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    print("most seats held at once: %d of %d" % (peak, a.seats))
    if peak > a.seats:
        bad.append("%d seats were held at once; the license allows %d" % (peak, a.seats))

    grants.sort()
    for m in a.mark:
        name, _, rest = m.partition("=")
        t, _, faulty = rest.partition("@")
        t = int(t)
        # A grant the faulty server sent just before the fault is no
        # sign of service after it.
        after = [g for g, server in grants if g > t and server != faulty]
        if not after:
            bad.append("no seat was granted after %s" % name)
            continue
        delay = (after[0] - t) / 1e6
        print("failover after %s: next checkout granted %.0f ms later" % (name, delay * 1000))
        if delay > a.resume_within:
            bad.append("service resumed %.1f s after %s" % (delay, name))

    if a.holders:
        listed = set()
        with open(a.holders) as f:
            for line in f:
                if line.strip():
                    listed.add(int(line))
        stray = sorted(listed - granted_handles)
        print("handles listed by lmstat: %d, all granted to a client: %s"
              % (len(listed), "no" if stray else "yes"))
        if stray:
            bad.append("handles held that no client was granted: %s" % stray)

    for b in bad:
        print("FAIL: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
