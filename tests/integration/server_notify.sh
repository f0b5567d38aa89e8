#!/bin/sh
# lmd as a Type=notify systemd service (sd_notify(3)): started with
# NOTIFY_SOCKET naming a datagram socket the test reads, it says READY=1 once
# it listens, then a STATUS line with its role and seats in use that follows
# a checkout, and STOPPING=1 when it is told to stop.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 3"
python3 - "$TMP/notify.sock" "$TMP/notify.txt" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(90)
with open(sys.argv[2], "a") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        # One message a line, its fields separated by |.
        out.write(msg.replace("\n", "|") + "\n")
        out.flush()
        if "STOPPING=1" in msg:
            break
PY
listener=$!
at_exit "kill $listener 2>/dev/null"
until [ -S "$TMP/notify.sock" ]; do sleep 0.05; done

NOTIFY_SOCKET="$TMP/notify.sock" LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" \
	--pubkey "$TMP/vendor.pub" --data "$TMP/data" --listen 127.0.0.1
wait_log "$TMP/notify.txt" "^READY=1\|STATUS=listening on port $port"
wait_log "$TMP/notify.txt" "STATUS=serving on port $port: 0 sessions, 0 seats in use"

note "a seat held shows in the status within its 5 s period"
(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --count 2 --hold 60 stats \
	>"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
at_exit "kill -9 $holder 2>/dev/null"
wait_log "$TMP/holder.json" '"granted"'
wait_log "$TMP/notify.txt" "STATUS=serving on port $port: 1 sessions, 2 seats in use" 15
kill -TERM "$holder"
wait "$holder"

note "stopping"
kill_lmd lmd TERM
wait_log "$TMP/notify.txt" "^STOPPING=1"
wait "$listener"
grep -c READY=1 "$TMP/notify.txt" | grep -qx 1 || fail "READY=1 more than once: $(cat "$TMP/notify.txt")"
exit 0
