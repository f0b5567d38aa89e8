#!/bin/sh
# The last two suite keywords through a real lmd and real clients:
# SUITE_DUP_GROUP on the enabling line says who shares one suite seat (U:
# a user on two hosts holds one; NONE: every component checkout takes its
# own), and OPTIONS=SUITE_RESERVED shows each suite seat as a reservation
# of the components its holder does not use (lmstat's FlexLM layout, --lmd
# and JSON) and says so to a user refused for want of a suite seat.  Lines
# with a wrong value, or a keyword on the wrong line, are left out with
# their line number and the rest is served.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server \
	'PACKAGE studio acme 1.0 COMPONENTS="paint model render" OPTIONS=SUITE_RESERVED' \
	"FEATURE studio acme 1.0 permanent 2 SUITE_DUP_GROUP=U" \
	'PACKAGE office acme 1.0 COMPONENTS="write calc" OPTIONS=SUITE' \
	"FEATURE office acme 1.0 permanent 1 DUP_GROUP=UHD SUITE_DUP_GROUP=NONE"
{
	echo 'FEATURE bad1 acme 1.0 permanent 2 SUITE_DUP_GROUP=X SIGN=00'
	echo 'FEATURE bad2 acme 1.0 permanent 2 OPTIONS=SUITE_RESERVED SIGN=00'
	echo 'PACKAGE bad3 acme 1.0 COMPONENTS="z" OPTIONS=SUITE_RESERVED SUITE_DUP_GROUP=U SIGN=00'
	echo 'PACKAGE bad4 acme 1.0 COMPONENTS="y" OPTIONS=SUITE_RESERVE SIGN=00'
} >>"$TMP/server.lic"
line_of() { grep -n "^[A-Z]* $1 " "$TMP/server.lic" | cut -d: -f1; }

note "lmd leaves out the bad lines, saying why with their line numbers"
single_lmd lmd
log=$TMP/lmd.log
expect_grep "server.lic:$(line_of bad1): FEATURE bad1 left out, not served: SUITE_DUP_GROUP='X' is not a duplicate group" "$log"
expect_grep "server.lic:$(line_of bad2): FEATURE bad2 left out, not served: misplaced keyword 'OPTIONS' on FEATURE line" "$log"
expect_grep "server.lic:$(line_of bad3): PACKAGE bad3 left out, not served: misplaced keyword 'SUITE_DUP_GROUP' on PACKAGE line" "$log"
expect_grep "server.lic:$(line_of bad4): PACKAGE bad4 left out, not served: OPTIONS='SUITE_RESERVE' is unknown" "$log"
expect_grep "serving 4 license lines" "$log"

# hold NAME USER HOST FEATURE: a client holding one seat in the background.
hold()
{
	hold_as "$1" "$2" "$3" "$4"
	grep -q '"event":"granted"' "$TMP/$1.json" || fail "$2's checkout of $4 was denied: $(cat "$TMP/$1.json")"
}

note "SUITE_DUP_GROUP=U: alice on two hosts holds one suite seat"
hold p1 alice ws1 paint
hold m1 alice ws2 model
[ "$(in_use studio)" = 1 ] || fail "alice's two hosts took $(in_use studio) suite seats"
hold r2 bob ws3 render
[ "$(in_use studio)" = 2 ] || fail "bob's suite did not take a seat of its own"

note "SUITE_RESERVED: every suite seat is held, carol is told why"
denied_as carol ws4 paint
expect_grep 'all 2 seats of studio 1.0 in use; package studio is SUITE_RESERVED' "$TMP/denied.json"

note "lmstat lists each holder's reservation of the components they do not use"
expect_status 0 "$LMUTIL" lmstat -c "$S" -a
cp "$TMP/out" "$TMP/lmstat.txt"
python3 - "$TMP/lmstat.txt" <<'PY' || fail "lmstat does not show the reservations: $(cat "$TMP/lmstat.txt")"
import re, sys
text = open(sys.argv[1]).read()
def section(name):
    return text.split("Users of %s:" % name)[1].split("Users of ")[0]
# Reservations count among the licenses in use, as FlexLM counts them.
for comp, holder, reserved_for in (("paint", "alice", "bob"), ("model", "alice", "bob"),
                                   ("render", "bob", "alice")):
    s = section(comp)
    assert s.startswith("  (Total of 2 licenses issued;  Total of 2 licenses in use)\n\n  (from package studio)"), (comp, s)
    assert re.search(r"^    %s ws\d :0 \(v1\.0\)" % holder, s, re.M), (comp, s)
    assert re.search(r"^        1 RESERVATION for USER %s \(\S+\)$" % reserved_for, s, re.M), (comp, s)
    assert s.count("RESERVATION") == 1, (comp, s)
PY
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd
expect_grep 'render 1.0: 1 of 2 seats in use \(from package studio\), 1 reserved and idle' "$TMP/out"
expect_grep '^    alice ws[12] :0: reserved by the suite seat held since .*SUITE_RESERVED\)' "$TMP/out"
"$LMUTIL" lmstat -c "$S" -a --json >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat --json does not show the reservation: $(cat "$TMP/stat.json")"
import json, sys
f = [x for x in json.load(open(sys.argv[1]))["features"] if x["name"] == "render"]
assert [(x["package"], x["in_use"], x["reserved"]) for x in f] == [("studio", 1, 1)], f
holders = [(h["user"], h["suite_reserved"]) for h in f[0]["holders"]]
assert holders == [("bob", False), ("alice", True)], holders
PY

note "the reservation goes with alice's suite seat"
kill -TERM "$pid_p1" "$pid_m1"
wait "$pid_p1" "$pid_m1" 2>/dev/null
[ "$(in_use studio)" = 1 ] || fail "alice's last checkin did not free her suite seat"
"$LMUTIL" lmstat -c "$S" -a --json >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "alice's reservation outlived her seat: $(cat "$TMP/stat.json")"
import json, sys
f = [x for x in json.load(open(sys.argv[1]))["features"] if x["name"] == "render"][0]
assert f["reserved"] == 0 and [h["user"] for h in f["holders"]] == ["bob"], f
PY
hold p4 carol ws4 paint

note "SUITE_DUP_GROUP=NONE: each component checkout takes its own seat"
hold w1 alice ws1 write
denied_as alice ws1 calc
expect_grep 'all 1 seats of office 1.0 in use' "$TMP/denied.json"
