#!/usr/bin/env python3
"""Reads lmd's /metrics with a real Prometheus text parser (Debian's
python3-prometheus-client) and checks a condition on the samples.

    http_scrape.py URL CONDITION [SECONDS]

CONDITION is a Python expression over m(NAME, **LABELS), the value of one
sample (KeyError when absent: a missing series fails the condition), and
types, a dict of family name to type.  The script scrapes until the
condition holds or SECONDS (default 0: one scrape) pass, exits 0 or prints
the last scrape's samples and exits 1.  The parser raising on the text is
a failure too: lmd must write what Prometheus reads."""

import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200, r.status
        kind = r.headers["Content-Type"]
        assert kind.startswith("text/plain; version=0.0.4"), kind
        text = r.read().decode()
    samples, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, "duplicate sample %s" % (key,)
            samples[key] = s.value
    return samples, types


def main():
    url, condition = sys.argv[1], sys.argv[2]
    deadline = time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 0)
    while True:
        samples, types = scrape(url)

        def m(name, **labels):
            return samples[(name, frozenset(labels.items()))]

        try:
            ok = eval("(%s)" % condition, {"m": m, "types": types})
        except KeyError:
            ok = False
        if ok:
            return 0
        if time.time() >= deadline:
            for (name, labels), value in sorted(samples.items(), key=str):
                print(name, dict(labels), value, file=sys.stderr)
            print("condition never held: %s" % condition, file=sys.stderr)
            return 1
        time.sleep(0.2)


sys.exit(main())
