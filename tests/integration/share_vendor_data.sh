#!/bin/sh
# DUP_GROUP=V through a real lmd and real clients: checkouts that carry the
# same vendor data (lmutil checkout --vendor-data, lmc_set_checkout_data)
# share one seat whoever makes them, and other data needs a seat of its
# own; lmstat shows the data on each holder's line (FlexLM layout, --lmd
# and JSON).  Under DUP_GROUP=UHDV the same person at the same display
# shares only with the same data.  Vendor data that is too long or holds a
# control character is refused, by liblmc (LMC_EINVAL) and by lmd itself on
# the wire (LMC_EPROTO), and no seat moves.  The report log records the
# data with each checkout.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE solver acme 1.0 permanent 1 DUP_GROUP=V" \
	"FEATURE cad acme 1.0 permanent 1 DUP_GROUP=UHDV"
single_lmd lmd --report-log "$TMP/report.log"

# hold NAME USER HOST FEATURE DATA: a client holding one seat in the
# background, its checkout carrying DATA.
hold() { hold_as "$1" "$2" "$3" "$4" --vendor-data "$5"; }

# try USER HOST FEATURE DATA: one checkout that is not held (exit status in
# $status, output in $TMP/out).
try()
{
	run env LM_TEST_USER=$1 LM_TEST_HOST=$2 DISPLAY=:0 "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json --vendor-data "$4" "$3" --hold 0
}

note "alice and bob, with the same vendor data, share the one seat of solver"
hold a alice ws1 solver "job 7"
expect_grep '"event":"granted"' "$TMP/a.json"
hold b bob ws2 solver "job 7"
grep -q '"event":"granted"' "$TMP/b.json" || fail "bob's checkout with the same data was denied: $(cat "$TMP/b.json")"

note "carol's other data needs a seat of its own"
try carol ws3 solver "job 8"
[ "$status" = 1 ] || fail "carol's other vendor data shared the seat: $(cat "$TMP/out")"
expect_grep '"code":"LMC_ENOSEATS"' "$TMP/out"

note "lmstat shows the one seat, and the vendor data on each holder's line"
expect_status 0 "$LMUTIL" lmstat -c "$S" -f solver
cp "$TMP/out" "$TMP/lmstat.txt"
python3 - "$TMP/lmstat.txt" "$port" <<'PY' || fail "lmstat does not show the vendor data: $(cat "$TMP/lmstat.txt")"
import re, sys
text, port = open(sys.argv[1]).read(), sys.argv[2]
assert "Users of solver:  (Total of 1 license issued;  Total of 1 license in use)" in text, text
# One word after the display, as the monitors read FlexLM's lines.
holders = re.findall(r"^    (\w+) (ws\d) :0 job_7 \(v1\.0\) \(127\.0\.0\.1/%s \d+\), start \w{3} \d+/\d+ \d+:\d{2} \(shared: 2\)$" % port, text, re.M)
assert sorted(holders) == [("alice", "ws1"), ("bob", "ws2")], holders
PY
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd
[ "$(grep -c '^    \(alice ws1\|bob ws2\) :0, 1 seat since .*, shared by 2, vendor data "job 7"$' "$TMP/out")" = 2 ] ||
	fail "lmstat --lmd does not show the vendor data: $(cat "$TMP/out")"
"$LMUTIL" lmstat -c "$S" -a --json >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat --json does not show the vendor data: $(cat "$TMP/stat.json")"
import json, sys
features = {f["name"]: f for f in json.load(open(sys.argv[1]))["features"]}
f = features["solver"]
assert f["in_use"] == 1, f
assert sorted((h["user"], h["vendor_data"], h["sharers"]) for h in f["holders"]) == \
    [("alice", "job 7", 2), ("bob", "job 7", 2)], f
PY

wait_log "$TMP/report.log" '"event":"checkout".*"feature":"solver".*"vendor_data":"job 7"'

note "DUP_GROUP=UHDV: alice at one display shares only with the same data"
hold c1 alice ws1 cad "part.prt"
expect_grep '"event":"granted"' "$TMP/c1.json"
hold c2 alice ws1 cad "part.prt"
grep -q '"event":"granted"' "$TMP/c2.json" || fail "alice's duplicate was denied: $(cat "$TMP/c2.json")"
try alice ws1 cad "other.prt"
[ "$status" = 1 ] || fail "other data shared a DUP_GROUP=UHDV seat"
try bob ws1 cad "part.prt"
[ "$status" = 1 ] || fail "bob shared alice's DUP_GROUP=UHDV seat"

note "bad vendor data is refused by liblmc, and nothing changes"
try dave ws4 solver "$(printf '%065d' 0)"
[ "$status" = 2 ] || fail "65 characters of vendor data were not refused: status $status"
expect_grep 'LMC_EINVAL' "$TMP/err"
try dave ws4 solver "$(printf 'job\t7')"
[ "$status" = 2 ] || fail "a tab in vendor data was not refused: status $status"
expect_grep 'at most 64 printable' "$TMP/err"

note "and by lmd itself, on the wire, with the connection"
python3 - "$port" <<'PY' || fail "lmd accepted bad vendor data on the wire"
import os, sys
sys.path.insert(0, os.path.join(os.environ["TESTS_SRCDIR"], "integration"))
from wirelib import *
for bad in (b"x" * 65, b"job\n7"):
    c = Client(int(sys.argv[1]))
    c.hello()
    c.open_session()
    reply = c.call(1, CHECKOUT, field_bytes(1, b"solver") + field_bytes(2, b"1.0") +
                   field_varint(3, 1) + field_bytes(6, bad))
    msg = expect_error(reply, LMC_EPROTO)
    assert "checkout.vendor_data" in msg, msg
    expect_closed(c)
PY
[ "$(in_use solver)" = 1 ] || fail "bad vendor data moved a seat"
grep -q 'checkout.vendor_data' "$TMP/lmd.log" || fail "lmd's log does not name the bad field"

note "when both holders of the data go, the seat returns"
kill -TERM "$pid_a"
wait "$pid_a" 2>/dev/null
[ "$(in_use solver)" = 1 ] || fail "the shared seat was returned while bob still holds it"
kill -TERM "$pid_b"
wait "$pid_b" 2>/dev/null
[ "$(in_use solver)" = 0 ] || fail "the seat was not returned by the last sharer"
