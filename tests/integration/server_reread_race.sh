#!/bin/sh
# A checkout's reply is built from what its commit returned: the line the
# seat was charged under, read in the same transaction.  lmd hands every
# proposer its result late here (LM_TEST_COMMIT_DELAY_MS, test hooks), so
# an lmreread that drops the feature commits between the checkout's commit
# and its reply: the seat the pool charged is still answered as granted,
# with its line, never "no such feature".
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE other acme 1.0 permanent 1" "FEATURE stats acme 29.0 permanent 2"
# The license the reread will serve, signed now: the race has no time for it.
sed '/^FEATURE stats /d' "$TMP/template.lic" >"$TMP/template2.lic"
sign_license "$TMP/template2.lic" "$TMP/server2.lic"
LM_TEST_COMMIT_DELAY_MS=3000 LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" \
	--pubkey "$TMP/vendor.pub" --data "$TMP/data" --listen 127.0.0.1 \
	--peer-port "$(free_port)"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving' 30

note "an lmreread without the feature commits while a checkout's reply waits"
python3 "$TESTS_SRCDIR/integration/wire.py" "$port" checkout-reread >"$TMP/race.out" 2>&1 &
client=$!
wait_log "$TMP/race.out" '^sent' 30
# The checkout applies within milliseconds of being sent; its reply waits
# three seconds.  The reread lands in between (and lmreread, which answers
# once its own set has committed, waits three seconds too).
sleep 0.3
cp "$TMP/server2.lic" "$TMP/server.lic"
expect_status 0 "$LMUTIL" lmreread -c "$S"
expect_grep 'reloaded 1 license lines' "$TMP/out"
wait "$client" || fail "the charged seat was not granted: $(cat "$TMP/race.out")"
expect_grep '^granted FEATURE stats ' "$TMP/race.out"
# The reread was installed before the checkout was answered.
reread_at=$(grep -n -m 1 ' reread ' "$TMP/lmd.log" | cut -d: -f1)
checkout_at=$(grep -n -m 1 ' checkout user=' "$TMP/lmd.log" | cut -d: -f1)
[ -n "$reread_at" ] && [ -n "$checkout_at" ] && [ "$reread_at" -lt "$checkout_at" ] ||
	fail "the reread did not land before the checkout's reply: $(cat "$TMP/lmd.log")"
exit 0
