#!/bin/sh
# TLS on the client port, pinned to the server's key (issue 16).  A client
# whose SERVER line pins the key speaks TLS and believes only a server that
# proves that key: an eavesdropper sees no user, host or feature; a man in
# the middle with another key is refused with LMC_EKEYPIN; a session secret
# sniffed off a plaintext connection lets a stranger resume (hijack) the
# session, and off a TLS one it cannot be had.  One port serves
# TLS and plaintext clients (--client-tls allow, the default); with require,
# a plaintext client is told why in plaintext; with off, a pinned client is
# refused with LMC_ETLS.  A handshake that never finishes is closed at its
# deadline, and bytes that only start like TLS do not hurt lmd.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"

make_vendor
code1=$(make_server_machine 1)
"$LMUTIL" lmhostid --server --data "$TMP/lmd.data" --root "$TMP/m1" >"$TMP/hostid" 2>&1 ||
	fail "lmhostid --server failed: $(cat "$TMP/hostid")"
key1=$(last_word "$TMP/hostid")

port=$(free_port)
proxy=$(free_port)
{ echo "SERVER 127.0.0.1 $code1 $port KEY=$key1"; echo "VENDOR acme"; echo "FEATURE stats acme 29.0 permanent 5"; } >"$TMP/pinned.tpl"
sign_license "$TMP/pinned.tpl" "$TMP/pinned.lic"
# The client's copy pointed at the proxy: host and port are not signed, so
# the file stays genuine and its KEY= still applies.
sed "s/^SERVER 127.0.0.1 \([^ ]*\) $port/SERVER 127.0.0.1 \1 $proxy/" "$TMP/pinned.lic" >"$TMP/pinned.proxy.lic"

