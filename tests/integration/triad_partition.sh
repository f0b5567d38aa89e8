#!/bin/sh
# The lease rule under real network partitions (issue 8).  Three servers and
# the clients each run in a network namespace of their own, on a private
# bridge; a partition moves hosts to a second bridge in one step, a one-way
# cut is blackhole routes on one side.  One seat, a session timeout of 3 s and
# a grace period of 12 s.  In every scenario a holder has the seat and a
# contender asks for it again and again:
#   1. the holder is cut off from the three healthy servers;
#   2. the leader is cut off from everyone;
#   3. a symmetric partition: the leader and the holder on one side, two
#      servers and the contender on the other;
#   4. a one-way cut: the servers' packets no longer reach the holder, whose
#      own packets still reach them;
# and then the network heals.  Judged from the clients' own events: at no
# instant do they believe in more seats than the license has, so the holder
# reports its seat lost before the contender is granted it, whatever the
# grace; nobody hears "regained" for a seat given to another; and after each
# heal a fresh checkout is granted.  The lost-report and grant times after
# each cut are printed.
# shellcheck disable=SC2046,SC2086 # command prefixes, split on purpose
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
. "$TESTS_SRCDIR/integration/lease_lib.sh"
. "$TESTS_SRCDIR/integration/netns_lib.sh"
need_test_hooks
need_netns

ns_triad_setup 1
netns_host c1 11
netns_host c2 12
TRIAD_ARGS="--heartbeat 500 --session-timeout 3000 --election-timeout 500 --grace 12000"
for n in 1 2 3; do
	ns_triad_start $n
done
wait_leader >/dev/null
# A client in host $1 (c1, c2): the `lmutil checkout` of lease_lib.sh.
client() { echo "ip netns exec $NETNS$1 $LMUTIL_HOST checkout -c $S --pubkey $TMP/vendor.pub"; }
# Lines of the servers' logs that match $1.
log_count() { cat "$TMP"/lmd*.log | grep -c "$1"; }

# Starts scenario $1: a holder in c1 with the seat, a contender in c2.
start_scenario()
{
	hold "holder$1" $(client c1)
	wait_event "holder$1" granted
	contend "contender$1" $(client c2)
	wait_event "contender$1" denied
}

# The holder of scenario $1, cut off, must have reported its seat lost by
# the time the contender was granted it.
expect_lost_before_grant()
{
	wait_event "contender$1" granted 30
	grep -q '"lost"' "$TMP/holder$1.json" ||
		fail "scenario $1: the contender was granted the seat while the holder still believed it held it: $(cat "$TMP/holder$1.json")"
}

# After a heal: the holder of scenario $1 comes back to find its session
# expired and asks for the seat again, in vain; it must not hear regained.
expect_no_regain()
{
	_opened=$1
	_denied=$2
	n=0
	until [ "$(log_count ' opened')" -gt "$_opened" ] &&
		[ "$(log_count 'denied .*feature=stats')" -gt "$_denied" ]; do
		n=$((n + 1))
		[ $n -lt 300 ] || fail "scenario $3: the holder did not ask for its seat again after the heal"
		sleep 0.1
	done
	sleep 1
	grep -q '"regained"' "$TMP/holder$3.json" &&
		fail "scenario $3: the holder heard regained for a seat the pool gave to another: $(cat "$TMP/holder$3.json")"
	return 0
}

# Ends scenario $1: the clients check in, a fresh checkout is granted, and
# the events are judged.
end_scenario()
{
	stop_client "contender$1"
	stop_client "holder$1"
	in_ns c2 $LMUTIL_HOST checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --timeout 15000 \
		stats >"$TMP/fresh$1.json" 2>&1 || fail "scenario $1: no fresh checkout after the heal: $(cat "$TMP/fresh$1.json")"
	shift
	judge_lease 1 "$@" || fail "the clients' beliefs break the lease rule"
}

note "1. the holder is cut off from the three healthy servers"
start_scenario 1
t_cut=$(now_us)
island c1
expect_lost_before_grant 1
expect_grep '"lost".*"LMC_ENOSERVER"' "$TMP/holder1.json"
opened=$(log_count ' opened')
denied=$(log_count 'denied .*feature=stats')
t_heal=$(now_us)
heal
expect_no_regain "$opened" "$denied" 1
end_scenario 1 cut="$t_cut" heal="$t_heal" holder1 contender1 fresh1

note "2. the leader is cut off from everyone"
leader=$(wait_leader)
# Sessions resumed by the servers other than the leader.
resumed_elsewhere()
{
	for n in 1 2 3; do
		[ "$n" = "$leader" ] || grep -c ' resume session=' "$TMP/lmd$n.log"
	done | awk '{ s += $1 } END { print s }'
}
start_scenario 2
resumed=$(resumed_elsewhere)
t_cut=$(now_us)
island "s$leader"
# The two others elect a leader, which keeps the holder's session: the
# holder resumes there (unless it came too late, having reported its seat
# lost by then).
n=0
until [ "$(resumed_elsewhere)" -gt "$resumed" ] || grep -q '"lost"' "$TMP/holder2.json"; do
	n=$((n + 1))
	[ $n -lt 300 ] || fail "scenario 2: the holder did not resume on a new leader"
	sleep 0.1
done
sleep 2
t_heal=$(now_us)
heal
wait_converged
end_scenario 2 cut="$t_cut" heal="$t_heal" holder2 contender2 fresh2

note "3. a partition: the leader and the holder apart from the two others and the contender"
leader=$(wait_leader)
start_scenario 3
t_cut=$(now_us)
island "s$leader" c1
expect_lost_before_grant 3
expect_grep '"lost".*"LMC_ENOQUORUM"' "$TMP/holder3.json"
opened=$(log_count ' opened')
denied=$(log_count 'denied .*feature=stats')
t_heal=$(now_us)
heal
expect_no_regain "$opened" "$denied" 3
end_scenario 3 cut="$t_cut" heal="$t_heal" holder3 contender3 fresh3
wait_converged

note "4. a one-way cut: the servers' packets no longer reach the holder"
start_scenario 4
t_cut=$(now_us)
for n in 1 2 3; do
	cut_from "s$n" c1
done
expect_lost_before_grant 4
opened=$(log_count ' opened')
denied=$(log_count 'denied .*feature=stats')
t_heal=$(now_us)
heal
expect_no_regain "$opened" "$denied" 4
end_scenario 4 cut="$t_cut" heal="$t_heal" holder4 contender4 fresh4

note "the three servers hold the same state"
wait_in_use 0
wait_converged
exit 0
