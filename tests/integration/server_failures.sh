#!/bin/sh
# One lmd under failure (a session timeout long enough for a restart to fit
# in the clients' lease and linger): kill -9 and restart of the server, a
# dropped connection, hostile frames, retried requests, a server running a license
# another vendor signed.  Seats are never lost or granted twice.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 4"
peer_port=$(free_port)

lmd_up()
{
	LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
		--data "$TMP/data" --listen 127.0.0.1 --heartbeat 200 --session-timeout 12000 \
		--reclaim-after 10000 --peer-port "$peer_port"
	wait_port "$port"
}
# wait_in_use N [SECONDS]
wait_in_use()
{
	_n=0
	until [ "$(in_use 2>/dev/null)" = "$1" ]; do
		_n=$((_n + 1))
		[ $_n -lt $((${2:-10} * 20)) ] || fail "in_use is $(in_use), expected $1"
		sleep 0.05
	done
}
co_bg() { (exec "$LMUTIL" checkout --pubkey "$TMP/vendor.pub" --json "$@") & }

lmd_up
wait_log "$TMP/lmd.log" ' license serving'

note "kill -9 of lmd: held seats survive the restart and the client never notices"
# Held until told to stop: a restart slowed down by a loaded machine must
# not outlast the hold, or the seats would be back in the pool legitimately.
co_bg -c "$S" stats --count 2 --hold 120 >"$TMP/holder.json" 2>"$TMP/holder.err"
holder=$!
wait_log "$TMP/holder.json" '"granted"'
kill_lmd lmd KILL
lmd_up
wait_log "$TMP/lmd.log" ' resume session=' 20
[ "$(in_use)" = 2 ] || fail "after the restart $(in_use) seats are in use, expected 2"
kill -TERM "$holder"
wait "$holder" || fail "the holding client failed: $(cat "$TMP/holder.err")"
grep -qE '"(lost|regained)"' "$TMP/holder.json" && fail "the client lost its session: $(cat "$TMP/holder.json")"
expect_grep '"released"' "$TMP/holder.json"
wait_in_use 0

note "a dropped connection resumes its session with its seats, counted once"
pport=$(free_port)
python3 "$TESTS_SRCDIR/integration/proxy.py" "$pport" "$port" &
proxy=$!
at_exit "kill $proxy"
wait_port "$pport"
co_bg -c "$pport@127.0.0.1" stats --hold 6 >"$TMP/dropped.json" 2>&1
dropped=$!
wait_log "$TMP/dropped.json" '"granted"'
resumes=$(grep -c ' resume session=' "$TMP/lmd.log")
kill "$proxy"
wait "$proxy" 2>/dev/null
python3 "$TESTS_SRCDIR/integration/proxy.py" "$pport" "$port" &
proxy=$!
at_exit "kill $proxy"
n=0
until [ "$(grep -c ' resume session=' "$TMP/lmd.log")" -gt "$resumes" ]; do
	n=$((n + 1))
	[ $n -lt 200 ] || fail "the client did not resume its session"
	sleep 0.05
done
[ "$(in_use)" = 1 ] || fail "after the resume $(in_use) seats are in use, expected 1"
wait "$dropped"
grep -qE '"(lost|regained)"' "$TMP/dropped.json" && fail "the dropped client lost its session: $(cat "$TMP/dropped.json")"
grep -q ' expire session=' "$TMP/lmd.log" && fail "a session expired instead of resuming"
wait_in_use 0

note "hostile frames are refused while other clients keep working"
co_bg -c "$S" stats --hold 4 >"$TMP/bystander.json" 2>&1
bystander=$!
wait_log "$TMP/bystander.json" '"granted"'
for scenario in garbage oversized truncated unknown no-hello; do
	expect_status 0 python3 "$TESTS_SRCDIR/integration/wire.py" "$port" "$scenario"
done
expect_grep ' bad request: ' "$TMP/lmd.log"
expect_grep 'exceeds the limit' "$TMP/lmd.log"
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" stats --hold 0
wait "$bystander" || fail "a bystander client failed during the hostile frames"
expect_grep '"released"' "$TMP/bystander.json"

note "a retried request id is answered again, never granted twice"
expect_status 0 python3 "$TESTS_SRCDIR/integration/wire.py" "$port" retry
expect_grep '^handles ' "$TMP/out"
# The retry client's two seats are held until its connection's end is
# taken for a crash (--reclaim-after).
[ "$(in_use)" = 2 ] || fail "$(in_use) seats in use after a retried checkout, expected 2"
wait_in_use 0 30

note "a session opened with the longest identity the wire allows is committed whole"
python3 "$TESTS_SRCDIR/integration/wire.py" "$port" long-identity 2 >"$TMP/long.out" 2>&1 &
long=$!
wait_log "$TMP/long.out" '^held'
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --json
python3 - "$TMP/out" <<'PY' || fail "the long identity was not kept whole: $(cat "$TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
h = [h for f in d["features"] for h in f.get("holders", [])]
assert any(x["user"] == "u" * 255 and x["host"] == "h" * 255 and x["display"] == "d" * 255
           for x in h), h
PY
wait "$long" || fail "the long-identity client failed: $(cat "$TMP/long.out")"
wait_in_use 0

note "a client with another vendor's key refuses the server's grant"
"$LMVENDOR" keygen "$TMP/other.pem" "$TMP/other.pub" >/dev/null
expect_status 1 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/other.pub" --json stats --hold 0
expect_grep 'LMC_EBADSIG' "$TMP/out"
wait_in_use 0
exit 0
