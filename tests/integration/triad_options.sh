#!/bin/sh
# The options file on a triad: the policy is replicated with the license
# set, so every server enforces the same one.  An lmreread changes it; then
# the leader dies and the new leader enforces the reread policy, not the
# file it started with; a server that was down during the reread learns
# the policy from the log.  The reread policy's TIMEOUT takes back the seat
# of an idle client, and a leader elected while it idles does so too: the
# idle time travels in the client's heartbeats.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 3
TRIAD_ARGS="--heartbeat 300 --session-timeout 6000 --timeout-min 1"
printf 'EXCLUDE stats PROJECT blocked\n' >"$TMP/acme.opt"
# Each server reads its own copy (as on three machines).
for n in 1 2 3; do
	mkdir -p "$TMP/o$n"
	cp "$TMP/acme.opt" "$TMP/o$n/acme.opt"
	triad_start $n --options "$TMP/o$n/acme.opt"
done
wait_converged

co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json stats --version 29.0 --hold 0; }
co_as() { LM_PROJECT=$1 co; }
denied_by()
{
	grep -q 'LMC_EDENIED' "$TMP/out" || fail "$1: not denied by policy: $(cat "$TMP/out")"
	grep -q "$2" "$TMP/out" || fail "$1: the denial does not name '$2': $(cat "$TMP/out")"
}

note "the first policy, on the whole triad"
run co_as blocked
denied_by "start" 'EXCLUDE stats PROJECT blocked (acme.opt line 1)'
expect_status 0 co_as vip

note "lmreread with server 3 down: a new policy"
triad_kill 3
printf '# blocked may again, other may not\nEXCLUDE stats PROJECT other\nTIMEOUT stats 3\n' \
	>"$TMP/o1/acme.opt"
cp "$TMP/o1/acme.opt" "$TMP/o2/acme.opt"
expect_status 0 "$LMUTIL" lmreread -c "$port1@127.0.0.1,$port2@127.0.0.1"
wait_converged
expect_status 0 co_as blocked
run co_as other
denied_by "after the reread" 'EXCLUDE stats PROJECT other (acme.opt line 2)'

note "server 3 comes back with its old file; the leader dies; the new policy stays"
triad_start 3 --options "$TMP/o3/acme.opt"
wait_converged
triad_stat >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat does not say that server 3's options file differs"
import json, sys
servers = json.load(open(sys.argv[1]))["servers"]
assert [s.get("options_differ") for s in servers] == [False, False, True], servers
assert len({s["options"]["sha256"] for s in servers}) == 1, servers
PY
first=$(wait_leader)
triad_kill "$first"
leader=$(wait_leader)
note "server $leader leads"
run co_as other
denied_by "after the failover" 'EXCLUDE stats PROJECT other (acme.opt line 2)'
expect_status 0 co_as vip
expect_status 0 co_as blocked

note "an idle holder across a failover: the new leader takes its seat back"
triad_start "$first" --options "$TMP/o$first/acme.opt"
wait_converged
"$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json stats --version 29.0 \
	--idle --hold 120 >"$TMP/idle.out" 2>&1 &
echo $! >"$TMP/idle.pid"
at_exit "kill $! 2>/dev/null"
wait_log "$TMP/idle.out" '"event":"granted"'
triad_kill "$leader"
leader=$(wait_leader)
note "server $leader leads"
wait_log "$TMP/idle.out" '"event":"lost"' 60
expect_grep 'LMC_EIDLE' "$TMP/idle.out"
triad_stat >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat still counts the idle seat"
import json, sys
features = json.load(open(sys.argv[1]))["features"]
assert sum(f["in_use"] for f in features if f["name"] == "stats") == 0, features
PY
grep -h ' timeout .*returned 1 seats of stats: idle' "$TMP"/lmd*.log >/dev/null ||
	fail "no server logged the idle reclaim"
kill "$(cat "$TMP/idle.pid")"
