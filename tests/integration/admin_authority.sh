#!/bin/sh
# Admin authority (lmd/admin_auth.h): the source address grants nothing; root
# and the admin group use the admin socket; anyone else needs a request
# signed with an admin key, which cannot be replayed.  Every attempt, allowed
# or refused, is in the audit trail (lmd's log, lmstat, the report log), and
# lmstat shows holders to admins and to their own user only.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"

need_test_hooks
need_cmd setpriv
[ "$(id -u)" -eq 0 ] || skip "needs root to play another local user"
python3 -c 'import cryptography' 2>/dev/null || skip "needs python3-cryptography"

single_server 'FEATURE stats acme 1.0 permanent 5'
# nobody must reach the network port and, for the admin-group case, the
# socket's directory: nothing else of $TMP.
chmod 711 "$TMP"
mkdir -m 755 "$TMP/run"
SOCK=$TMP/run/admin.sock

note "admin-keygen: a 0600 key and its public line"
expect_status 0 "$LMUTIL" admin-keygen alice "$TMP/alice.key"
expect_grep '^alice ed25519 [A-Za-z0-9+/]{43}=$' "$TMP/out"
[ "$(stat -c %a "$TMP/alice.key")" = 600 ] || fail "alice.key is not 0600"
cp "$TMP/out" "$TMP/admin-keys"
expect_status 0 "$LMUTIL" admin-keygen mallory "$TMP/mallory.key"
expect_status 1 "$LMUTIL" admin-keygen alice "$TMP/alice.key"
expect_grep 'exists' "$TMP/err"

single_lmd lmd --admin-socket "$SOCK" --admin-keys "$TMP/admin-keys" \
	--report-log "$TMP/report.log"
expect_grep "admin socket $SOCK" "$TMP/lmd.log"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "the admin socket is not 0660"

