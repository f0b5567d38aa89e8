#!/bin/sh
# lmd's log under systemd: when its stderr is the journal stream, whose
# device and inode systemd puts in JOURNAL_STREAM (systemd.exec(5)), every
# line starts with its sd-daemon(3) priority (<3> error, <4> warning, <6>
# info) so that `journalctl -p err` finds the errors, and carries no time of
# its own (the journal stamps each line).  JOURNAL_STREAM naming another
# stream (a service whose stderr was redirected since) leaves the plain,
# timestamped line of a terminal or a file.
#
# The test plays systemd's part: lmd's stderr goes to a file, and
# JOURNAL_STREAM names that file's device and inode.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks
need_cmd stat

single_server "FEATURE stats acme 29.0 permanent 1"
# The simulated machine of the SERVER line, for every lmd below.
LM_HOSTID_ROOT=$TMP/m1
export LM_HOSTID_ROOT

# "dev:ino" of a file, in decimal, as systemd writes JOURNAL_STREAM.
stream_of()
{
	stat -c '%d:%i' "$1"
}

# Opens n connections to port at once and holds them a moment: with
# --max-host-connections below n, lmd refuses the last ones (an error line).
crowd()
{
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
time.sleep(0.5)
for c in conns:
    c.close()
PY
}

note "stderr is the stream JOURNAL_STREAM names: priorities, no timestamps"
: >"$TMP/journal.log"
JOURNAL_STREAM=$(stream_of "$TMP/journal.log")
export JOURNAL_STREAM
start_lmd journal -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/data" \
	--listen 127.0.0.1 --max-host-connections 3
unset JOURNAL_STREAM
wait_port "$port"
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" stats
# A license edited after signing: the reread is refused, the old one serves.
cp "$TMP/server.lic" "$TMP/signed.lic"
sed 's/ permanent 1 / permanent 9 /' "$TMP/signed.lic" >"$TMP/server.lic"
expect_status 1 "$LMUTIL" lmreread -c "$S"
cp "$TMP/signed.lic" "$TMP/server.lic"
crowd "$port" 6
wait_log "$TMP/journal.log" 'refused: too many connections from this address'
kill_lmd journal TERM
log=$TMP/journal.log
expect_grep '^<6>node 1 start ' "$log"
expect_grep '^<6>node 1 checkout user=[^ ]+ host=[^ ]+ feature=stats ' "$log"
expect_grep '^<6>node 1 checkin ' "$log"
expect_grep '^<4>node 1 reread refused, still serving the previous license: ' "$log"
expect_grep '^<3>node 1 error peer=127\.0\.0\.1:[0-9]+ refused: too many connections' "$log"
expect_grep '^<6>node 1 stop stopped$' "$log"
grep -v '^<[3467]>node 1 [a-z]' "$log" && fail "lines without a priority or the node: $(cat "$log")"
grep -E '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z' "$log" && fail "a line with its own timestamp"
grep -q 'lmd\[' "$log" && fail "lmd[N] beside the journal's lmd[PID]: $(cat "$log")"

note "a fatal start is an error to the journal too"
: >"$TMP/fatal.log"
JOURNAL_STREAM=$(stream_of "$TMP/fatal.log") "$LMD" -c "$TMP/server.lic" \
	--pubkey "$TMP/other.pub" --data "$TMP/data" --listen 127.0.0.1 2>>"$TMP/fatal.log"
[ $? = 1 ] || fail "lmd with a missing key did not exit with status 1: $(cat "$TMP/fatal.log")"
expect_grep '^<3>node 1 fatal .*other\.pub' "$TMP/fatal.log"

note "JOURNAL_STREAM naming another stream: the plain line"
: >"$TMP/elsewhere"
: >"$TMP/plain.log"
JOURNAL_STREAM=$(stream_of "$TMP/elsewhere")
export JOURNAL_STREAM
start_lmd plain -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/data" \
	--listen 127.0.0.1
unset JOURNAL_STREAM
wait_port "$port"
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" stats
kill_lmd plain TERM
stamp='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
log=$TMP/plain.log
expect_grep "^$stamp lmd\\[1\\] start " "$log"
expect_grep "^$stamp lmd\\[1\\] checkout user=" "$log"
expect_grep "^$stamp lmd\\[1\\] stop stopped\$" "$log"
grep -q '^<[0-9]>' "$log" && fail "a priority prefix outside the journal: $(cat "$log")"

note "... and so does a JOURNAL_STREAM that is not dev:ino"
JOURNAL_STREAM="journal" "$LMD" -c "$TMP/server.lic" --pubkey "$TMP/other.pub" \
	--data "$TMP/data" --listen 127.0.0.1 2>"$TMP/err"
expect_grep "^$stamp lmd\\[1\\] fatal .*other\\.pub" "$TMP/err"
exit 0
