#!/usr/bin/env python3
"""Writes a synthetic usage report log, as lmd writes it (lmd/report_log.h):
a site of SEATS seats over DAYS days, RECORDS records in all, hash-chained
so that `lmutil report --verify` accepts it.

usage: bench/report_log_gen.py OUT [RECORDS] [SEATS] [DAYS]
       (defaults: 1000000 records, 500 seats, 365 days)

Each use is four records (session_open, checkout, checkin, session_close);
one use in twenty is denied instead (no seat, or a policy rule).  Uses are
spread evenly over the days, each holding its seat for a random time, so
that the report has a real level to integrate."""

import hashlib
import heapq
import random
import sys
import time

ANCHOR = "0" * 64


def main():
    out = sys.argv[1]
    records = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    seats = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    days = int(sys.argv[4]) if len(sys.argv) > 4 else 365
    rnd = random.Random(12)
    features = ["feature%02d" % i for i in range(20)]
    users = ["user%04d" % i for i in range(800)]
    start_us = 1767225600 * 1000000  # 2026-01-01
    span_us = days * 86400 * 1000000
    uses = int(records / 3.9)
    step_us = span_us // max(uses, 1)
    prev = ANCHOR
    seq = 0
    index = 0
    held = []  # (end_us, handle, feature, user, session, since_us)
    handle = 0

    def stamp(us):
        s, frac = divmod(us, 1000000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%06dZ" % frac

    with open(out, "w") as f:
        def write(us, body):
            nonlocal prev, seq, index
            seq += 1
            index += 1
            line = '{"seq":%d,"index":%d,"time":"%s",%s,"prev":"%s"}' % (
                seq, index, stamp(us), body, prev)
            prev = hashlib.sha256(line.encode()).hexdigest()
            f.write(line + "\n")

        write(start_us, '"event":"license","lines":20,"license_sha256":"%s"' % ("ab" * 32))
        for feat in features:
            write(start_us, '"event":"issued","feature":"%s","version":"1.0","count":%d,'
                  '"expiry":"permanent"' % (feat, seats // len(features)))
        now = start_us
        while seq + 4 <= records:
            now += step_us
            while held and held[0][0] <= now:
                end, h, feat, user, sess, since = heapq.heappop(held)
                write(end, '"event":"checkin","session":"%s","user":"%s","host":"h",'
                      '"feature":"%s","version":"1.0","count":1,"handle":%d,"since":"%s"'
                      % (sess, user, feat, h, stamp(since)))
                write(end, '"event":"session_close","session":"%s","user":"%s","host":"h",'
                      '"reason":"clean","count":1' % (sess, user))
            user = rnd.choice(users)
            feat = rnd.choice(features)
            sess = "%016x" % rnd.getrandbits(64)
            write(now, '"event":"session_open","session":"%s","user":"%s","host":"h",'
                  '"display":":0","ip":"10.0.0.1","project":"","pid":1,"app_version":""'
                  % (sess, user))
            if rnd.random() < 0.05:
                code = "LMC_ENOSEATS" if rnd.random() < 0.7 else "LMC_EDENIED"
                write(now, '"event":"denied","session":"%s","user":"%s","host":"h",'
                      '"feature":"%s","version":"1.0","count":1,"code":"%s",'
                      '"reason":"all seats in use"' % (sess, user, feat, code))
                continue
            handle += 1
            write(now, '"event":"checkout","session":"%s","user":"%s","host":"h",'
                  '"feature":"%s","version":"1.0","pool_version":"1.0","count":1,'
                  '"handle":%d' % (sess, user, feat, handle))
            end = now + int(rnd.expovariate(1.0) * step_us * seats * 0.5)
            heapq.heappush(held, (end, handle, feat, user, sess, now))
    print("%s: %d records" % (out, seq))


main()