co_bg() { (exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@") & }
co_bg stats --hold 600 >"$TMP/hold.json" 2>&1
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_log "$TMP/hold.json" '"event":"granted"'

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

note "a local user outside the admin group can neither lmremove, lmreread nor lmdown"
expect_status 1 as_nobody "$LMUTIL" lmremove -c "$S" stats root "$(hostname)"
expect_grep 'needs admin authority' "$TMP/err"
expect_status 1 as_nobody "$LMUTIL" lmreread -c "$S"
expect_grep 'needs admin authority' "$TMP/err"
expect_status 1 as_nobody "$LMUTIL" lmdown -c "$S"
expect_grep 'needs admin authority' "$TMP/err"
kill -0 "$(cat "$TMP/lmd.pid")" || fail "lmd stopped on nobody's lmdown"
[ "$(in_use)" = 1 ] || fail "nobody's lmremove returned the seat"

note "nobody's lmstat shows the count, not root's seat"
expect_status 0 as_nobody "$LMUTIL" lmstat -a -c "$S"
expect_grep 'Total of 1 license in use' "$TMP/out"
if grep -q '^    root ' "$TMP/out"; then fail "nobody sees root's seat: $(cat "$TMP/out")"; fi
expect_status 0 "$LMUTIL" lmstat -a -c "$S"
expect_grep '^    root ' "$TMP/out"

note "signed remote requests: none, unknown key, wrong key, tampered, replayed are refused"
PYTHONPATH=$TESTS_SRCDIR/integration python3 "$TESTS_SRCDIR/integration/admin_signed.py" \
	"$port" "$TMP/alice.key" "$TMP/mallory.key" >"$TMP/signed.out" 2>&1 ||
	fail "admin_signed.py: $(cat "$TMP/signed.out")"
cat "$TMP/signed.out"
[ "$(grep -c 'refused' "$TMP/signed.out")" = 8 ] || fail "not 8 refusals"
expect_grep '^valid signature: accepted' "$TMP/signed.out"

note "lmutil signs with LM_ADMIN_KEY, even for a user outside the admin group"
chmod 644 "$TMP/alice.key"
LM_ADMIN_KEY=$TMP/alice.key expect_status 2 "$LMUTIL" lmreread -c "$S"
expect_grep 'others may read it' "$TMP/err"
chmod 600 "$TMP/alice.key"
cp "$TMP/alice.key" "$TMP/alice-nobody.key"
chown nobody "$TMP/alice-nobody.key"
LM_ADMIN_KEY=$TMP/alice-nobody.key expect_status 0 as_nobody "$LMUTIL" lmreread -c "$S"
LM_ADMIN_KEY=$TMP/mallory.key expect_status 1 "$LMUTIL" lmreread -c "$S"
expect_grep 'admin request refused: no such admin key' "$TMP/err"

note "hostile bytes on the admin socket change nothing"
before=$(grep -c ' admin ' "$TMP/lmd.log")
python3 - "$SOCK" <<'PY'
import os, socket, struct, sys
def send(data):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    try:
        s.sendall(data)
        s.settimeout(2)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
send(os.urandom(4096))
send(struct.pack(">I", 0xFFFFFFF0) + b"x" * 100)
send(struct.pack(">I", 5) + b"\xff\xff\xff\xff\xff")
# A shutdown before Hello, and a signed request wrapping garbage.
send(struct.pack(">I", 6) + b"\x08\x01\x10\x01\xba\x01" + b"\x00")
PY
kill -0 "$(cat "$TMP/lmd.pid")" || fail "lmd died of hostile bytes"
[ "$(in_use)" = 1 ] || fail "hostile bytes changed the pool"
[ "$(grep -c ' admin ' "$TMP/lmd.log")" = "$before" ] || fail "hostile bytes made admin actions"

note "root uses the admin socket: lmremove, and lmstat lists the last admin actions"
expect_status 0 "$LMUTIL" lmremove -c "$S" stats root "$(hostname)"
expect_grep 'removed 1 seat' "$TMP/out"
wait_log "$TMP/hold.json" '"lost"' 10
expect_status 0 "$LMUTIL" lmstat -a --lmd -c "$S"
expect_grep '^Last admin actions:' "$TMP/out"
expect_grep 'lmremove allowed by uid=0\(root\) from admin-socket' "$TMP/out"
expect_status 0 "$LMUTIL" lmstat -c "$S" --json
python3 - "$TMP/out" <<'PY' || fail "lmstat --json admin_actions: $(cat "$TMP/out")"
import json, sys
acts = json.load(open(sys.argv[1]))["admin_actions"]
seen = {(a["action"], a["outcome"], a["who"].split(" ")[0]) for a in acts}
assert ("lmremove", "refused", "user=nobody") in seen, seen
assert ("lmdown", "refused", "user=nobody") in seen, seen
assert ("lmreread", "allowed", "key=alice") in seen, seen
assert ("signed", "refused", "key=mallory") in seen, seen
assert ("lmremove", "allowed", "uid=0(root)") in seen, seen
PY
expect_status 0 as_nobody "$LMUTIL" lmstat -c "$S" --json
expect_grep '"admin_actions":\[\]' "$TMP/out"

note "every attempt is in lmd's log and in the report log, which still verifies"
expect_grep ' admin lmdown REFUSED by user=nobody \(unauthenticated\) from 127\.0\.0\.1:' "$TMP/lmd.log"
expect_grep ' admin lmreread allowed by key=alice from 127\.0\.0\.1:' "$TMP/lmd.log"
python3 - "$TMP/report.log" <<'PY' || fail "report log: $(grep admin "$TMP/report.log")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
adm = [(r["action"], r["outcome"], r["who"].split(" ")[0]) for r in recs if r["event"] == "admin"]
for want in [("lmremove", "refused", "user=nobody"), ("lmreread", "refused", "user=nobody"),
             ("lmdown", "refused", "user=nobody"), ("lmreread", "refused", "user=wire"),
             ("signed", "refused", "key=alice"), ("signed", "refused", "key=mallory"),
             ("lmreread", "allowed", "key=alice"), ("lmremove", "allowed", "uid=0(root)")]:
    assert want in adm, (want, adm)
assert any(r["event"] == "leader" and r["node"] == 1 for r in recs), "no leader record"
PY
expect_status 0 "$LMUTIL" report --verify "$TMP/report.log"

note "root's lmdown goes through the socket, which lmd removes"
expect_status 0 "$LMUTIL" lmdown -c "$S"
n=0
while kill -0 "$(cat "$TMP/lmd.pid")" 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "lmd still running after root's lmdown"
	sleep 0.1
done
[ ! -e "$SOCK" ] || fail "the admin socket outlived lmd"

note "--admin-group: a member uses the socket (SO_PEERCRED), the group owns it"
single_lmd lmd2 --admin-socket "$SOCK" --admin-group nogroup
[ "$(stat -c %G "$SOCK")" = nogroup ] || fail "the socket's group is not nogroup"
expect_status 0 as_nobody "$LMUTIL" lmreread -c "$S"
expect_grep 'lmreread allowed by uid=[0-9]*\(nobody\) from admin-socket' "$TMP/lmd2.log"
expect_status 0 as_nobody "$LMUTIL" lmdown -c "$S"
wait_log "$TMP/lmd2.log" 'stopped'

note "--remote-admin is gone, and says what replaced it"
expect_status 2 "$LMD" --remote-admin -c "$TMP/server.lic"
expect_grep 'admin-keys' "$TMP/err"

note "a malformed --admin-keys file stops lmd at start, naming the line"
printf '# keys\nbob ed25519 AAAA\n' >"$TMP/bad-keys"
LM_HOSTID_ROOT=$TMP/m1 expect_status 1 "$LMD" -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/lmd3.data" --listen 127.0.0.1 --peer-port "$(free_port)" \
	--admin-keys "$TMP/bad-keys"
expect_grep 'admin-keys .*bad-keys line 2: the public key is not 32 bytes of base64' "$TMP/err"
