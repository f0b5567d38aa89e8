#!/bin/sh
# The files lmd trusts: the license must be a regular file (a FIFO is
# refused at start and at lmreread, and never stalls the server); lmreread
# runs the start's checks (this machine, the same SERVER lines) off the
# event loop, one at a time; one lmd per license and server, one lmd per
# data directory; the data directory is private and lmd follows no link
# inside it.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks
need_cmd timeout mkfifo stat

make_vendor
code=$(make_server_machine 1)
code2=$(make_server_machine 2)
port=$(free_port)
S=$port@127.0.0.1
cat >"$TMP/template.lic" <<LIC
SERVER 127.0.0.1 $code $port
VENDOR acme
FEATURE stats acme 29.0 permanent 5
LIC
sign_license "$TMP/template.lic" "$TMP/server.lic"
# Administrators link license files into place: lmd follows that link.
ln -s "$TMP/server.lic" "$TMP/live.lic"
# Only lmd runs as the simulated machine m1: the tools probe the real one,
# so that the test can hold m1's criteria below.
M1="LM_HOSTID_ROOT=$TMP/m1"

# A license of another vendor for this same machine: another license, so
# only the data directory can conflict.
"$LMVENDOR" keygen "$TMP/other.pem" "$TMP/other.pub" >/dev/null || fail "keygen"
port_o=$(free_port)
sed "s/ $port\$/ $port_o/" "$TMP/template.lic" >"$TMP/other.tmpl"
"$LMVENDOR" sign --key "$TMP/other.pem" "$TMP/other.tmpl" >"$TMP/other.lic" || fail "sign"
# Starts the other vendor's lmd on data directory $1 in the foreground; a
# refusal must come at once, so a server that starts is a failure.
other_lmd()
{
	timeout 20 env "$M1" "$LMD" -c "$TMP/other.lic" --pubkey "$TMP/other.pub" --data "$1" \
		--listen 127.0.0.1 --peer-port "$(free_port)"
}

stats_issued()
{
	timeout 10 "$LMUTIL" lmstat -c "$S" -f stats --json |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["features"][0]["issued"])'
}

note "a FIFO as license: lmd refuses it at start instead of waiting for a writer"
mkfifo "$TMP/fifo.lic"
expect_status 1 timeout 20 env "$M1" "$LMD" -c "$TMP/fifo.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/dfifo" --port "$(free_port)" --peer-port "$(free_port)"
expect_grep 'fifo.lic is a FIFO, not a regular file' "$TMP/err"

LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/live.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/data" \
	--listen 127.0.0.1 --peer-port "$(free_port)"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'
pid=$(cat "$TMP/lmd.pid")

note "the data directory is created 0700, node-id written 0600"
[ "$(stat -c %a "$TMP/data")" = 700 ] || fail "data directory mode $(stat -c %a "$TMP/data")"
[ "$(stat -c %a "$TMP/data/node-id")" = 600 ] ||
	fail "node-id mode $(stat -c %a "$TMP/data/node-id")"
[ "$(cat "$TMP/data/node-id")" = 1 ] || fail "node-id holds $(cat "$TMP/data/node-id")"

note "a FIFO at lmreread: refused at once, and lmstat is answered meanwhile"
rm "$TMP/live.lic"
mkfifo "$TMP/live.lic"
(timeout 20 "$LMUTIL" lmreread -c "$S" >"$TMP/fifo.out" 2>"$TMP/fifo.err"; echo $? >"$TMP/fifo.rc") &
reread=$!
sleep 0.3
expect_status 0 timeout 10 "$LMUTIL" lmstat -c "$S" -f stats --json
wait "$reread"
[ "$(cat "$TMP/fifo.rc")" = 1 ] || fail "lmreread of a FIFO exited $(cat "$TMP/fifo.rc")"
expect_grep 'live.lic is a FIFO, not a regular file.*still serving the previous license' \
	"$TMP/fifo.err"
expect_grep ' reread refused, still serving the previous license: .*live.lic is a FIFO' \
	"$TMP/lmd.log"
rm "$TMP/live.lic"
ln -s "$TMP/server.lic" "$TMP/live.lic"

note "lmreread refuses a license for another machine, and changes nothing"
sed -e "s/ $code / $code2 /" -e 's/permanent 5$/permanent 50/' "$TMP/template.lic" \
	>"$TMP/rehosted.tmpl"
