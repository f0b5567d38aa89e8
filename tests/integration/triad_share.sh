#!/bin/sh
# DUP_GROUP through a triad, with the leader killed while a seat is shared:
# alice holds the one seat of a DUP_GROUP=UV feature from two hosts, both
# checkouts with the vendor data "job 7" (which the replicated command
# carries, so that every server names the same sharing group), bob is
# denied; after a kill -9 of the leader the new leader still counts one
# seat, shared by both of alice's checkouts (the sharing is replicated
# state), bob is still denied, neither of alice's clients lost its seat,
# and when one of them checks in the other keeps it.  Judged from the
# clients' events: at no moment do two users both believe they hold it.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 1
sed 's/^FEATURE stats acme 29.0 permanent 1$/FEATURE stats acme 29.0 permanent 1 DUP_GROUP=UV/' \
	"$TMP/triad.tmpl" >"$TMP/share.tmpl"
grep -q DUP_GROUP "$TMP/share.tmpl" || fail "the template was not rewritten"
sign_license "$TMP/share.tmpl" "$TMP/triad.lic"
TRIAD_ARGS="--heartbeat 300 --session-timeout 6000"
for n in 1 2 3; do
	triad_start $n
done
leader=$(wait_leader)
wait_converged

# hold NAME USER HOST [DATA]: a client holding stats in the background,
# its checkout carrying the vendor data DATA.
hold()
{
	(LM_TEST_USER=$2 LM_TEST_HOST=$3 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json --hold 600 --timeout 20000 \
		${4:+--vendor-data "$4"} stats \
		>"$TMP/$1.json" 2>"$TMP/$1.err") &
	eval "pid_$1=$!"
	at_exit "kill -9 $! 2>/dev/null"
	wait_log "$TMP/$1.json" '"granted"'
}

# Fails unless lmstat shows one seat in use, held by the sharers given.
check_shared()
{
	triad_stat >"$TMP/stat.json"
	python3 - "$TMP/stat.json" "$@" <<'PY' || fail "lmstat --json: $(cat "$TMP/stat.json")"
import json, sys
f = [f for f in json.load(open(sys.argv[1]))["features"] if f["name"] == "stats"][0]
hosts = sorted(sys.argv[2:])
assert (f["issued"], f["in_use"]) == (1, 1), f
assert sorted(h["host"] for h in f["holders"]) == hosts, f["holders"]
assert all(h["user"] == "alice" and h["sharers"] == len(hosts) and h["vendor_data"] == "job 7"
           for h in f["holders"]), f
PY
}

bob_denied()
{
	(LM_TEST_USER=bob LM_TEST_HOST=ws3 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json stats --timeout 20000 >"$TMP/bob.json" 2>&1) &&
		fail "bob was granted the seat alice holds: $(cat "$TMP/bob.json")"
	expect_grep '"event":"denied"' "$TMP/bob.json"
}

note "alice holds the one seat from two hosts; bob is denied"
hold a alice ws1 "job 7"
hold b alice ws2 "job 7"
check_shared ws1 ws2
bob_denied

note "kill -9 of the leader (server $leader) with the seat shared"
old=$leader
triad_kill "$old"
leader=$(wait_leader)
note "server $leader leads"
check_shared ws1 ws2
bob_denied
triad_start "$old"
wait_converged
check_shared ws1 ws2
for c in a b; do
	grep -q '"lost"' "$TMP/$c.json" && fail "client $c lost its seat: $(cat "$TMP/$c.json")"
done

note "one of alice's checkouts goes; the other keeps the seat"
kill -TERM "$pid_a"
wait_log "$TMP/a.json" '"released"'
check_shared ws2
bob_denied

note "the last one out returns the seat: bob gets it"
kill -TERM "$pid_b"
wait_log "$TMP/b.json" '"released"'
wait_in_use 0
hold c bob ws3
kill -TERM "$pid_c"
wait_log "$TMP/c.json" '"released"'
wait_converged

note "at no moment did bob hold the seat while alice did"
granted_after_both "$TMP/a.json" "$TMP/b.json" "$TMP/c.json" || fail "two users held the one seat at once"
