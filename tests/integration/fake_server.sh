#!/bin/sh
# An emulator replaying a customer's genuine license lines (issue 16): a
# fake lmd (fake_server.py) grants whatever is asked under lines the vendor
# really signed.  liblmc refuses it in every variant: more seats than the
# line has, a line that expired, one that has not started, a line for
# other servers' lock codes, and, when the SERVER lines pin the server's
# key, a grant that the pinned key did not sign (none, a real server's
# grant replayed, one signed by the emulator's own key).  The real lmd with
# the pinned key serves; lmd refuses to start when its SERVER line pins
# another key, or when its key is readable by others.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks # LM_TEST_PINNED_PLAINTEXT, below

make_vendor
code1=$(make_server_machine 1)
code2=$(make_server_machine 2)
"$LMUTIL" lmhostid --server --data "$TMP/lmd.data" --root "$TMP/m1" >"$TMP/hostid" 2>&1 ||
	fail "lmhostid --server failed: $(cat "$TMP/hostid")"
key1=$(last_word "$TMP/hostid")
expect_grep "^The lock code of this machine is: $code1\$" "$TMP/hostid"
[ "$(stat -c %a "$TMP/lmd.data")" = 700 ] || fail "the data directory is not 0700"
[ "$(stat -c %a "$TMP/lmd.data/server-key")" = 600 ] || fail "server-key is not 0600"
"$LMUTIL" lmhostid --server --data "$TMP/other.data" --root "$TMP/m2" >"$TMP/hostid2" 2>&1
key2=$(last_word "$TMP/hostid2")
[ "$key1" != "$key2" ] || fail "two data directories got the same key"

port=$(free_port)
fake=$(free_port)
S=$port@127.0.0.1
past=$(date -u -d '-3 days' +%Y-%m-%d)
future=$(date -u -d '+3 days' +%Y-%m-%d)
lines() {
	echo "VENDOR acme"
	echo "FEATURE stats acme 29.0 permanent 5"
	echo "FEATURE old acme 29.0 $past 5"
	echo "FEATURE future acme 29.0 permanent 5 START=$future"
	echo "FEATURE office acme 29.0 permanent 5"
}
{ echo "SERVER 127.0.0.1 $code1 $port KEY=$key1"; lines; } >"$TMP/pinned.tpl"
{ echo "SERVER 127.0.0.1 $code1 $port"; lines; } >"$TMP/plain.tpl"
{ echo "SERVER 127.0.0.1 $code2 $port KEY=$key2"; echo "VENDOR acme"; echo "FEATURE stats acme 29.0 permanent 500"; } >"$TMP/other-pinned.tpl"
{ echo "SERVER 127.0.0.1 $code2 $port"; echo "VENDOR acme"; echo "FEATURE stats acme 29.0 permanent 500"; } >"$TMP/other-plain.tpl"
for f in pinned plain other-pinned other-plain; do
	sign_license "$TMP/$f.tpl" "$TMP/$f.lic"
	# The customer's copy pointed at the emulator: host and port are not
	# signed (a server may move), so the file stays genuine.
	sed "s/^SERVER 127.0.0.1 \([^ ]*\) $port/SERVER 127.0.0.1 \1 $fake/" "$TMP/$f.lic" >"$TMP/$f.fake.lic"
done

note "the real lmd with the pinned key serves, named by the file or by port@host"
LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/pinned.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/lmd.data" --listen 127.0.0.1 --peer-port "$(free_port)"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'
co() { "$LMUTIL" checkout -c "$1" --pubkey "$TMP/vendor.pub" --json --hold 0 "$2" ${3:+--count "$3"}; }
expect_status 0 co "$TMP/pinned.lic" stats 2
expect_status 0 co "$S" stats 1

note "record a genuine grant and the genuine lines, as an attacker on the network would"
python3 - "$port" "$TMP" "$code1" "$key1" "$code2" "$key2" "$past" "$future" <<'PY' || fail "recording failed"
import json, os, re, sys
sys.path.insert(0, os.path.join(os.environ["TESTS_SRCDIR"], "integration"))
import wirelib
port, tmp, code1, key1, code2, key2, past, future = sys.argv[1:]
port = int(port)

def signatures(path):
    text = open(path).read().replace("\\\n", " ")
    return {m.group(1): wirelib.signature_bytes(m.group(2)).hex()
            for m in re.finditer(r"^FEATURE (\S+) .*SIGN=(\S+)", text, re.M)}

def canonical(rest, code, key):
    return rest + ' SERVER_CODES="%s"' % code + (' SERVER_KEYS="%s"' % key if key else "")

c = wirelib.Client(port)
c.hello()
c.open_session()
body, reply, _ = c.call(7, wirelib.CHECKOUT, wirelib.field_bytes(1, b"stats") +
                        wirelib.field_bytes(2, b"29.0") + wirelib.field_varint(3, 1) +
                        wirelib.field_bytes(5, os.urandom(16)))
assert body == wirelib.CHECKOUT_REPLY, reply
license = wirelib.parse(reply[3][0])
recorded = {"text": license[1][0].decode(), "sig": license[2][0].hex(),
            "grant_time_ms": reply[4][0], "grant_signature": reply[5][0].hex()}
