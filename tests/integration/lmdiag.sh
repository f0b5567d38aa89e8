#!/bin/sh
# lmutil lmdiag explains, feature by feature, whether a license file can be
# used on this machine, and exits 0 only when the named feature is usable.
. "$TESTS_SRCDIR/integration/lib.sh"

M=$TMP/machine
make_machine "$M"
expect_status 0 "$LMUTIL" lmhostid --root "$M"
here=$(last_word "$TMP/out")
make_machine "$TMP/other" machine_id=0123456789abcdef0123456789abcdef hostname=other \
	mac0=02:00:00:00:00:09 mac1= cpu_model=other disk_uuid=1111-2222
expect_status 0 "$LMUTIL" lmhostid --root "$TMP/other"
elsewhere=$(last_word "$TMP/out")

expect_status 0 "$LMVENDOR" keygen "$TMP/v.pem" "$TMP/v.pub"
expect_status 0 "$LMVENDOR" keygen "$TMP/x.pem" "$TMP/x.pub"

today=$(date -u +%Y-%m-%d)
past=$(date -u -d '-10 days' +%Y-%m-%d)
soon=$(date -u -d '+10 days' +%Y-%m-%d)
later=$(date -u -d '+100 days' +%Y-%m-%d)
cat >"$TMP/template.lic" <<LIC
# A file mixing every case lmdiag has to explain.
SERVER licserv $here 27000
VENDOR acme
FEATURE stats acme 29.0 $later uncounted HOSTID=$here NOTICE="Acme Labs"
FEATURE old acme 1.0 $past uncounted HOSTID=$here
FEATURE future acme 2.0 $later uncounted HOSTID=$here START=$soon
FEATURE roaming acme 3.0 permanent uncounted HOSTID=$elsewhere
FEATURE floating acme 5.0 $today 10
LIC
expect_status 0 "$LMVENDOR" sign --key "$TMP/v.pem" "$TMP/template.lic"
cp "$TMP/out" "$TMP/signed.lic"

diag() { "$LMUTIL" lmdiag -c "$TMP/signed.lic" --pubkey "$TMP/v.pub" --root "$M" "$@"; }

note "a node-locked feature for this machine is usable"
expect_status 0 diag stats
expect_grep 'Feature stats: usable' "$TMP/out"
expect_status 0 diag --version 28 stats

note "each refusal says why"
expect_status 1 diag --version 29.1 stats
expect_grep 'version 29.1 requested' "$TMP/out"
expect_status 1 diag old
expect_grep "expired on $past" "$TMP/out"
expect_status 1 diag future
expect_grep "not valid before $soon" "$TMP/out"
expect_status 1 diag roaming
expect_grep 'bound to another machine' "$TMP/out"
expect_status 1 diag nosuch
expect_grep 'no license line for feature nosuch' "$TMP/out"

note "a counted feature is usable through lmd, and this machine may serve it"
expect_status 0 diag floating
expect_grep 'served by lmd at 27000@licserv' "$TMP/out"
expect_grep 'lmd may serve this file here' "$TMP/out"

note "with no feature named: every feature is judged, exit 1 since some are not usable"
expect_status 1 diag
for f in stats old future roaming floating; do
	expect_grep "Feature $f: " "$TMP/out"
done

note "--json gives the same verdicts"
expect_status 0 diag --json stats
expect_status 1 diag --json
python3 - "$TMP/out" <<'PY' || fail "--json verdicts are wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
usable = {f["name"]: f["usable"] for f in doc["features"]}
assert usable == {"stats": True, "old": False, "future": False, "roaming": False,
                  "floating": True}, usable
codes = {f["name"]: f["lines"][0]["code"] for f in doc["features"]}
assert codes["old"] == "LMC_EEXPIRED" and codes["future"] == "LMC_ENOTSTARTED"
assert codes["roaming"] == "LMC_EWRONGHOST", codes
PY

note "on another machine the node-locked line is refused"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/signed.lic" --pubkey "$TMP/v.pub" --root "$TMP/other" stats
expect_grep 'bound to another machine' "$TMP/out"

note "an edited line or another vendor's key fails the signature"
sed 's/^\(FEATURE stats acme\) 29.0/\1 39.0/' "$TMP/signed.lic" >"$TMP/edited.lic"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/edited.lic" --pubkey "$TMP/v.pub" --root "$M" stats
expect_grep 'signature' "$TMP/out"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/signed.lic" --pubkey "$TMP/x.pub" --root "$M" stats
expect_grep 'LMC_EBADSIG' "$TMP/out"

note "bad input is an error naming the problem"
printf 'FEATURE stats acme 29.0 permanent\n' >"$TMP/broken.lic"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/broken.lic" --pubkey "$TMP/v.pub" stats
expect_grep 'line 1, FEATURE stats: .*count' "$TMP/out"
printf 'FEATURE stats acme 29.0 permanent 1\nSERVER x\n' >"$TMP/broken.lic"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/broken.lic" --pubkey "$TMP/v.pub" stats
expect_grep 'broken.lic:2:' "$TMP/err"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/nonexistent.lic" --pubkey "$TMP/v.pub" stats
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/signed.lic" --pubkey "$TMP/signed.lic" stats
expect_status 2 "$LMUTIL" lmdiag -c "$TMP/signed.lic" stats
expect_status 2 "$LMUTIL" lmdiag -c "$TMP/signed.lic" --pubkey "$TMP/v.pub" --version x.y stats
exit 0
