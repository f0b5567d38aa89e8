#!/bin/sh
# Replacing a dead server of a triad.  The leader's machine dies with its
# disk; the vendor rehosts the license for a new machine (SERVER line N gets
# the new lock code); the new server starts with `lmd --node N --join` and an
# empty data directory, and `lmutil lmreplace --node N` swaps it for the dead
# one through a raft membership change.  The newcomer catches up, counts in
# the quorum (the cluster serves with it and one original server), rejoins
# under its own id after a restart, and a seat held throughout survives.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 2
# Long enough that the holder's lease (and its linger after a dead server's
# connection closed) outlasts a replacement on a loaded machine.
TRIAD_ARGS="--heartbeat 300 --session-timeout 15000 --reclaim-after 12000"
for n in 1 2 3; do
	triad_start $n
done
dead=$(wait_leader)
co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }

(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 120 stats \
	>"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
at_exit "kill -9 $holder 2>/dev/null"
wait_log "$TMP/holder.json" '"granted"'

note "server $dead (the leader) dies with its disk"
triad_kill "$dead"
rm -rf "$TMP/d$dead"
wait_leader >/dev/null

note "the vendor rehosts SERVER line $dead for a new machine"
code4=$(make_server_machine 4)
eval "old_code=\$code$dead"
sed "s/ $old_code / $code4 /" "$TMP/triad.tmpl" >"$TMP/rehost.tmpl"
grep -q "$code4" "$TMP/rehost.tmpl" || fail "the rehosted template lacks the new lock code"
sign_license "$TMP/rehost.tmpl" "$TMP/rehost.lic"

note "--join refuses a data directory that already holds a raft log"
mkdir -p "$TMP/used/raft"
echo x >"$TMP/used/raft/metadata1"
expect_status 1 env LM_HOSTID_ROOT="$TMP/m4" "$LMD" -c "$TMP/rehost.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/used" --listen 127.0.0.1 --node "$dead" --peer-port "$PEERS" --join
expect_grep 'needs a new data directory' "$TMP/err"

note "lmreplace before the new server runs says what to do"
expect_status 1 "$LMUTIL" lmreplace -c "$S" --node "$dead"
expect_grep 'start it first with `lmd --node' "$TMP/err"

note "the new server joins"
eval "machine$dead=\$TMP/m4 license$dead=\$TMP/rehost.lic"
triad_start "$dead" --join
wait_log "$TMP/lmd$dead.log" ' join raft id [0-9]+ waits to replace'
"$LMUTIL" lmstat -c "$S" --json >"$TMP/before.json"
expect_grep '"role":"joining"' "$TMP/before.json"
expect_status 0 "$LMUTIL" lmreplace -c "$S" --node "$dead"
cat "$TMP/out"
expect_grep 'is now served by raft id' "$TMP/out"
wait_converged
new_id=$(triad_stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["servers"][int(sys.argv[1]) - 1]["raft_id"])' "$dead")
[ "$new_id" != "$dead" ] || fail "the new server runs under the dead server's raft id"
[ $(((new_id - 1) % 3 + 1)) = "$dead" ] || fail "raft id $new_id does not name SERVER line $dead"
note "SERVER line $dead is served by raft id $new_id"

note "lmreplace again finds nothing left to do"
expect_status 0 "$LMUTIL" lmreplace -c "$S" --node "$dead"

note "the other servers get the rehosted license (lmreread reaches all three)"
cp "$TMP/rehost.lic" "$TMP/triad.lic"
expect_status 0 "$LMUTIL" lmreread -c "$S"
[ "$(grep -c 'reloaded 1 license lines' "$TMP/out")" = 3 ] || fail "not every server reloaded: $(cat "$TMP/out")"

note "the newcomer counts in the quorum: one original server down, service goes on"
leader=$(wait_leader)
for n in 1 2 3; do
	[ "$n" = "$leader" ] || [ "$n" = "$dead" ] || original=$n
done
triad_kill "$original"
expect_status 0 co stats --hold 0 --timeout 30000
triad_start "$original"
wait_converged

note "the new server restarts under its own id"
triad_kill "$dead"
triad_start "$dead"
wait_converged
new_again=$(triad_stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["servers"][int(sys.argv[1]) - 1]["raft_id"])' "$dead")
[ "$new_again" = "$new_id" ] || fail "after a restart the new server is raft id $new_again, not $new_id"

note "the seat held throughout is still held, then returned"
[ "$(in_use)" = 1 ] || fail "$(in_use) seats in use, expected the holder's 1"
kill -TERM "$holder"
wait "$holder" || fail "the holder failed: $(cat "$TMP/holder.err")"
grep -qE '"(lost|regained)"' "$TMP/holder.json" && fail "the holder was disturbed: $(cat "$TMP/holder.json")"
wait_in_use 0
wait_converged
exit 0