for pin, suffix in ((True, "pinned"), (False, "plain")):
    sigs = signatures("%s/%s.lic" % (tmp, suffix))
    other = signatures("%s/other-%s.lic" % (tmp, suffix))
    k1, k2 = (key1, key2) if pin else ("", "")
    lines = {
        "stats": {"text": canonical("FEATURE stats acme 29.0 permanent 5", code1, k1), "sig": sigs["stats"]},
        "old": {"text": canonical("FEATURE old acme 29.0 %s 5" % past, code1, k1), "sig": sigs["old"]},
        "future": {"text": canonical('FEATURE future acme 29.0 permanent 5 START="%s"' % future, code1, k1), "sig": sigs["future"]},
        # A component of package office granted under the package's
        # genuine enabling line, without the PACKAGE line that lists it.
        "write": {"text": canonical("FEATURE office acme 29.0 permanent 5", code1, k1), "sig": sigs["office"]},
        "recorded": recorded,
    }
    if pin:
        # The canonical text built here is the one lmd sends.
        assert lines["stats"]["text"] == recorded["text"], (lines["stats"], recorded)
        assert lines["stats"]["sig"] == recorded["sig"]
    json.dump(lines, open("%s/%s.json" % (tmp, suffix), "w"))
    json.dump({"stats": {"text": canonical("FEATURE stats acme 29.0 permanent 500", code2, k2),
                         "sig": other["stats"]}},
              open("%s/other-%s.json" % (tmp, suffix), "w"))
PY

fake_pid=
fake() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
	python3 "$TESTS_SRCDIR/integration/fake_server.py" "$fake" "$1" "$TMP/$2.json" >"$TMP/fake.out" 2>&1 &
	fake_pid=$!
	at_exit "kill $fake_pid 2>/dev/null"
	wait_log "$TMP/fake.out" '^ready'
}
refused() { # CODE FILE FEATURE [COUNT] [TEXT]
	expect_status 1 co "$TMP/$2.fake.lic" "$3" "$4"
	expect_grep "$1" "$TMP/out"
	[ -z "$5" ] || expect_grep "$5" "$TMP/out"
	grep -q '"granted"' "$TMP/out" && fail "the emulator's grant was believed: $(cat "$TMP/out")"
	return 0
}

note "pinned: the emulator cannot speak TLS as the pinned server (tls.sh: nor with its own key)"
fake replay pinned
refused 'LMC_ETLS|LMC_ETIMEDOUT' pinned stats 1 'no TLS handshake'

# What liblmc checks in a grant, behind TLS: the test hook lets the client
# speak plaintext to the emulator even when the file pins a key.
export LM_TEST_PINNED_PLAINTEXT=1
for pin in plain pinned; do
	note "$pin: the emulator replays genuine lines that do not fit the request or today"
	fake replay "$pin"
	refused LMC_ENOSEATS "$pin" stats 1000 'under lines for 5 seats'
	refused LMC_EEXPIRED "$pin" old 1 "expired on $past"
	refused LMC_ENOTSTARTED "$pin" future 1 "not valid before $future"
	note "$pin: a genuine line for another customer's servers"
	fake replay "other-$pin"
	refused LMC_EWRONGHOST "$pin" stats 1 'a line for other servers'
done

note "plain: a component granted under its package's enabling line without the PACKAGE line"
fake replay plain
refused LMC_EBADSIG plain write 1 'granted write under a license line for office'


note "pinned: a genuine, fitting line without the pinned server's signature"
fake replay pinned
refused LMC_EBADSIG pinned stats 1 'without signing the grant'
note "pinned: a real server's signed grant, replayed to another session and request"
fake recorded pinned
refused LMC_EBADSIG pinned stats 1 'pinned server key does not verify'
if python3 -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' 2>/dev/null; then
	note "pinned: a grant signed by the emulator's own key"
	fake forged pinned
	refused LMC_EBADSIG pinned stats 1 'pinned server key does not verify'
	note "pinned, named only by port@host: the keys signed into the line still decide"
	expect_status 1 co "$fake@127.0.0.1" stats 1
	expect_grep LMC_EBADSIG "$TMP/out"
fi

note "lmd refuses to start when its SERVER line pins another server's key"
kill_lmd lmd TERM
expect_status 1 env LM_HOSTID_ROOT="$TMP/m1" "$LMD" -c "$TMP/pinned.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/other.data" --listen 127.0.0.1 --peer-port "$(free_port)"
expect_grep "SERVER line 1 pins the server key $key1, but this server.s key .* is $key2" "$TMP/err"

note "lmd refuses a server key that others may read"
chmod 644 "$TMP/lmd.data/server-key"
expect_status 1 env LM_HOSTID_ROOT="$TMP/m1" "$LMD" -c "$TMP/pinned.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/lmd.data" --listen 127.0.0.1 --peer-port "$(free_port)"
expect_grep 'server-key is not private \(mode 0644' "$TMP/err"
expect_status 1 "$LMUTIL" lmhostid --server --data "$TMP/lmd.data" --root "$TMP/m1"
expect_grep 'not private' "$TMP/err"
