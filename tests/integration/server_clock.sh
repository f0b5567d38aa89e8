#!/bin/sh
# The leader's wall clock jumps (a test hook adds LM_TEST_CLOCK_SKEW_FILE's
# seconds to it): an hour forward changes no lease and expires nobody, and
# five days back does not make an expired license valid again, because the
# time commands carry never moves backwards.  A clock more than
# --clock-tolerance behind the last committed time is a clock set back:
# time-limited licenses are refused with LMC_ECLOCK and the log says so,
# perpetual ones keep working, and all is well once the clock catches up.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

past=$(date -u -d '-3 days' +%Y-%m-%d)
soon=$(date -u -d '+30 days' +%Y-%m-%d)
single_server "FEATURE stats acme 29.0 permanent 2" "FEATURE old acme 1.0 $past 2" \
	"FEATURE dated acme 1.0 $soon 2"
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

expect_status 0 co dated --hold 0

note "the clock jumps five days back: time-limited lines are refused, perpetual ones granted"
echo -432000 >"$TMP/skew"
sleep 1
expect_status 1 co old --hold 0
expect_grep 'LMC_ECLOCK' "$TMP/out"
expect_status 1 co dated --hold 0
expect_grep 'LMC_ECLOCK' "$TMP/out"
expect_grep 'clock set back: the license server.s clock is [0-9]+ s behind' "$TMP/out"
expect_status 0 co stats --hold 0
expect_grep ' clock set back: the wall clock is [0-9]+ s behind the last committed time \(more than --clock-tolerance 3600 s\)' "$TMP/lmd.log"
expect_status 0 "$LMUTIL" lmstat -c "$S" --lmd
expect_grep 'clock set back: [0-9]+ s behind the last committed time; time-limited licenses are refused' "$TMP/out"
wait "$holder" || fail "the holder failed: $(cat "$TMP/holder.err")"
grep -q '"lost"' "$TMP/holder.json" && fail "the clock jump cost the holder its seat: $(cat "$TMP/holder.json")"
grep -q ' expire session=' "$TMP/lmd.log" && fail "a session expired after the clock jump: $(grep ' expire ' "$TMP/lmd.log")"
expect_grep '"released"' "$TMP/holder.json"

note "the clock is corrected: dated lines are granted again, the expired one stays expired"
echo 3600 >"$TMP/skew"
sleep 1
expect_status 0 co dated --hold 0
expect_status 1 co old --hold 0
expect_grep 'LMC_EEXPIRED' "$TMP/out"
expect_grep ' the wall clock caught up with the last committed time' "$TMP/lmd.log"
expect_status 0 "$LMUTIL" lmstat -c "$S" --lmd
grep -q 'clock set back' "$TMP/out" && fail "lmstat still says the clock is set back: $(cat "$TMP/out")"
true
