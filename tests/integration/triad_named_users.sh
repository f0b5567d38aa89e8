#!/bin/sh
# Named users in a triad: the list is replicated state, changed only by
# committed commands.  With USER_BASED=2, alice (from two hosts) and bob
# fill the list and carol is refused; the three servers hold the same pool
# (digests); the leader is killed with alice's seat held, and the new
# leader keeps the same list: carol is still refused, naming alice and bob,
# while both still get in from new hosts.  A removal is decided by the hold
# the command carries: refused early on the new leader, accepted once the
# clock (LM_TEST_CLOCK_SKEW_FILE, on every server) has passed it, and the
# restarted old leader catches up with the shorter list.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 5
sed 's/^FEATURE stats acme 29.0 permanent 5$/FEATURE stats acme 29.0 permanent 5 USER_BASED=2/' \
	"$TMP/triad.tmpl" >"$TMP/named.tmpl"
grep -q USER_BASED "$TMP/named.tmpl" || fail "the template was not rewritten"
sign_license "$TMP/named.tmpl" "$TMP/triad.lic"
echo 0 >"$TMP/skew"
LM_TEST_CLOCK_SKEW_FILE="$TMP/skew"
export LM_TEST_CLOCK_SKEW_FILE
TRIAD_ARGS="--heartbeat 300 --session-timeout 6000 --named-user-hold 1h"
for n in 1 2 3; do
	triad_start $n
done
leader=$(wait_leader)
wait_converged

co()
{
	LM_TEST_USER=$1 LM_TEST_HOST=$2 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
		--json --timeout 20000 stats --hold 0
}
denied()
{
	run co "$@"
	[ "$status" -ne 0 ] || fail "$1 on $2 was granted: $(cat "$TMP/out")"
	expect_grep 'LMC_EDENIED' "$TMP/out"
	expect_grep 'stats: all 2 named users assigned \(alice, bob\); user carol' "$TMP/out"
}
names()
{
	triad_stat | python3 -c '
import json, sys
f = [f for f in json.load(sys.stdin)["features"] if f["name"] == "stats"][0]
print(",".join(n["name"] for n in f["named"]["names"]))'
}

note "alice holds a seat from h1 and takes one from h2, bob one from h1: the list is full"
(LM_TEST_USER=alice LM_TEST_HOST=h1 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json --hold 600 --timeout 20000 stats >"$TMP/alice.json" 2>"$TMP/alice.err") &
alice=$!
at_exit "kill -9 $alice 2>/dev/null"
wait_log "$TMP/alice.json" '"granted"'
expect_status 0 co alice h2
expect_status 0 co bob h1
denied carol h1
[ "$(names)" = alice,bob ] || fail "the list is $(names)"
wait_converged

note "kill -9 of the leader (server $leader) with alice's seat held"
old=$leader
triad_kill "$old"
leader=$(wait_leader)
note "server $leader leads: same list, carol still refused"
[ "$(names)" = alice,bob ] || fail "the new leader's list is $(names)"
denied carol h1
expect_status 0 co alice h3
expect_status 0 co bob h4

note "removal: refused before the hold on the new leader, accepted after it"
expect_status 1 "$LMUTIL" named-user remove -c "$S" stats bob
expect_grep 'it can be removed from .* UTC \(lmd --named-user-hold 3600s\)' "$TMP/err"
echo 7200 >"$TMP/skew"
expect_status 0 "$LMUTIL" named-user remove -c "$S" stats bob
expect_grep 'removed user bob' "$TMP/out"
expect_status 0 co carol h1
[ "$(names)" = alice,carol ] || fail "after the removal the list is $(names)"

note "the old leader comes back and agrees"
triad_start "$old"
wait_converged
grep -q '"lost"' "$TMP/alice.json" && fail "alice lost her seat: $(cat "$TMP/alice.json")"
kill -TERM "$alice"
wait_log "$TMP/alice.json" '"released"'
wait_converged
