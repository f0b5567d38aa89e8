#!/bin/sh
# FlexLM's lmstat flags against a real lmd: -v, -i [FEATURE], -s [SERVER],
# -S [VENDOR], -f [FEATURE], -t SECONDS, -old, and a clear refusal of the
# rest.  The patterns are the monitors' (tests/data/lmstat/MONITORS.md):
# the exporter's version and -i row patterns, the Checkmk agent's nine
# lines before the -i rows, the Nagios checks' "Users of features served
# by" marker.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 5" "FEATURE plot acme 1.0 2027-12-31 1"
single_lmd lmd
(LM_TEST_USER=alice LM_TEST_HOST=ws7 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json stats --version 29.0 --count 2 --hold 60 >"$TMP/hold" 2>&1) &
at_exit "kill $! 2>/dev/null"
wait_log "$TMP/hold" '"event":"granted"'

note "-v: the copyright line and the exporter's version line, no server asked"
expect_status 0 "$LMUTIL" lmstat -v
[ "$(wc -l <"$TMP/out")" = 2 ] || fail "lmstat -v: $(cat "$TMP/out")"
expect_grep "^lmutil - Copyright " "$TMP/out"
expect_grep '^lmstat v[0-9]+(\.[0-9]+)+ build [0-9]+ [A-Za-z0-9_]+$' "$TMP/out"

note "-i: nine lines, then one row per pool: name, version, seats, vendor, expiry"
expect_status 0 "$LMUTIL" lmstat -c "$S" -i
# The Checkmk agent: tail -n +10 | awk '{print $1, $5}'.
rows=$(tail -n +10 "$TMP/out" | awk '{print $1, $2, $3, $4, $5}')
[ "$rows" = "plot 1.0 1 acme 31-dec-2027
stats 29.0 5 acme permanent(no" ] || fail "lmstat -i rows: $(cat "$TMP/out")"
python3 - "$TMP/out" <<'PY' || fail "lmstat -i is not FlexLM's table: $(cat "$TMP/out")"
import re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0].startswith("lmutil - Copyright"), lines[0]
assert re.fullmatch(r"\w{3} \d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}", lines[1]), lines[1]
assert lines[2] == "" and lines[3].startswith("NOTE: ") and lines[6] == "", lines
head = lines[7].split()
assert head[0] == "Feature" and head[-1] == "Expires" and head[3] == "Vendor", lines[7]
# The exporter's -i row: feature, version (digits, dots), count, vendor, expiry.
row = re.compile(r"^(\S+)\s+([\d.]+)\s+(\d+)\s+(\w+)\s+(.+)$")
got = [row.match(l).groups() for l in lines[9:] if l]
assert got == [("plot", "1.0", "1", "acme", "31-dec-2027"),
               ("stats", "29.0", "5", "acme", "permanent(no expiration date)")], got
# Columns where FlexLM puts them.
assert lines[10].index("29.0") == 33 and lines[10].index("acme") == 58, lines[10]
PY
expect_status 0 "$LMUTIL" lmstat -c "$S" -i plot
[ "$(tail -n +10 "$TMP/out" | awk '{print $1}')" = plot ] || fail "lmstat -i plot: $(cat "$TMP/out")"

note "-a -i: the usage, then the table"
expect_status 0 "$LMUTIL" lmstat -a -c "$S" -i
python3 - "$TMP/out" <<'PY' || fail "lmstat -a -i: $(cat "$TMP/out")"
import sys
text = open(sys.argv[1]).read()
usage = text.index("Users of stats:  (Total of 5 licenses issued;  Total of 2 licenses in use)")
holder = text.index("    alice ws7 ")
table = text.index("\nFeature                         Version")
assert usage < holder < table, text
PY

note "-s: the server block only; -s SERVER names one"
expect_status 0 "$LMUTIL" lmstat -c "$S" -s
expect_grep "^127\.0\.0\.1: license server UP \(MASTER\) v[0-9]+(\.[0-9]+)+$" "$TMP/out"
grep -q "Vendor daemon status\|Users of" "$TMP/out" && fail "lmstat -s shows more: $(cat "$TMP/out")"
for name in 127.0.0.1 "$port@127.0.0.1"; do
	expect_status 0 "$LMUTIL" lmstat -c "$S" -s "$name"
	expect_grep "^127\.0\.0\.1: license server UP \(MASTER\) v" "$TMP/out"
done
expect_status 2 "$LMUTIL" lmstat -c "$S" -s elsewhere
expect_grep "elsewhere is not one of the servers" "$TMP/err"

note "-S: the users of the vendor's features, after the Nagios checks' marker"
for vendor in "" acme; do
	# shellcheck disable=SC2086 # no word for no vendor
	expect_status 0 "$LMUTIL" lmstat -c "$S" -S $vendor
	python3 - "$TMP/out" <<'PY' || fail "lmstat -S $vendor: $(cat "$TMP/out")"
import re, sys
text = open(sys.argv[1]).read()
assert re.search(r"^ +acme: UP v[\d.]+$", text, re.M), text
marker = text.index("\nUsers of features served by acme:\nUsers of plot:  (Total of 1 license issued;")
assert "    alice ws7 " in text[marker:], text
assert "Feature usage info:" not in text, text
PY
done
expect_status 1 "$LMUTIL" lmstat -c "$S" -S otherco
expect_grep "serve vendor acme, not otherco" "$TMP/err"

note "-f FEATURE: the header and that feature's block; FlexLM's words for no such feature"
expect_status 0 "$LMUTIL" lmstat -c "$S" -f stats
python3 - "$TMP/out" <<'PY' || fail "lmstat -f stats: $(cat "$TMP/out")"
import sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0].startswith("lmutil - Copyright") and lines[2] == "", lines
assert lines[3] == "Users of stats:  (Total of 5 licenses issued;  Total of 2 licenses in use)", lines
assert lines[5] == '  "stats" v29.0, vendor: acme, expiry: permanent(no expiration date)', lines
assert not any(l.startswith(("Users of plot", "License server status")) for l in lines), lines
PY
expect_status 0 "$LMUTIL" lmstat -c "$S" -f nosuch
expect_grep "^Users of nosuch: Cannot get users of nosuch: No such feature exists\. \(-5,222\)$" "$TMP/out"

