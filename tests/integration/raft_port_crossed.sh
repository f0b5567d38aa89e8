#!/bin/sh
# Two triads with different licenses, each with a mistyped replication port:
# triad A lists triad B's first server as its third, and triad B lists
# triad A's first server as its third.  Each triad runs its first two
# servers, a quorum.  The raft port knows its cluster's identity (derived
# from the license), so each leader's connection to the foreign server is
# refused with a log line saying it belongs to another cluster, instead of
# one triad's log being replicated into the other.  Both triads serve their
# own seats, and neither sees the other's.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

make_vendor
for n in 1 2 3 4 5 6; do
	eval "code$n=\$(make_server_machine $n)"
	eval "port$n=\$(free_port)"
	eval "peer$n=\$(free_port)"
done
# Triad A is servers 1 to 3, triad B servers 4 to 6; 3 and 6 never run.
# Their client ports are 1 and 2, where nothing listens: a free port picked
# now could be taken by another test's lmd later, and lmstat would list
# that server as a member of these triads.
port3=1
port6=2
# Each third replication port is the other triad's first server's.
PEERS_A="$peer1,$peer2,$peer4"
PEERS_B="$peer4,$peer5,$peer1"
SA="$port1@127.0.0.1,$port2@127.0.0.1,$port3@127.0.0.1"
SB="$port4@127.0.0.1,$port5@127.0.0.1,$port6@127.0.0.1"
license()
{
	cat >"$TMP/$1.tmpl" <<LIC
SERVER 127.0.0.1 $2 $3
SERVER 127.0.0.1 $4 $5
SERVER 127.0.0.1 $6 $7
VENDOR acme
FEATURE stats acme 29.0 permanent $8
LIC
	sign_license "$TMP/$1.tmpl" "$TMP/$1.lic"
}
license A "$code1" "$port1" "$code2" "$port2" "$code3" "$port3" 2
license B "$code4" "$port4" "$code5" "$port5" "$code6" "$port6" 5

# start NAME MACHINE LICENSE NODE PEERS CLIENT_PORT
start()
{
	LM_HOSTID_ROOT="$TMP/m$2" start_lmd "$1" -c "$TMP/$3.lic" --pubkey "$TMP/vendor.pub" \
		--data "$TMP/d$1" --listen 127.0.0.1 --node "$4" --peer-port "$5" \
		--heartbeat 500 --session-timeout 10000
	wait_port "$6"
}
start A1 1 A 1 "$PEERS_A" "$port1"
start A2 2 A 2 "$PEERS_A" "$port2"
start B1 4 B 1 "$PEERS_B" "$port4"
start B2 5 B 2 "$PEERS_B" "$port5"
S=$SA wait_leader >/dev/null
S=$SB wait_leader >/dev/null
note "both triads elected a leader"

note "each refuses the other's leader"
wait_log "$TMP/B1.log" "replication peer 127\.0\.0\.1:[0-9]+ refused: it belongs to another cluster \(raft id [12] at 127\.0\.0\.1:($peer1|$peer2)\)"
wait_log "$TMP/A1.log" "replication peer 127\.0\.0\.1:[0-9]+ refused: it belongs to another cluster \(raft id [12] at 127\.0\.0\.1:($peer4|$peer5)\)"

note "each triad serves its own seats"
co()
{
	"$LMUTIL" checkout -c "$1" --pubkey "$TMP/vendor.pub" --json --count "$2" --hold 0 stats
}
expect_status 0 co "$SB" 4
expect_grep '"granted"' "$TMP/out"
expect_status 1 co "$SA" 3
expect_grep 'LMC_E' "$TMP/out"
expect_status 0 co "$SA" 2
expect_grep '"granted"' "$TMP/out"
issued()
{
	"$LMUTIL" lmstat -c "$1" -a --json 2>/dev/null | python3 -c '
import json, sys
print([f["issued"] for f in json.load(sys.stdin)["features"] if f["name"] == "stats"])'
}
[ "$(issued "$SA")" = "[2]" ] || fail "triad A issues $(issued "$SA") seats of stats"
[ "$(issued "$SB")" = "[5]" ] || fail "triad B issues $(issued "$SB") seats of stats"
S=$SA wait_converged
S=$SB wait_converged

for n in A1 A2 B1 B2; do
	kill -0 "$(cat "$TMP/$n.pid")" || fail "$n died: $(cat "$TMP/$n.log")"
done
grep -q AddressSanitizer "$TMP"/*.log && fail "ASan: $(cat "$TMP"/*.log)"
exit 0
