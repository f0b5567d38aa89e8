#!/bin/sh
# PACKAGE components through a real lmd and real clients: components of a
# package take seats from the package's enabling FEATURE line; without
# OPTIONS=SUITE each component checkout takes a seat of its own, with it
# one user holding several components uses one seat, and the last one
# checked in frees it.  liblmc accepts the grant only with the signed
# PACKAGE line listing the component; a component's version rule holds;
# lmstat lists each component under its own name with its package.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server 'PACKAGE office acme 1.0 COMPONENTS="write calc:2.0"' \
	"FEATURE office acme 1.0 permanent 2" \
	'PACKAGE studio acme 1.0 COMPONENTS="paint model render" OPTIONS=SUITE' \
	"FEATURE studio acme 1.0 permanent 2"
single_lmd lmd

# hold NAME USER HOST FEATURE: a client holding one seat in the background.
hold()
{
	hold_as "$1" "$2" "$3" "$4"
	grep -q '"event":"granted"' "$TMP/$1.json" || fail "$2's checkout of $4 was denied: $(cat "$TMP/$1.json")"
}
# denied USER HOST FEATURE [VERSION]: a checkout that must be refused.
denied() { denied_as "$1" "$2" "$3" --version "${4:-1.0}"; }

note "without SUITE each component takes a seat of the package"
hold w1 alice ws1 write
hold c1 alice ws1 calc
[ "$(in_use office)" = 2 ] || fail "two components took $(in_use office) seats of office"
denied bob ws2 write
expect_grep 'all 2 seats of office 1.0 in use' "$TMP/denied.json"

note "the component's version rule: calc is 2.0, write the package's 1.0"
kill -TERM "$pid_c1"
wait "$pid_c1" 2>/dev/null
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json calc --version 2.0 --hold 0
expect_grep '"event":"granted"' "$TMP/out"
denied bob ws2 calc 2.1
denied bob ws2 write 1.1
expect_grep 'package office gives it version 1.0' "$TMP/denied.json"

note "with SUITE alice's three components use one seat, bob takes the other"
hold p1 alice ws1 paint
hold m1 alice ws1 model
hold r1 alice ws1 render
[ "$(in_use studio)" = 1 ] || fail "alice's suite took $(in_use studio) seats"
hold p2 bob ws2 paint
[ "$(in_use studio)" = 2 ] || fail "bob's suite did not take a seat of its own"
denied carol ws3 model

note "lmstat lists the components under their own names, with the package"
expect_status 0 "$LMUTIL" lmstat -c "$S" -a
cp "$TMP/out" "$TMP/lmstat.txt"
python3 - "$TMP/lmstat.txt" <<'PY' || fail "lmstat does not show the components: $(cat "$TMP/lmstat.txt")"
import re, sys
text = open(sys.argv[1]).read()
assert "Users of studio:  (Total of 2 licenses issued;  Total of 2 licenses in use)" in text, text
for comp, used in (("paint", 2), ("model", 1), ("render", 1)):
    line = "Users of %s:  (Total of 2 licenses issued;  Total of %d license%s in use)\n\n  (from package studio)" % (comp, used, "s" if used > 1 else "")
    assert line in text, (comp, text)
assert re.search(r"^    bob ws2 :0 \(v1\.0\)", text.split("Users of paint:")[1], re.M), text
PY
"$LMUTIL" lmstat -c "$S" -f model --json >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat --json does not name the package: $(cat "$TMP/stat.json")"
import json, sys
f = json.load(open(sys.argv[1]))["features"]
assert [(x["name"], x["package"], x["in_use"]) for x in f] == [("model", "studio", 1)], f
PY

note "alice's suite seat stays until her last component goes"
kill -TERM "$pid_p1" "$pid_m1"
wait "$pid_p1" "$pid_m1" 2>/dev/null
[ "$(in_use studio)" = 2 ] || fail "alice's suite seat went while she holds render"
denied carol ws3 model
kill -TERM "$pid_r1"
wait "$pid_r1" 2>/dev/null
[ "$(in_use studio)" = 1 ] || fail "alice's last checkin did not free the suite seat"
hold m3 carol ws3 model