note "plain lmstat: the server and vendor daemon blocks, no usage"
expect_status 0 "$LMUTIL" lmstat -c "$S" -old
expect_grep "^ +acme: UP v" "$TMP/out"
grep -q "Users of\|Feature usage info" "$TMP/out" && fail "plain lmstat shows usage: $(cat "$TMP/out")"

note "unknown flags and bad values are refused, clearly"
expect_status 2 "$LMUTIL" lmstat -c "$S" -Z
expect_grep "invalid option" "$TMP/err"
expect_status 2 "$LMUTIL" lmstat -c "$S" -a extra
expect_grep "unexpected 'extra'" "$TMP/err"
for t in 0 x 3601; do
	expect_status 2 "$LMUTIL" lmstat -c "$S" -t "$t"
	expect_grep "^lmstat: -t takes whole seconds from 1 to 3600" "$TMP/err"
done

note "-t and FLEXLM_TIMEOUT bound the wait for a server that does not answer"
kill -STOP "$(cat "$TMP/lmd.pid")"
at_exit "kill -CONT $(cat "$TMP/lmd.pid") 2>/dev/null"
t0=$(date +%s)
expect_status 0 "$LMUTIL" lmstat -a -c "$S" -t 1
t1=$(date +%s)
expect_grep "^127\.0\.0\.1: Cannot read data from license server system\. \(-16,287\)$" "$TMP/out"
[ $((t1 - t0)) -le 3 ] || fail "lmstat -t 1 took $((t1 - t0)) s"
t0=$(date +%s)
FLEXLM_TIMEOUT=1000000 "$LMUTIL" lmstat -c "$S" -s >"$TMP/out" 2>&1
t1=$(date +%s)
expect_grep "Cannot read data from license server system" "$TMP/out"
[ $((t1 - t0)) -le 3 ] || fail "lmstat with FLEXLM_TIMEOUT=1000000 took $((t1 - t0)) s"
kill -CONT "$(cat "$TMP/lmd.pid")"
expect_status 0 "$LMUTIL" lmstat -c "$S" -s -t 5
expect_grep "license server UP \(MASTER\)" "$TMP/out"

note "-f with no server answering: FlexLM's Error getting status line"
kill_lmd lmd
expect_status 0 "$LMUTIL" lmstat -c "$S" -f stats
expect_grep '^Error getting status: Cannot connect to license server system\. ' "$TMP/out"