sign_license "$TMP/rehosted.tmpl" "$TMP/rehosted.lic"
cp "$TMP/rehosted.lic" "$TMP/server.lic"
expect_status 1 timeout 20 "$LMUTIL" lmreread -c "$S"
expect_grep 'this machine is not the server this license names' "$TMP/err"
expect_grep "$code2" "$TMP/err"
expect_grep ' reread refused, .*this machine is not the server' "$TMP/lmd.log"
[ "$(stats_issued)" = 5 ] || fail "a refused reread changed the seats: $(stats_issued) issued"

note "lmreread refuses changed SERVER lines: they need a restart"
sed -e "s/ $port\$/ $((port + 1))/" -e 's/permanent 5$/permanent 50/' "$TMP/template.lic" \
	>"$TMP/moved.tmpl"
sign_license "$TMP/moved.tmpl" "$TMP/server.lic"
expect_status 1 timeout 20 "$LMUTIL" lmreread -c "$S"
expect_grep 'SERVER line 1 is now 127.0.0.1 port [0-9]+, the running servers have .* needs a restart of lmd' "$TMP/err"
[ "$(stats_issued)" = 5 ] || fail "a refused reread changed the seats: $(stats_issued) issued"

note "a reread in flight: lmstat is answered, a second reread is told to wait"
sed 's/permanent 5$/permanent 7/' "$TMP/template.lic" >"$TMP/seven.tmpl"
sign_license "$TMP/seven.tmpl" "$TMP/server.lic"
# The reread's host check reads this (simulated) machine's machine-id: as a
# FIFO it holds the reread in the thread pool until the test writes it.
mid="$TMP/m1/etc/machine-id"
cp "$mid" "$TMP/machine-id"
rm "$mid"
mkfifo "$mid"
(timeout 20 "$LMUTIL" lmreread -c "$S" >"$TMP/slow.out" 2>"$TMP/slow.err"; echo $? >"$TMP/slow.rc") &
reread=$!
# Opening a FIFO for writing without blocking succeeds once it has a
# reader: the reread is then under way, and waits until the writer writes.
python3 - "$mid" "$TMP" <<'PY' &
import os, sys, time
fifo, tmp = sys.argv[1], sys.argv[2]
deadline = time.time() + 15
fd = None
while fd is None and time.time() < deadline:
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        time.sleep(0.02)
if fd is None:
    sys.exit(1)
open(tmp + "/held", "w").write("held\n")
while not os.path.exists(tmp + "/release") and time.time() < deadline:
    time.sleep(0.02)
os.write(fd, open(tmp + "/machine-id", "rb").read())
os.close(fd)
PY
holder=$!
wait_log "$TMP/held" held 15
expect_status 0 timeout 10 "$LMUTIL" lmstat -c "$S" -f stats --json
expect_status 1 timeout 10 "$LMUTIL" lmreread -c "$S"
expect_grep 'a reread is already running' "$TMP/err"
touch "$TMP/release"
wait "$holder" || fail "the machine-id writer failed"
wait "$reread"
[ "$(cat "$TMP/slow.rc")" = 0 ] || fail "the held reread failed: $(cat "$TMP/slow.err")"
expect_grep 'reloaded 1 license lines' "$TMP/slow.out"
rm "$mid"
cp "$TMP/machine-id" "$mid"
n=0
until [ "$(stats_issued)" = 7 ]; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "the reread did not serve 7 seats"
	sleep 0.1
done

note "a second lmd of the same license is refused, whatever its --port and --data"
expect_status 1 timeout 20 env "$M1" "$LMD" -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/data2" --listen 127.0.0.1 --port "$(free_port)" --peer-port "$(free_port)"
expect_grep "process $pid \\(uid [0-9]+\\) already serves this license" "$TMP/err"
expect_grep 'Stop that lmd first' "$TMP/err"
note "... also from a copy with the SERVER port edited (not signed)"
sed "s/^SERVER 127.0.0.1 $code $port\$/SERVER 127.0.0.1 $code $port_o/" "$TMP/server.lic" \
	>"$TMP/copy.lic"
expect_status 1 timeout 20 env "$M1" "$LMD" -c "$TMP/copy.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/data3" --listen 127.0.0.1 --peer-port "$(free_port)"
expect_grep "process $pid \\(uid [0-9]+\\) already serves this license" "$TMP/err"
[ "$(stats_issued)" = 7 ] || fail "the first lmd stopped serving"

note "a second lmd on the same --data is refused"
expect_status 1 other_lmd "$TMP/data"
expect_grep "data is in use by another lmd \\(pid $pid\\)" "$TMP/err"

