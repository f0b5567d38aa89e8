#!/bin/sh
# The cluster id (issue 8): a cluster names itself once, at its first start,
# and a server or a client of another history is told apart from it.
#
# Triad A starts: its first leader makes a random cluster id, every server
# applies it, keeps it in DATA/cluster-id and shows it in lmstat.  A client
# holds a seat.  Then A's servers are stopped and the same three servers
# start again on empty data directories, except that server 3 comes back
# with A's directory (a restored backup): that is cluster B, same license,
# same ports.  B names itself anew; server 3 still holds A's log, and the
# replication ports of 1 and 2 refuse it (before, it took part in B's
# elections with A's log: two histories in one cluster).  The client that
# held a seat of A does not resume its session in B, which never knew it:
# it reports the seat lost, saying why, and checks it out again in B.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 1
# A long lease: the client must still believe in its seat when B answers.
TRIAD_ARGS="--heartbeat 300 --session-timeout 60000"

# lmstat's cluster_id of each server that answers, one a line ("-" for one
# that does not say).
cluster_ids()
{
	triad_stat | python3 -c '
import json, sys
for s in json.load(sys.stdin)["servers"]:
    if s["role"] != "down":
        print(s.get("cluster_id", "-"))
'
}

note "cluster A starts and names itself"
for n in 1 2 3; do
	triad_start $n
done
wait_leader >/dev/null
wait_converged
a=$(cluster_ids | sort -u)
[ "$(printf '%s\n' "$a" | wc -l)" = 1 ] || fail "the servers of A disagree: $a"
printf '%s\n' "$a" | grep -Eqx '[0-9a-f]{32}' || fail "no cluster id in lmstat: $(triad_stat)"
for n in 1 2 3; do
	[ "$(cat "$TMP/d$n/cluster-id")" = "$a" ] ||
		fail "d$n/cluster-id holds '$(cat "$TMP/d$n/cluster-id" 2>&1)', not $a"
	expect_grep " cluster id $a" "$TMP/lmd$n.log"
done
note "A is cluster $a"

(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 120 stats \
	>"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
at_exit "kill -9 $holder 2>/dev/null"
wait_log "$TMP/holder.json" '"granted"'
wait_in_use 1

note "A stops; B starts on empty directories, server 3 on A's"
for n in 1 2 3; do
	triad_kill $n TERM
	mv "$TMP/d$n" "$TMP/a$n"
	mv "$TMP/lmd$n.log" "$TMP/a-lmd$n.log"
done
# 1 and 2 first: a server with no raft state asks its peers whether it may
# bootstrap, and server 3, holding A's log, would tell them truthfully that
# it replicated with them before (bootstrap.h).
triad_start 1
triad_start 2
wait_log "$TMP/lmd1.log" " cluster id [0-9a-f]{32}"
wait_log "$TMP/lmd2.log" " cluster id [0-9a-f]{32}"
mv "$TMP/a3" "$TMP/d3"
triad_start 3
b=$(cat "$TMP/d1/cluster-id")
[ "$b" != "$a" ] || fail "B took A's cluster id $a"
[ "$(cat "$TMP/d2/cluster-id")" = "$b" ] || fail "servers 1 and 2 of B disagree"
note "B is cluster $b"

note "server 3, with A's data, is refused on both sides"
refusal="refused: it holds the data of another cluster \(raft id [0-9]+ at [0-9.:]+, cluster id"
wait_log "$TMP/lmd3.log" "$refusal $b; this one is $a\)"
_end=$(($(date +%s) + 20))
until grep -Eq "$refusal $a; this one is $b\)" "$TMP/lmd1.log" "$TMP/lmd2.log"; do
	[ "$(date +%s)" -lt "$_end" ] || fail "servers 1 and 2 did not refuse server 3: $(cat "$TMP/lmd1.log" "$TMP/lmd2.log")"
	sleep 0.1
done
expect_grep "start it with --join on an empty --data and run \`lmutil lmreplace\`" "$TMP/lmd3.log"
# Server 3 never joins B: it applies none of B's entries, and it leads
# nothing.
stat3=$("$LMUTIL" lmstat -c "$port3@127.0.0.1" --json 2>/dev/null)
printf '%s' "$stat3" | grep -q '"role":"leader"' && fail "server 3 leads: $stat3"
printf '%s' "$stat3" | grep -q "\"cluster_id\":\"$a\"" || fail "server 3 lost A's id: $stat3"
[ "$(cat "$TMP/d3/cluster-id")" = "$a" ] || fail "server 3's kept id changed"

note "the holder's session was A's: reported lost, then checked out again in B"
wait_log "$TMP/holder.json" '"regained"' 30
expect_grep '"lost".*another cluster' "$TMP/holder.json"
lost_line=$(grep -n '"lost"' "$TMP/holder.json" | head -n 1 | cut -d: -f1)
regained_line=$(grep -n '"regained"' "$TMP/holder.json" | head -n 1 | cut -d: -f1)
[ "$lost_line" -lt "$regained_line" ] || fail "regained before lost: $(cat "$TMP/holder.json")"
wait_in_use 1

kill -TERM "$holder"
wait "$holder" || fail "the holder failed: $(cat "$TMP/holder.err")"
wait_in_use 0
for n in 1 2 3; do
	kill -0 "$(triad_pid $n)" || fail "server $n died: $(cat "$TMP/lmd$n.log")"
done
grep -q AddressSanitizer "$TMP"/lmd*.log && fail "ASan: $(cat "$TMP"/lmd*.log)"
exit 0
