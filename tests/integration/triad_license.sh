#!/bin/sh
# One license set for the whole triad.  The set is replicated state: a
# server whose file differs from it (it was down during an lmreread) serves
# the cluster's set even when it becomes the leader, and says so in its log
# and in lmstat, instead of silently changing the seat counts; lmreread
# makes the copies agree again.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 2
TRIAD_ARGS="--heartbeat 300 --session-timeout 6000"
for n in 1 2 3; do
	cp "$TMP/triad.lic" "$TMP/lic$n"
	eval "license$n=\$TMP/lic$n"
done
for n in 1 2 3; do
	triad_start $n
done
wait_converged
issued()
{
	triad_stat | python3 -c '
import json, sys
st = json.load(sys.stdin)
print([f["issued"] for f in st["features"] if f["name"] == "stats"][0])'
}
[ "$(issued)" = 2 ] || fail "the triad serves $(issued) seats, expected 2"

note "server 3 is down while the others reread a 5-seat license"
triad_kill 3
sed 's/permanent 2$/permanent 5/' "$TMP/triad.tmpl" >"$TMP/five.tmpl"
sign_license "$TMP/five.tmpl" "$TMP/five.lic"
cp "$TMP/five.lic" "$TMP/lic1"
cp "$TMP/five.lic" "$TMP/lic2"
expect_status 0 "$LMUTIL" lmreread -c "$port1@127.0.0.1,$port2@127.0.0.1"
wait_converged
[ "$(issued)" = 5 ] || fail "after the reread the triad serves $(issued) seats, expected 5"

note "server 3 comes back with its old 2-seat file, and leads"
triad_start 3
wait_converged
# To make server 3 the leader without a lottery, the triad restarts with 3
# campaigning within 300-600 ms and the others not before 1900 ms (their
# elections stay under a third of the 6000 ms session timeout): 3 is the
# first candidate each time and the others vote for it.
for n in 1 2 3; do
	triad_kill $n
done
triad_start 3 --election-timeout 300
triad_start 1 --election-timeout 1900
triad_start 2 --election-timeout 1900
[ "$(wait_leader)" = 3 ] || fail "server $(wait_leader) leads, not server 3"
wait_converged
[ "$(issued)" = 5 ] || fail "with server 3 leading the triad serves $(issued) seats, expected 5"
expect_grep 'differs from the license set the cluster serves' "$TMP/lmd3.log"
"$LMUTIL" lmstat -c "$S" --lmd >"$TMP/lmstat.txt"
expect_grep "license differs from the cluster's: run lmutil lmreread" "$TMP/lmstat.txt"
triad_stat >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat --json does not say which server's file differs"
import json, sys
servers = json.load(open(sys.argv[1]))["servers"]
assert [s.get("license_differs") for s in servers] == [False, False, True], servers
PY

note "lmreread with the new file on server 3 too: every copy agrees"
cp "$TMP/five.lic" "$TMP/lic3"
expect_status 0 "$LMUTIL" lmreread -c "$S"
wait_converged
"$LMUTIL" lmstat -c "$S" --lmd >"$TMP/lmstat.txt"
grep -q "license differs" "$TMP/lmstat.txt" && fail "a copy still differs after the reread: $(cat "$TMP/lmstat.txt")"
[ "$(issued)" = 5 ] || fail "the triad serves $(issued) seats, expected 5"
