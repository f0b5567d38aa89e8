#!/bin/sh
# A PACKAGE with OPTIONS=SUITE through a triad, with the leader killed while
# a suite seat is in use: alice holds two components of the one-seat suite
# (one seat between them), bob is denied; after a kill -9 of the leader the
# new leader still counts one seat for alice's two components (the suite's
# sharing group is replicated state), bob is still denied, neither of
# alice's clients lost its seat, and when one of them checks in the other
# keeps the suite seat.  Judged from the clients' events: at no moment do
# two users both believe they hold the suite.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 1
sed 's/^FEATURE stats acme 29.0 permanent 1$/&\nPACKAGE stats acme 29.0 COMPONENTS="paint model" OPTIONS=SUITE/' \
	"$TMP/triad.tmpl" >"$TMP/package.tmpl"
grep -q '^PACKAGE' "$TMP/package.tmpl" || fail "the template was not rewritten"
sign_license "$TMP/package.tmpl" "$TMP/triad.lic"
TRIAD_ARGS="--heartbeat 300 --session-timeout 6000"
for n in 1 2 3; do
	triad_start $n
done
leader=$(wait_leader)
wait_converged

# hold NAME USER HOST COMPONENT: a client holding a component in the background.
hold()
{
	(LM_TEST_USER=$2 LM_TEST_HOST=$3 DISPLAY=:0 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json --hold 600 --timeout 20000 --version 29.0 "$4" \
		>"$TMP/$1.json" 2>"$TMP/$1.err") &
	eval "pid_$1=$!"
	at_exit "kill -9 $! 2>/dev/null"
	wait_log "$TMP/$1.json" '"granted"'
}

# Fails unless lmstat shows the suite's one seat in use, and alice holding
# the components given.
check_suite()
{
	triad_stat >"$TMP/stat.json"
	python3 - "$TMP/stat.json" "$@" <<'PY' || fail "lmstat --json: $(cat "$TMP/stat.json")"
import json, sys
features = json.load(open(sys.argv[1]))["features"]
f = [f for f in features if f["name"] == "stats"][0]
assert (f["issued"], f["in_use"]) == (1, 1), f
held = sorted(c["name"] for c in features
              if c.get("package") == "stats" and any(h["user"] == "alice" for h in c["holders"]))
assert held == sorted(sys.argv[2:]), features
PY
}

bob_denied()
{
	(LM_TEST_USER=bob LM_TEST_HOST=ws3 DISPLAY=:0 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json --version 29.0 paint --timeout 20000 \
		>"$TMP/bob.json" 2>&1) &&
		fail "bob was granted the suite alice holds: $(cat "$TMP/bob.json")"
	expect_grep '"event":"denied"' "$TMP/bob.json"
}

note "alice holds two components of the one-seat suite; bob is denied"
hold a alice ws1 paint
hold b alice ws1 model
check_suite model paint
bob_denied

note "kill -9 of the leader (server $leader) with the suite in use"
old=$leader
triad_kill "$old"
leader=$(wait_leader)
note "server $leader leads"
check_suite model paint
bob_denied
triad_start "$old"
wait_converged
check_suite model paint
for c in a b; do
	grep -q '"lost"' "$TMP/$c.json" && fail "client $c lost its seat: $(cat "$TMP/$c.json")"
done

note "one of alice's components goes; the other keeps the suite seat"
kill -TERM "$pid_a"
wait_log "$TMP/a.json" '"released"'
check_suite model
bob_denied

note "the last one out frees the suite seat: bob gets it"
kill -TERM "$pid_b"
wait_log "$TMP/b.json" '"released"'
wait_in_use 0
hold c bob ws3 paint
kill -TERM "$pid_c"
wait_log "$TMP/c.json" '"released"'
wait_converged

note "at no moment did bob hold the suite while alice did"
granted_after_both "$TMP/a.json" "$TMP/b.json" "$TMP/c.json" || fail "two users held the one suite seat at once"
