#!/bin/sh
# Three redundant servers losing and regaining their quorum.  A server left
# alone refuses new checkouts with LMC_ENOQUORUM and says why; an
# application holding a seat keeps it through a quorum loss shorter than its
# lease (the session timeout less two election timeouts and a tenth: 16 s
# here), without being told anything; past its lease it is told the seat is
# lost, and regained once a second server is back; when all three servers
# are killed and restarted the seat survives too.  Service resumes by itself
# each time.  --reclaim-after is long so that the linger after a dead
# server's connection closed does not cut the lease short.  The lease is
# long because the first loss below lasts the detection, an lmstat, 4 s and
# a restart with an election (seen taking 4 s under AddressSanitizer): with
# a 10.6 s lease, CI saw the holder rightly told it had lost its seat.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 2
TRIAD_ARGS="--heartbeat 300 --session-timeout 20000 --reclaim-after 18000"
for n in 1 2 3; do
	triad_start $n
done
wait_leader >/dev/null
co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }

(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 120 stats \
	>"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
at_exit "kill -9 $holder 2>/dev/null"
wait_log "$TMP/holder.json" '"granted"'

# Leaves server $1 alone: the two others are killed.
leave_alone()
{
	for n in 1 2 3; do
		[ "$n" = "$1" ] || triad_kill "$n"
	done
}

note "quorum lost for about 5 s (within the holder's 16 s lease)"
leader=$(wait_leader)
alone=$((leader % 3 + 1))
other=$((alone % 3 + 1))
leave_alone "$alone"
eval "alone_port=\$port$alone"
# The lone server forgets the dead leader within an election timeout.
n=0
until co -c "$alone_port@127.0.0.1" stats --hold 0 >"$TMP/alone.json" 2>&1; do
	grep -q LMC_ENOQUORUM "$TMP/alone.json" && break
	n=$((n + 1))
	[ $n -lt 50 ] || fail "the lone server did not say LMC_ENOQUORUM: $(cat "$TMP/alone.json")"
	sleep 0.1
done
expect_grep '"denied".*LMC_ENOQUORUM.*no quorum' "$TMP/alone.json"
expect_status 1 co stats --hold 0
expect_grep 'LMC_ENOQUORUM' "$TMP/out"
"$LMUTIL" lmstat -c "$S" --lmd >"$TMP/lmstat.txt"
expect_grep 'No leader: the servers have no quorum' "$TMP/lmstat.txt"
expect_grep ': down$' "$TMP/lmstat.txt"
sleep 4

note "server $other comes back: a leader is elected and serves by itself"
resumes=$(cat "$TMP"/lmd*.log | grep -c ' resume session=')
t_back=$(now_us)
triad_start "$other"
expect_status 0 co stats --hold 0 --timeout 30000
note "quorum regained: a checkout was granted $((($(now_us) - t_back) / 1000)) ms after the second server started"
# The holder comes back on its own, within its retry delay.
n=0
until [ "$(cat "$TMP"/lmd*.log | grep -c ' resume session=')" -gt "$resumes" ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "the holder did not resume its session"
	sleep 0.1
done
wait_in_use 1
grep -qE '"(lost|regained)"' "$TMP/holder.json" &&
	fail "the holder was told about a quorum loss shorter than its lease: $(cat "$TMP/holder.json")"
grep -q ' expire session=' "$TMP"/lmd*.log && fail "a session expired during the quorum loss"

note "quorum lost for longer than the lease: the holder is told, then the seat comes back"
leader=$(wait_leader)
alone=$((leader % 3 + 1))
other=$((alone % 3 + 1))
leave_alone "$alone"
# Seen under CI's load (rarely): the loss reported as LMC_ENOSERVER, no
# answer of the lone server having reached the holder within its lease.
# What the lone server said and thought goes into the log for a look.
(wait_log "$TMP/holder.json" '"lost"' 30)
grep -q '"lost".*LMC_ENOQUORUM' "$TMP/holder.json" || {
	tail -n 30 "$TMP/lmd$alone.log" >&2
	"$LMUTIL" lmstat -c "$(eval "echo \$port$alone")@127.0.0.1" --lmd >&2
	fail "the holder's loss does not say LMC_ENOQUORUM: $(cat "$TMP/holder.json")"
}
triad_start "$other"
wait_log "$TMP/holder.json" '"regained"' 20
wait_in_use 1

note "all three servers killed and restarted"
for n in 1 2 3; do
	triad_kill "$n"
done
for n in 1 2 3; do
	triad_start "$n"
done
wait_leader >/dev/null
expect_status 0 co stats --hold 0 --timeout 30000
wait_in_use 1
[ "$(grep -c '"lost"' "$TMP/holder.json")" = 1 ] ||
	fail "the holder was told more than once: $(cat "$TMP/holder.json")"

note "the holder ends cleanly and the servers agree"
kill -TERM "$holder"
wait "$holder" || fail "the holder failed: $(cat "$TMP/holder.err")"
expect_grep '"released".*LMC_OK' "$TMP/holder.json"
wait_in_use 0
wait_converged
exit 0
