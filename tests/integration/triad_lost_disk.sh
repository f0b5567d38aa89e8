#!/bin/sh
# A server of a triad that lost its data directory must not bootstrap the
# cluster again (issue 8, scenario 1).
#
# First a late first start: servers 1 and 2 bootstrap and serve, server 3
# starts 3 s later and is taken in (a first start is not mistaken for a
# loss).  Then, with one seat: server 3 is down while client A is granted it
# (committed on the leader L and the follower F); L and F are killed, F's
# data directory is deleted, 3 comes back with its stale log and F is
# started with its usual command.  Before, F bootstrapped under its old raft
# id with an empty log, 3 and F elected a leader that had never heard of the
# grant, and a second client got the seat.  Now F waits (3 joined late and
# only ever talked to L, so it cannot tell), and exits saying it lost its
# data as soon as L, which replicated with it, answers; L and 3 serve the
# seat still held, and the documented recovery (--join, lmreplace) brings F
# back.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 1
TRIAD_ARGS="--heartbeat 300 --session-timeout 60000"
co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }

note "a late first start: servers 1 and 2 bootstrap and serve, 3 comes 3 s later"
triad_start 1
triad_start 2
wait_leader >/dev/null
expect_status 0 co stats --hold 0 --timeout 30000
sleep 3
triad_start 3
wait_converged
expect_grep ' first start of raft id 3: either peer never met it' "$TMP/lmd3.log"
L=$(wait_leader)
[ "$L" != 3 ] || fail "server 3 leads"
F=$((3 - L))
note "L = server $L, F = server $F"

note "server 3 goes down, client A takes the only seat"
triad_kill 3
(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 120 stats \
	>"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
at_exit "kill -9 $holder 2>/dev/null"
wait_log "$TMP/holder.json" '"granted"'
[ "$(in_use)" = 1 ] || fail "in_use is $(in_use) after A's grant"

note "L and F die, F loses its data; 3 comes back with its stale log"
triad_kill "$L"
triad_kill "$F"
rm -rf "$TMP/d$F"
triad_start 3

note "server $F started with its usual command does not bootstrap"
eval "fport=\$port$F"
# shellcheck disable=SC2086 # TRIAD_ARGS holds several options
LM_HOSTID_ROOT="$TMP/m$F" timeout 60 "$LMD" -c "$TMP/triad.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/d$F" --listen 127.0.0.1 --node "$F" --peer-port "$PEERS" $TRIAD_ARGS \
	>"$TMP/lost.log" 2>&1 &
lost=$!
at_exit "kill -9 $lost 2>/dev/null"
if grep -qx "$F" "$TMP/d3/raft-seen" 2>/dev/null; then
	# An election made 3 and F talk: 3 alone knows F ran before.
	note "(server 3 met F during an election)"
	wait_log "$TMP/lost.log" 'lost its data'
else
	wait_log "$TMP/lost.log" 'waiting for another server of the triad'
	# Meanwhile it answers lmstat.
	"$LMUTIL" lmstat -c "$fport@127.0.0.1" --lmd >"$TMP/lost-stat.txt" 2>&1 ||
		fail "lmstat of the waiting server: $(cat "$TMP/lost-stat.txt")"
	grep -q "$fport@127.0.0.1: .*, up " "$TMP/lost-stat.txt" ||
		fail "lmstat of the waiting server: $(cat "$TMP/lost-stat.txt")"
	triad_start "$L"
fi
status=0
wait "$lost" || status=$?
[ "$status" = 1 ] || fail "server $F exited with $status, not 1: $(cat "$TMP/lost.log")"
expect_grep "has no raft state, but the server of SERVER line [0-9] has exchanged replication traffic with this server \(raft id $F\) before: this server lost its data\. Start it with --join on an empty --data and run \`lmutil lmreplace --node $F\`" "$TMP/lost.log"
grep -q 'first start of raft id' "$TMP/lost.log" && fail "server $F started raft: $(cat "$TMP/lost.log")"
[ -e "$TMP/lmd$L.pid" ] && kill -0 "$(triad_pid "$L")" 2>/dev/null || triad_start "$L"

note "L and 3 serve, and A's seat is still taken: client B is denied"
wait_leader >/dev/null
wait_in_use 1
expect_status 1 co stats --hold 0
expect_grep '"denied".*LMC_ENOSEATS' "$TMP/out"
[ "$(in_use)" = 1 ] || fail "in_use is $(in_use) after B was denied"

note "the documented recovery: --join on the same (raft-less) directory, then lmreplace"
triad_start "$F" --join
wait_log "$TMP/lmd$F.log" ' join raft id [0-9]+ waits to replace'
expect_status 0 "$LMUTIL" lmreplace -c "$S" --node "$F"
expect_grep 'is now served by raft id' "$TMP/out"
wait_converged
new_id=$(triad_stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["servers"][int(sys.argv[1]) - 1]["raft_id"])' "$F")
[ "$new_id" != "$F" ] || fail "server $F rejoined under its lost raft id"
[ "$(in_use)" = 1 ] || fail "in_use is $(in_use) after the recovery"

kill -TERM "$holder"
wait "$holder" || fail "holder A failed: $(cat "$TMP/holder.err")"
wait_in_use 0
exit 0
