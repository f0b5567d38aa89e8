#!/bin/sh
# One lmd whose data directory fills up (issue 14): it keeps running, refuses
# changes with LMC_ESTORE and says so once in its log, keeps the seats it
# holds, and serves again by itself once space is freed.  The data directory
# is a small tmpfs of its own, so the test needs root.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks
need_cmd mount umount dd

[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs for the data directory"
mkdir "$TMP/disk"
# Room for raft's two preallocated 8 MiB log segments, the store, and the
# free-space floor lmd keeps (lmd/disk.h), about 13 MiB here.
mount -t tmpfs -o size=48m,mode=0700 tmpfs "$TMP/disk" 2>"$TMP/mount.err" ||
	skip "cannot mount a tmpfs: $(cat "$TMP/mount.err")"
# Registered first, so it runs last, after lmd is killed; lazy, since a
# killed lmd may still hold its files for a moment.
at_exit "umount -l '$TMP/disk'"

single_server "FEATURE stats acme 29.0 permanent 4"
peer_port=$(free_port)

lmd_up()
{
	LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
		--data "$TMP/disk/data" --listen 127.0.0.1 --heartbeat 200 --session-timeout 3000 \
		--peer-port "$peer_port"
	wait_port "$port"
}
co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }
lmd_alive() { kill -0 "$(cat "$TMP/lmd.pid")" 2>/dev/null || fail "lmd died: $(tail -n 5 "$TMP/lmd.log")"; }

lmd_up
wait_log "$TMP/lmd.log" ' license serving'

note "a client holds two seats"
(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json stats --count 2 \
	--hold 600 >"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
at_exit "kill $holder"
wait_log "$TMP/holder.json" '"granted"'

note "the data directory fills up: lmd keeps running and says so once"
dd if=/dev/zero of="$TMP/disk/filler" bs=1M 2>/dev/null && fail "dd filled 48 MiB of a 48 MiB tmpfs"
wait_log "$TMP/lmd.log" ' disk full: '
lmd_alive

note "a checkout is refused with LMC_ESTORE, and each refusal is not logged again"
for attempt in 1 2 3; do
	expect_status 1 co stats --hold 0
	expect_grep '"event":"denied".*"code":"LMC_ESTORE"' "$TMP/out"
	expect_grep "the server's disk is full or failing" "$TMP/out"
done
lmd_alive
[ "$(grep -c ' disk full: ' "$TMP/lmd.log")" -eq 1 ] || fail "the full disk was logged more than once"
expect_grep " disk full: .*$TMP/disk/data/(raft|pool) has [0-9.]+ MiB free" "$TMP/lmd.log"

note "lmstat still answers, and lists the seats held before the disk filled"
[ "$(in_use)" = 2 ] || fail "$(in_use) seats in use while the disk is full, expected 2"

note "space comes back: lmd serves again without a restart"
rm -f "$TMP/disk/filler"
wait_log "$TMP/lmd.log" ' disk recovered: '
expect_status 0 co stats --hold 0
expect_grep '"event":"granted"' "$TMP/out"
expect_status 0 co stats --count 2 --hold 0
expect_grep '"event":"granted"' "$TMP/out"
[ "$(in_use)" = 2 ] || fail "$(in_use) seats in use after the recovery, expected the holder's 2"
lmd_alive

note "a restart finds the seats held all along"
kill_lmd lmd TERM
grep -q 'handles still open' "$TMP/lmd.log" && fail "lmd left handles open at exit"
lmd_up
wait_log "$TMP/lmd.log" ' resume session='
[ "$(in_use)" = 2 ] || fail "after the restart $(in_use) seats are in use, expected 2"
exit 0