serve() { # --client-tls MODE; a restart serves once it leads (single_lmd's wait)
	_seen=$(cat "$TMP/lmd.log" 2>/dev/null | wc -l)
	_ready=' license serving'
	[ -d "$TMP/lmd.data" ] && _ready=' (license|leader) serving'
	LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/pinned.lic" --pubkey "$TMP/vendor.pub" \
		--data "$TMP/lmd.data" --listen 127.0.0.1 --peer-port "$(free_port)" --client-tls "$1"
	wait_port "$port"
	wait_log_after "$_seen" "$TMP/lmd.log" "$_ready"
}
proxy_pid=
through() { # record FILE | mitm CERT KEY
	[ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
	: >"$TMP/proxy.out"
	python3 "$TESTS_SRCDIR/integration/tls_proxy.py" "$1" "$proxy" "$port" "$2" ${3:+"$3"} \
		>"$TMP/proxy.out" 2>&1 &
	proxy_pid=$!
	at_exit "kill $proxy_pid 2>/dev/null"
	wait_log "$TMP/proxy.out" '^ready'
}
co() { # FILE [env...]: one checkout of stats, its events in $TMP/out
	_co_file=$1
	shift
	env "$@" "$LMUTIL" checkout -c "$_co_file" --pubkey "$TMP/vendor.pub" --json --hold 0 stats
}
granted() { expect_grep '"event":"granted"' "$TMP/out"; }
user=$(id -un)

serve allow
note "a pinned client speaks TLS: an eavesdropper sees a handshake, no user, host or feature"
through record "$TMP/pinned.seen"
expect_status 0 co "$TMP/pinned.proxy.lic"
granted
[ "$(head -c 1 "$TMP/pinned.seen" | od -An -tx1 | tr -d ' ')" = 16 ] ||
	fail "the pinned client's first byte is not a TLS handshake record"
for word in stats "$user" "$(hostname)" acme; do
	grep -aq -- "$word" "$TMP/pinned.seen" && fail "'$word' crossed the network in clear"
done

# A client that names the server as port@host has no pin (the keys
# signed into the granted line still decide whether it believes a grant).
note "an unpinned client stays plaintext by default (what the eavesdropper above would see)"
through record "$TMP/plain.seen"
expect_status 0 co "$proxy@127.0.0.1"
granted
grep -aq stats "$TMP/plain.seen" || fail "the plaintext capture does not show the feature"
grep -aq -- "$user" "$TMP/plain.seen" || fail "the plaintext capture does not show the user"

note "LMC_TLS=on encrypts to an unpinned server too; require refuses it"
through record "$TMP/on.seen"
expect_status 0 co "$proxy@127.0.0.1" LMC_TLS=on
granted
grep -aq stats "$TMP/on.seen" && fail "LMC_TLS=on sent the feature in clear"
expect_status 1 co "$proxy@127.0.0.1" LMC_TLS=require
expect_grep LMC_EKEYPIN "$TMP/out"
note "LMC_TLS=off does not downgrade a pinned server"
through record "$TMP/off.seen"
expect_status 0 co "$TMP/pinned.proxy.lic" LMC_TLS=off
grep -aq stats "$TMP/off.seen" && fail "LMC_TLS=off downgraded a pinned server to plaintext"
expect_status 1 co "$proxy@127.0.0.1" LMC_TLS=bogus
expect_grep 'LMC_TLS=bogus: say off, on or require' "$TMP/out"

note "a man in the middle with another key is refused with LMC_EKEYPIN"
openssl req -x509 -newkey ed25519 -nodes -keyout "$TMP/mitm.key" -out "$TMP/mitm.crt" \
	-subj /CN=lmd -days 2 >/dev/null 2>&1 || fail "openssl cannot make the proxy's certificate"
through mitm "$TMP/mitm.crt" "$TMP/mitm.key"
expect_status 1 co "$TMP/pinned.proxy.lic"
expect_grep LMC_EKEYPIN "$TMP/out"
expect_grep "the server proved the key [0-9A-Z-]+, not the pinned $key1" "$TMP/out"
grep -q '"granted"' "$TMP/out" && fail "a seat was granted through the man in the middle"
note "lmutil lmstat refuses the man in the middle as well, and speaks TLS to the pinned server"
expect_status 0 "$LMUTIL" lmstat -c "$TMP/pinned.proxy.lic" -a
expect_grep "the server proved the key [0-9A-Z-]+, not the pinned $key1.*\(LMC_EKEYPIN\)" "$TMP/err"
grep -q 'license server UP' "$TMP/out" && fail "lmstat believed the man in the middle"
note "...while it fools a client that asked for encryption only (LMC_TLS=on, no pin)"
expect_status 0 co "$proxy@127.0.0.1" LMC_TLS=on
granted

through record "$TMP/lmstat.seen"
expect_status 0 "$LMUTIL" lmstat -c "$TMP/pinned.proxy.lic" -a
expect_grep 'stats' "$TMP/out"
grep -aq -- "$user" "$TMP/lmstat.seen" && fail "lmstat's Hello crossed the network in clear"

note "an old-style plaintext client still works on allow"
python3 - "$port" <<'PY' || fail "a plaintext client was refused on allow"
import os, sys
sys.path.insert(0, os.path.join(os.environ["TESTS_SRCDIR"], "integration"))
import wirelib
c = wirelib.Client(int(sys.argv[1]))
c.hello()
c.open_session()
PY

note "a handshake that stops after its first bytes is closed at the deadline"
python3 - "$port" <<'PY' || fail "a dribbled handshake was not closed in time"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\x16\x03")
start = time.time()
s.settimeout(20)
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
took = time.time() - start
assert data == b"", data
assert 4 <= took <= 9, "closed after %.1f s, expected about 5" % took
PY
expect_grep 'did not finish its TLS handshake within 5000 ms' "$TMP/lmd.log"

note "bytes that start like TLS but are not do not hurt lmd"
python3 - "$port" <<'PY' || fail "garbage after 0x16 was not refused cleanly"
import os, random, socket, sys
port = int(sys.argv[1])
rng = random.Random(16)
cases = [b"\x16" + os.urandom(n) for n in (1, 5, 300, 5000, 70000)]
cases += [b"\x16\x03\x01\xff\xff" + bytes(rng.randrange(256) for _ in range(2000))]
cases += [b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"]  # a ClientHello of one byte
for data in cases:
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    try:
        s.sendall(data)
        while s.recv(4096):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    s.close()
PY
expect_status 0 co "$TMP/pinned.lic"
granted
expect_grep 'TLS failed: ' "$TMP/lmd.log"

note "a session secret sniffed in plaintext lets a stranger resume the session; over TLS it is never seen"
# The control first: the attack is real on a plaintext connection.
through record "$TMP/plain.seen"
expect_status 0 python3 "$TESTS_SRCDIR/integration/hijack.py" plain "$proxy" "$port" "$TMP/plain.seen"
expect_grep '^hijacked' "$TMP/out"
through record "$TMP/tls.seen"
expect_status 0 python3 "$TESTS_SRCDIR/integration/hijack.py" tls "$proxy" "$port" "$TMP/tls.seen"
expect_grep '^secret not seen' "$TMP/out"

note "require: a plaintext client is told in plaintext, a new one upgrades"
kill_lmd lmd TERM
serve require
python3 - "$port" <<'PY' || fail "a plaintext client on require did not get LMC_ENEEDTLS"
import os, sys
sys.path.insert(0, os.path.join(os.environ["TESTS_SRCDIR"], "integration"))
import wirelib
c = wirelib.Client(int(sys.argv[1]))
c.send_raw(wirelib.frame(wirelib.envelope(0, 10, wirelib.field_bytes(1, b"old"))))
text = wirelib.expect_error(c.recv(), -36)
assert "accepts only TLS connections" in text and "LMC_TLS=on" in text, text
wirelib.expect_closed(c)
PY
expect_status 0 co "$TMP/pinned.lic"
granted
expect_status 0 co "$port@127.0.0.1"
granted
expect_status 0 "$LMUTIL" lmstat -c "$port@127.0.0.1" -a
expect_grep 'stats' "$TMP/out"

note "off: a pinned client finds no TLS and says so"
kill_lmd lmd TERM
serve off
expect_status 1 co "$TMP/pinned.lic"
expect_grep LMC_ETLS "$TMP/out"
expect_grep 'older than TLS or runs with --client-tls off' "$TMP/out"
expect_status 0 co "$port@127.0.0.1"
granted
