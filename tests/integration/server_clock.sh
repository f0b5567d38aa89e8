#!/bin/sh
# The leader's wall clock jumps (a test hook adds LM_TEST_CLOCK_SKEW_FILE's
# seconds to it): an hour forward changes no lease and expires nobody, and
# five days back does not make an expired license valid again, because the
# time commands carry never moves backwards.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

past=$(date -u -d '-3 days' +%Y-%m-%d)
single_server "FEATURE stats acme 29.0 permanent 2" "FEATURE old acme 1.0 $past 2"
echo 0 >"$TMP/skew"
LM_TEST_CLOCK_SKEW_FILE="$TMP/skew" LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd \
	-c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/data" --listen 127.0.0.1 \
	--heartbeat 300 --session-timeout 4000 --peer-port "$(free_port)"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'
co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }

expect_status 1 co old --hold 0
expect_grep 'LMC_EEXPIRED' "$TMP/out"
(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 12 stats \
	>"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
wait_log "$TMP/holder.json" '"granted"'

note "the clock jumps an hour forward: no lease changes, nobody expires"
echo 3600 >"$TMP/skew"
sleep 6
expect_status 0 co stats --hold 0

note "the clock jumps five days back: the expired line stays expired"
echo -432000 >"$TMP/skew"
sleep 1
expect_status 1 co old --hold 0
expect_grep 'LMC_EEXPIRED' "$TMP/out"
expect_status 0 co stats --hold 0
wait "$holder" || fail "the holder failed: $(cat "$TMP/holder.err")"
grep -q '"lost"' "$TMP/holder.json" && fail "the clock jump cost the holder its seat: $(cat "$TMP/holder.json")"
grep -q ' expire session=' "$TMP/lmd.log" && fail "a session expired after the clock jump: $(grep ' expire ' "$TMP/lmd.log")"
expect_grep '"released"' "$TMP/holder.json"
