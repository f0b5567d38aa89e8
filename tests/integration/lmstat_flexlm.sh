#!/bin/sh
# lmutil lmstat prints FlexLM's layout, which the monitors admins run on it
# parse (tests/data/lmstat/MONITORS.md): the patterns below are written
# from what those parsers match (the Prometheus exporter's server, feature,
# holder and reservation lines; phpLicenseWatcher's "Users of" totals; the
# Nagios checks' words), and each must find what a real lmd serves.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 5" "FEATURE plot acme 1.0 2027-12-31 1"
printf 'RESERVE 2 stats USER carol\n' >"$TMP/acme.opt"
single_lmd lmd --options "$TMP/acme.opt"
(LM_TEST_USER=alice LM_TEST_HOST=ws7 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json stats --version 29.0 --count 2 --hold 60 >"$TMP/hold" 2>&1) &
at_exit "kill $! 2>/dev/null"
wait_log "$TMP/hold" '"event":"granted"'

expect_status 0 "$LMUTIL" lmstat -c "$S" -a
cp "$TMP/out" "$TMP/lmstat.txt"
python3 - "$TMP/lmstat.txt" "$port" <<'PY' || fail "lmstat -a is not FlexLM's layout: $(cat "$TMP/lmstat.txt")"
import re, sys
text = open(sys.argv[1]).read()
port = sys.argv[2]
lines = text.split("\n")
assert "\r" not in text
assert lines[0].startswith("lmutil - Copyright"), lines[0]
assert re.fullmatch(r"Flexible License Manager status on \w{3} \d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}", lines[1]), lines[1]
assert lines[2] == ""
assert lines[3] == "License server status: %s@127.0.0.1" % port, lines[3]
# One server UP, the MASTER, a version with a dot and nothing after it.
ups = [l for l in lines if re.fullmatch(r"([^: ]+): license server UP(?: \(MASTER\))? v\d+(\.\d+)+", l)]
assert len(ups) == 1 and "(MASTER)" in ups[0], ups
assert re.search(r"^Vendor daemon status \(on 127\.0\.0\.1\):\n\n +acme: UP v\d+\.\d+", text, re.M), text
assert "\nFeature usage info:\n\n" in text
# The totals, two spaces after the colon and the semicolon, plural rules.
users = dict(re.findall(r"^Users of (\S+):  \(Total of (\d+) licenses? issued;  Total of \d+ licenses? in use\)$", text, re.M))
assert users == {"plot": "1", "stats": "5"}, users
assert "Users of plot:  (Total of 1 license issued;  Total of 0 licenses in use)" in text
# In use: alice's 2 and carol's 2 reserved seats, idle (FlexLM counts them).
assert "Users of stats:  (Total of 5 licenses issued;  Total of 4 licenses in use)" in text
# The detail block of stats: header, floating, reservation, holder.
assert '  "stats" v29.0, vendor: acme, expiry: permanent(no expiration date)\n  floating license\n\n' in text
assert re.search(r"^        2 RESERVATIONs for USER carol \(127\.0\.0\.1/%s\)$" % port, text, re.M), text
holder = re.findall(r"^    (\S+) (\S+) (\S+) \(v([\w.]+)\) \((\S+)/(\d+) (\d+)\), start \w{3} \d{1,2}/\d{1,2} \d{1,2}:\d{2}(?:, (\d+) licenses)?$", text, re.M)
assert len(holder) == 1, holder
user, host, display, version, server, sport, handle, count = holder[0]
assert (user, host, version, server, sport, count) == ("alice", "ws7", "29.0", "127.0.0.1", port, "2"), holder
# plot has no holder and no reservation: no detail block.
assert '"plot"' not in text
# Nothing above the feature list says down, cannot or refused (Nagios).
head = text.split("Feature usage info:")[0]
assert not re.search(r"down|cannot|unable|refused", head, re.I), head
PY

note "a reservation its holder uses shows as the holder; in use stays 4"
(LM_TEST_USER=carol LM_TEST_HOST=lab2 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json stats --version 29.0 --hold 60 >"$TMP/hold2" 2>&1) &
at_exit "kill $! 2>/dev/null"
wait_log "$TMP/hold2" '"event":"granted"'
expect_status 0 "$LMUTIL" lmstat -c "$S" -a
expect_grep "^Users of stats:  \(Total of 5 licenses issued;  Total of 4 licenses in use\)$" "$TMP/out"
expect_grep "^        1 RESERVATION for USER carol \(127\.0\.0\.1/$port\)$" "$TMP/out"
expect_grep "^    carol lab2 " "$TMP/out"

note "--json: the reservations with their seats and idle seats"
expect_status 0 "$LMUTIL" lmstat -c "$S" -f stats --json
python3 - "$TMP/out" <<'PY' || fail "lmstat --json reservations: $(cat "$TMP/out")"
import json, sys
f = json.load(open(sys.argv[1]))["features"][0]
assert (f["in_use"], f["reserved"]) == (3, 1), f
assert f["reservations"] == [{"type": "USER", "name": "carol", "seats": 2, "idle": 1, "line": 1}], f
PY

note "lmd's own layout stays with --lmd, reservations included"
expect_status 0 "$LMUTIL" lmstat -c "$S" --lmd -a
expect_grep "^  $port@127.0.0.1: leader, up " "$TMP/out"
expect_grep "^  stats 29.0: 3 of 5 seats in use, 1 reserved and idle, expires " "$TMP/out"
expect_grep "^    reserved: 2 for USER carol, 1 idle \(options line 1\)$" "$TMP/out"

note "a server that does not answer: FlexLM's words, exit status 0 with a report"
kill_lmd lmd TERM
run "$LMUTIL" lmstat -c "$S" -a
[ "$status" = 0 ] || fail "lmstat exited $status with a report"
expect_grep "^127.0.0.1: Cannot connect to license server system. " "$TMP/out"
# No server answered: the vendor is not known (the status names it).
expect_grep "^ +[a-z]+: The desired vendor daemon is down" "$TMP/out"
