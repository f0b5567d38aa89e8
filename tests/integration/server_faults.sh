#!/bin/sh
# lmd with allocations failing on purpose (LM_TEST_FAIL_ALLOC=N: every N-th
# allocation at the request, reply, read-buffer, proposal and expiry sites
# fails) while real clients check seats out and in: requests get LMC_ENOMEM
# or a closed connection, and lmd neither crashes (ASan would abort it) nor
# loses or leaks a seat: once the clients are gone every seat comes back.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 3"
LM_TEST_FAIL_ALLOC=7 LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" \
	--pubkey "$TMP/vendor.pub" --data "$TMP/data" --listen 127.0.0.1 --heartbeat 200 \
	--session-timeout 3000 --reclaim-after 1000 --peer-port "$(free_port)"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'

clients=
for i in 1 2 3 4 5; do
	# A refused or broken checkout ends lmutil: start another.
	(while [ ! -f "$TMP/stop" ]; do
		"$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --loop 5 --hold 0.05 \
			--timeout 2000 stats
	done >"$TMP/client$i.json" 2>"$TMP/client$i.err") &
	clients="$clients $!"
	at_exit "kill -9 $! 2>/dev/null"
done
sleep 10
touch "$TMP/stop"
for pid in $clients; do
	wait "$pid" 2>/dev/null
done
kill -0 "$(cat "$TMP/lmd.pid")" 2>/dev/null || fail "lmd died: $(tail -n 40 "$TMP/lmd.log")"
grep -q 'ERROR: AddressSanitizer\|runtime error' "$TMP/lmd.log" && fail "sanitizer report: $(grep -A 20 'ERROR\|runtime error' "$TMP/lmd.log")"
# A request the server could not replicate is logged, not only answered.
expect_grep 'refused before replication: out of memory' "$TMP/lmd.log"
granted=$(cat "$TMP"/client*.json | grep -c '"granted"')
note "$granted seats granted while every 7th allocation failed"
[ "$granted" -gt 0 ] || fail "no client was ever granted a seat"
# Every seat comes back: checked in, or its session closed or expired.
n=0
until [ "$(in_use 2>/dev/null)" = 0 ]; do
	n=$((n + 1))
	[ $n -lt 200 ] || fail "$(in_use) seats still in use after every client left"
	sleep 0.1
done