note "a world-writable data directory is refused"
mkdir "$TMP/open"
chmod 0777 "$TMP/open"
expect_status 1 other_lmd "$TMP/open"
expect_grep 'open is writable by others \(mode 0777\).*chmod go-w' "$TMP/err"
note "... and so is a group-writable raft directory"
mkdir -p "$TMP/group/raft"
chmod 0770 "$TMP/group/raft"
expect_status 1 other_lmd "$TMP/group"
expect_grep 'group/raft is writable by its group' "$TMP/err"

note "data/pool as a symbolic link is refused, and what it points to is untouched"
mkdir -p "$TMP/linked" "$TMP/elsewhere"
echo precious >"$TMP/elsewhere/data.mdb"
ln -s "$TMP/elsewhere" "$TMP/linked/pool"
expect_status 1 other_lmd "$TMP/linked"
expect_grep 'linked/pool is a symbolic link' "$TMP/err"
[ "$(cat "$TMP/elsewhere/data.mdb")" = precious ] || fail "the file behind data/pool was replaced"

note "a link at node-id.tmp is removed, never written through"
mkdir "$TMP/trap"
echo precious >"$TMP/victim"
ln -s "$TMP/victim" "$TMP/trap/node-id.tmp"
LM_HOSTID_ROOT="$TMP/m1" start_lmd other -c "$TMP/other.lic" --pubkey "$TMP/other.pub" --data "$TMP/trap" \
	--listen 127.0.0.1 --peer-port "$(free_port)"
wait_port "$port_o"
[ "$(cat "$TMP/victim")" = precious ] || fail "node-id was written through node-id.tmp"
[ ! -L "$TMP/trap/node-id" ] && [ "$(cat "$TMP/trap/node-id")" = 1 ] ||
	fail "node-id is not a file holding 1"
[ "$(stat -c %a "$TMP/trap/node-id")" = 600 ] || fail "node-id is not 0600"
kill_lmd other TERM

note "a 4,000-line license is reread while lmstat keeps answering"
{
	echo "SERVER 127.0.0.1 $code $port"
	echo "VENDOR acme"
	echo "FEATURE stats acme 29.0 permanent 5"
	i=1
	while [ $i -le 4000 ]; do
		echo "FEATURE f$i acme 1.0 permanent 2"
		i=$((i + 1))
	done
} >"$TMP/big.tmpl"
sign_license "$TMP/big.tmpl" "$TMP/server.lic"
# Spoken on the wire (tests/integration/wire.py's encoding), so that the
# figures are the server's and not lmutil's start-up.
# The reread goes through the admin socket, as root's lmutil does: the
# source address grants no admin authority.
python3 - "$port" "$TMP/data/admin.sock" <<'PY' || fail "status requests during the big reread"
import select, socket, struct, sys, time
def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)
def fbytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data
def send(sock, request_id, body_field, body):
    env = varint(1 << 3) + varint(1) + varint(2 << 3) + varint(request_id) + fbytes(body_field, body)
    sock.sendall(struct.pack(">I", len(env)) + env)
def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data
def recv(sock):
    return recv_exact(sock, struct.unpack(">I", recv_exact(sock, 4))[0])
def connect(unix_path=None):
    if unix_path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(unix_path)
    else:
        sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    send(sock, 1, 10, fbytes(1, b"wire") + fbytes(2, b"testhost") + varint(4 << 3) + varint(4242))
    recv(sock)
    return sock
def status(sock, rid):
    t = time.monotonic()
    send(sock, rid, 20, fbytes(1, b"stats"))
    recv(sock)
    return (time.monotonic() - t) * 1000
c = connect()
idle = sorted(status(c, 10 + i) for i in range(20))
admin = connect(sys.argv[2])
t0 = time.monotonic()
send(admin, 2, 24, b"")
during = []
while not select.select([admin], [], [], 0)[0]:
    during.append(status(c, 100 + len(during)))
reply = recv(admin)
took = (time.monotonic() - t0) * 1000
assert b"reloaded 4001 license lines" in reply, reply
print("-- status latency: idle median %.2f ms; during the %.0f ms reread %d answered, "
      "median %.2f ms, max %.2f ms" % (idle[10], took, len(during),
      sorted(during)[len(during) // 2] if during else 0, max(during) if during else 0))
PY
n=0
until timeout 10 "$LMUTIL" lmstat -c "$S" -f f4000 --json 2>/dev/null | grep -q '"issued":2'; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "the big license is not served"
	sleep 0.1
done
grep ' reread ' "$TMP/lmd.log" | tail -n 1
exit 0
