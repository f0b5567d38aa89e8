#!/bin/sh
# The replication (raft) port of a serving triad under hostile input.  While
# clients check seats out and in, the leader's raft port receives libraft's
# stock handshake with an unterminated address (which overflowed a heap
# buffer inside libraft 0.15) and with a 200 MiB address (which lmd buffered),
# random garbage, a peer dripping one byte at a time, a silent peer, a flood
# of connections, and lmd handshakes that are well formed but wrong: another
# cluster's identity, raft id 0, an oversized or unprintable address.  Each is
# refused with a log line naming why; the server stays up without an ASan
# report, its memory does not grow with what it was sent, and the triad
# keeps granting and checking in seats with the three servers in agreement.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 2
TRIAD_ARGS="--heartbeat 500 --session-timeout 10000"
for n in 1 2 3; do
	triad_start $n
done
leader=$(wait_leader)
eval "target=\$peer$leader"
log="$TMP/lmd$leader.log"
note "server $leader leads; its replication port $target is the target"

(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --loop 0 --hold 0.1 \
	--timeout 60000 stats >"$TMP/client.json" 2>"$TMP/client.err") &
client=$!
at_exit "kill -9 $client 2>/dev/null"
wait_log "$TMP/client.json" '"granted"'

peer()
{
	python3 "$TESTS_SRCDIR/integration/raft_peer.py" "$target" "$@" ||
		fail "raft_peer.py $*: $(cat "$log")"
}
rss_kb()
{
	awk '/^VmRSS:/ { print $2 }' "/proc/$(triad_pid "$leader")/status"
}
attack()
{
	_at_why=$1
	shift
	# Each scenario is known to be refused for its own reason: a new
	# refusal line, past the ones of the scenarios before.
	_at_seen=$(wc -l <"$log")
	peer "$@"
	wait_log_after "$_at_seen" "$log" "replication peer [0-9.:]+ refused: .*$_at_why"
	kill -0 "$(triad_pid "$leader")" || fail "lmd died after $*: $(cat "$log")"
}

rss_before=$(rss_kb)
# Consecutive scenarios are refused for different reasons: a refusal that
# repeats the line before is counted rather than logged.
note "libraft's stock handshake, 8-byte address without a NUL"
attack "libraft's stock handshake" stock-nonul
note "random garbage"
attack "not an lmd replication handshake" garbage
note "libraft's stock handshake announcing a 200 MiB address"
attack "libraft's stock handshake" stock-huge
note "a peer dripping its handshake one byte at a time"
attack "no complete handshake within" drip
note "another cluster's handshake"
attack "it belongs to another cluster" foreign
note "a silent peer"
attack "no complete handshake within" silent
note "raft id 0, a 200-byte address, a control byte in the address"
attack "raft id 0" zero-id
attack "address length 200" long-address
attack "address is not printable" bad-address
note "a flood of silent connections"
peer flood 40
grep -q "refused: too many handshakes in progress" "$log" ||
	fail "the flood was not refused: $(cat "$log")"
# The flood's repeated refusals were counted, and the count comes with the
# next line.
attack "not an lmd replication handshake" garbage
expect_grep "replication peers were refused [0-9]+ more times since the line before" "$log"
rss_after=$(rss_kb)
note "leader RSS: ${rss_before} kB before the attacks, ${rss_after} kB after"
[ "$rss_after" -lt 204800 ] || fail "the leader's RSS grew to $rss_after kB"

note "the triad still grants and checks in seats"
grep -q AddressSanitizer "$TMP"/lmd*.log && fail "ASan: $(cat "$TMP"/lmd*.log)"
granted=$(grep -c '"granted"' "$TMP/client.json")
n=0
until [ "$(grep -c '"granted"' "$TMP/client.json")" -gt $((granted + 3)) ]; do
	n=$((n + 1))
	[ $n -lt 200 ] || fail "no more seats granted: $(tail -n 5 "$TMP/client.json")"
	sleep 0.1
done
kill -TERM "$client"
wait "$client" || fail "the client failed: $(cat "$TMP/client.err")"
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 0 stats
expect_grep '"granted"' "$TMP/out"
wait_in_use 0
wait_converged
[ "$(triad_stat | _triad_py leader)" = "$leader" ] ||
	note "the leadership moved during the attacks (allowed)"
for n in 1 2 3; do
	kill -0 "$(triad_pid $n)" || fail "server $n died: $(cat "$TMP/lmd$n.log")"
done
grep -q AddressSanitizer "$TMP"/lmd*.log && fail "ASan: $(cat "$TMP"/lmd*.log)"
exit 0
