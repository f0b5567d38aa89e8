#!/bin/sh
# The lease rule on loopback (issue 8): a client that reaches the leader
# through a proxy holds the only seat; the proxy freezes.  The pool expires
# the silent session and gives the seat to another client: the holder must
# have reported the seat lost before that, although its grace period is
# far longer, and must not report it regained when the proxy thaws, since
# the seat belongs to the other client by then.  Once that client checks
# in, a fresh checkout is granted.  Then a holder is killed with SIGKILL:
# its seat goes to a waiting client (the time is printed).  Judged from the
# clients' own events: at no instant do they believe in more seats than the
# license has.  Times are printed, nothing is asserted on them.
# shellcheck disable=SC2086 # $co is a command prefix, split on purpose
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
. "$TESTS_SRCDIR/integration/lease_lib.sh"
need_test_hooks

triad_setup 1
TRIAD_ARGS="--heartbeat 500 --session-timeout 3000 --election-timeout 500 --grace 12000"
for n in 1 2 3; do
	triad_start $n
done
leader=$(wait_leader)
eval "leader_port=\$port$leader"
# A command prefix, split into words where it is used.
co="$LMUTIL checkout --pubkey $TMP/vendor.pub"

proxy_port=$(free_port)
python3 "$TESTS_SRCDIR/integration/proxy.py" "$proxy_port" "$leader_port" &
proxy=$!
at_exit "kill -9 $proxy 2>/dev/null"
wait_port "$proxy_port"

note "the holder reaches the leader (server $leader) through a proxy only"
hold holder $co -c "$proxy_port@127.0.0.1"
wait_event holder granted
contend contender $co -c "$S"
wait_event contender denied

note "the proxy freezes"
t_freeze=$(now_us)
kill -STOP "$proxy"
wait_event contender granted 30
grep -q '"lost"' "$TMP/holder.json" ||
	fail "the contender was granted the seat while the holder still believed it held it: $(cat "$TMP/holder.json")"
expect_grep '"lost".*"LMC_ENOSERVER"' "$TMP/holder.json"

note "the proxy thaws: the holder finds its session expired and the seat taken"
# Lines of the servers' logs that match $1.
log_count() { cat "$TMP"/lmd*.log | grep -c "$1"; }
opened=$(log_count ' opened')
denied=$(log_count 'denied .*feature=stats')
t_thaw=$(now_us)
kill -CONT "$proxy"
n=0
until [ "$(log_count ' opened')" -gt "$opened" ] && [ "$(log_count 'denied .*feature=stats')" -gt "$denied" ]; do
	n=$((n + 1))
	[ $n -lt 300 ] || fail "the holder did not come back to ask for its seat after the thaw"
	sleep 0.1
done
sleep 1
grep -q '"regained"' "$TMP/holder.json" &&
	fail "the holder heard regained for a seat the pool gave to another: $(cat "$TMP/holder.json")"

note "the contender checks in; a fresh checkout is granted"
stop_client contender
wait_event contender released
expect_status 0 $co -c "$S" --json --timeout 10000 stats
cp "$TMP/out" "$TMP/fresh.json"
stop_client holder
judge_lease 1 freeze="$t_freeze" thaw="$t_thaw" holder contender fresh ||
	fail "the clients' beliefs break the lease rule"

note "a holder killed with SIGKILL: its seat goes to the waiting client"
# A session timeout longer than the reclaim delay (lmd --reclaim-after,
# 5 s by default): the seat of a dead process comes back before it.
for n in 1 2 3; do
	triad_kill $n
done
TRIAD_ARGS="--heartbeat 500 --session-timeout 15000 --election-timeout 500"
for n in 1 2 3; do
	triad_start $n
done
wait_leader >/dev/null
hold crashed $co -c "$S"
wait_event crashed granted
contend waiter $co -c "$S"
wait_event waiter denied
t_crash=$(now_us)
crash_client crashed
wait_event waiter granted 30
stop_client waiter
judge_lease 1 crash="$t_crash" crashed waiter || fail "the clients' beliefs break the lease rule"
exit 0
