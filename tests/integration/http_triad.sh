#!/bin/sh
# lmd --http on a triad: every server exports the replicated seats, each its
# own raft role (one leader, two followers), the leader alone serves and
# counts the checkouts; a follower's dashboard data names the leader; after
# the leader dies, the new one says so and the seats are still counted.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
. "$TESTS_SRCDIR/integration/http_lib.sh"
need_test_hooks
need_prometheus

triad_setup 4
TRIAD_ARGS="--heartbeat 500 --session-timeout 10000"
for n in 1 2 3; do
	eval "http$n=\$(free_port)"
	eval "triad_start $n --http \$http$n"
done
leader=$(wait_leader)
wait_converged
url() { eval "echo http://127.0.0.1:\$http$1"; }
note "server $leader leads"

(LM_TEST_USER=alice LM_TEST_HOST=ws7 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json stats --version 29.0 \
	--count 2 --hold 120 >"$TMP/hold" 2>&1) &
at_exit "kill $! 2>/dev/null"
wait_log "$TMP/hold" '"event":"granted"'

in_use="m('lmd_seats_in_use', feature='stats', version='29.0')"
for n in 1 2 3; do
	if [ "$n" = "$leader" ]; then
		role="m('lmd_raft_role', role='leader') == 1 and m('lmd_serving') == 1
			and m('lmd_checkouts_total') == 1"
	else
		role="m('lmd_raft_role', role='follower') == 1 and m('lmd_serving') == 0
			and m('lmd_checkouts_total') == 0"
	fi
	scrape "$(url $n)" "$in_use == 2 and m('lmd_sessions') == 1
		and m('lmd_info', version='$("$LMD" --version | awk '{ print $NF }')', node='$n',
		      servers='3', vendor='acme') == 1
		and m('lmd_raft_lag') == m('lmd_raft_commit_index') - m('lmd_raft_applied_index')
		and $role" 10 || fail "server $n's metrics"
done

note "a follower's dashboard data names the leader, and not who holds the seats"
follower=$((leader % 3 + 1))
python3 - "$(url $follower)/status.json" "$leader" "$follower" <<'PY' || fail "status.json of a follower"
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1]))
leader, me = int(sys.argv[2]), int(sys.argv[3])
roles = [s["role"] for s in d["servers"]]
assert roles[leader - 1] == "leader" and roles[me - 1] == "follower", roles
assert d["servers"][me - 1]["self"] and not d["serving"], d
stats = [f for f in d["features"] if f["name"] == "stats"][0]
# By default (lmd --lmstat-details admin) the HTTP port, where nobody is
# an admin, gives the counts and no user, host or display.
assert d["holder_details"] == "admin", d
assert stats["in_use"] == 2 and stats["holders"] == [], stats
assert "alice" not in json.dumps(d) and "ws7" not in json.dumps(d), d
PY

note "the leader dies: the new one says so, the seats are still there"
triad_kill "$leader"
new=$(wait_leader 30)
[ "$new" != "$leader" ] || fail "server $leader still leads"
scrape "$(url $new)" "m('lmd_raft_role', role='leader') == 1 and m('lmd_serving') == 1
	and $in_use == 2" 20 || fail "the new leader's metrics"
