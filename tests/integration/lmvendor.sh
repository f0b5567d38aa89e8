#!/bin/sh
# lmvendor, as a vendor uses it: make a key pair, sign a license file,
# verify it, see an edited line fail, issue new licenses, and get a clear
# message and a non-zero status for every mistake.
. "$TESTS_SRCDIR/integration/lib.sh"

[ -x "${LMVENDOR:-}" ] || skip "LMVENDOR is not set to the built lmvendor"
V=$LMVENDOR
cd "$TMP" || fail "cannot enter $TMP"

# Lock codes as `lmutil lmhostid` prints them (format version 1): three
# servers, and a workstation for node-locked licenses.
S1=11ZE-YDHE-ZC2F-0AKF-194F-27NF-366R
S2=11ZX-WV2X-XSKX-YR4X-ZPNY-0N6Y-1KQS
S3=11ZC-V8KC-W74C-X5NC-Y46C-Z2QD-018E
WS=11D7-XZMS-PN6V-MWYR-BQN5
TODAY=$(date -u +%Y-%m-%d)

note "keygen writes a PKCS#8 private key (mode 0600) and a public key"
expect_status 0 "$V" keygen vendor.pem vendor.pub
[ -s vendor.pem ] || fail "private key file missing"
[ -s vendor.pub ] || fail "public key file missing"
case $(ls -l vendor.pem) in
-rw-------*) ;;
*) fail "private key mode is not 0600: $(ls -l vendor.pem)" ;;
esac
head -n 1 vendor.pem | grep -qx -- '-----BEGIN PRIVATE KEY-----' || fail "not a PKCS#8 PEM key"
head -n 1 vendor.pub | grep -qx -- '-----BEGIN PUBLIC KEY-----' || fail "not a PEM public key"
if command -v openssl >/dev/null 2>&1; then
	openssl pkey -in vendor.pem -noout || fail "openssl cannot read the private key"
	openssl pkey -pubin -in vendor.pub -noout || fail "openssl cannot read the public key"
	openssl pkey -in vendor.pem -noout -text | grep -q ED25519 || fail "not an Ed25519 key"
else
	note "openssl not installed: not cross-checking the key files"
fi

note "keygen keeps existing keys unless --force"
cp vendor.pem saved.pem
expect_status 1 "$V" keygen vendor.pem other.pub
expect_grep '^lmvendor: vendor.pem exists' "$TMP/err"
cmp -s vendor.pem saved.pem || fail "keygen without --force changed the key"
[ ! -e other.pub ] || fail "keygen wrote a public key without its private key"
expect_status 0 "$V" keygen other.pem other.pub
expect_status 0 "$V" keygen --force other.pem other.pub
cmp -s other.pub vendor.pub && fail "two key pairs are the same"

cat >template.lic <<EOF
# Acme Corp, order 4711
SERVER alpha $S1 27000
SERVER beta $S2 27000
SERVER gamma $S3 27000
VENDOR acme

FEATURE statistics acme 29.0 31-dec-2027 25 NOTICE="Acme Corp" \\
	ISSUED=2025-01-15
INCREMENT plotting acme 2.0 permanent uncounted HOSTID=$WS
PACKAGE suite acme 1.0 COMPONENTS="statistics plotting"
EOF

note "sign prints the signed file; verify accepts every line"
expect_status 0 "$V" sign --key vendor.pem template.lic
cp "$TMP/out" signed.lic
[ "$(grep -c 'SIGN=' signed.lic)" -eq 3 ] || fail "expected 3 SIGN= in the signed file"
expect_grep '^# Acme Corp, order 4711$' signed.lic
expect_status 0 "$V" verify --pubkey vendor.pub signed.lic
expect_grep '^line 7: FEATURE statistics 29.0: valid$' "$TMP/out"
expect_grep '^line [0-9]+: INCREMENT plotting 2.0: valid$' "$TMP/out"
expect_grep '^line [0-9]+: PACKAGE suite 1.0: valid$' "$TMP/out"

note "sign -o writes the file; signing again changes nothing"
expect_status 0 "$V" sign --key vendor.pem -o signed2.lic signed.lic
[ ! -s "$TMP/out" ] || fail "sign -o also printed to stdout"
cmp -s signed.lic signed2.lic || fail "re-signing a signed file changed it"

note "an edited count fails that line only, naming it"
sed 's/ 29\.0 2027-12-31 25 / 29.0 2027-12-31 26 /' signed.lic >edited.lic
cmp -s signed.lic edited.lic && fail "sed did not edit the count"
expect_status 1 "$V" verify --pubkey vendor.pub edited.lic
expect_grep '^line 7: FEATURE statistics 29.0: invalid: bad signature' "$TMP/out"
expect_grep '^line [0-9]+: INCREMENT plotting 2.0: valid$' "$TMP/out"
expect_grep '^line [0-9]+: PACKAGE suite 1.0: valid$' "$TMP/out"
expect_grep '^lmvendor: edited.lic: 1 of 3 license lines are invalid' "$TMP/err"

note "verify --json reports the same"
expect_status 1 "$V" verify --pubkey vendor.pub --json edited.lic
expect_grep '"line":7,"type":"FEATURE","name":"statistics","version":"29.0","valid":false' \
	"$TMP/out"
expect_grep '"valid":false}$' "$TMP/out"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import json, sys; d = json.load(sys.stdin); assert not d["valid"]; assert [l["valid"] for l in d["lines"]] == [False, True, True]' \
		<"$TMP/out" || fail "--json output is wrong"
fi
expect_status 0 "$V" verify --pubkey vendor.pub --json signed.lic
expect_grep '"valid":true}$' "$TMP/out"

note "layout changes keep signatures; another SERVER lock code does not"
sed -e 's/^SERVER alpha/SERVER alpha.example.com/' -e 's/ 27000$/ 27009/' \
	signed.lic | awk '/^VENDOR/ { print "# moved" } { print }' >moved.lic
expect_status 0 "$V" verify --pubkey vendor.pub moved.lic
sed "s/$S2/$WS/" signed.lic >rehosted.lic
expect_status 1 "$V" verify --pubkey vendor.pub rehosted.lic
expect_grep '^line 7: FEATURE statistics 29.0: invalid' "$TMP/out"
expect_grep '^line [0-9]+: INCREMENT plotting 2.0: valid$' "$TMP/out"

note "unsigned lines, other keys and parse errors fail"
expect_status 1 "$V" verify --pubkey vendor.pub template.lic
expect_grep '^line 7: FEATURE statistics 29.0: invalid: unsigned' "$TMP/out"
expect_status 1 "$V" verify --pubkey other.pub signed.lic
[ "$(grep -c ': invalid: ' "$TMP/out")" -eq 3 ] || fail "another key's check passed a line"
sed 's/ISSUED=/ISSUD=/' signed.lic >typo.lic
expect_status 1 "$V" verify --pubkey vendor.pub typo.lic
expect_grep "^lmvendor: typo.lic:7: unknown keyword 'ISSUD'" "$TMP/err"
expect_status 1 "$V" verify --pubkey vendor.pub --json typo.lic
expect_grep '"error":\{"line":7,"code":"LMC_ESYNTAX"' "$TMP/out"
printf '# nothing here\n' >empty.lic
expect_status 1 "$V" verify --pubkey vendor.pub empty.lic
expect_grep 'no FEATURE, INCREMENT or PACKAGE line' "$TMP/err"

note "authcode prints a new code that the license parser reads"
expect_status 0 "$V" authcode
a1=$(cat "$TMP/out")
printf '%s\n' "$a1" | grep -Eq '^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z]$' ||
	fail "authcode printed '$a1'"
expect_status 0 "$V" authcode
[ "$(cat "$TMP/out")" != "$a1" ] || fail "two authcodes are equal"
lower=$(printf '%s' "$a1" | tr '[:upper:]' '[:lower:]' | tr -d '-')
expect_status 0 "$V" issue --key vendor.pem --feature f --vendor acme --version 1 \
	--uncounted --hostid "$WS" --auth "$lower"
expect_grep "AUTH=$a1 " "$TMP/out"
# Change one symbol: the check symbol catches it.
case $a1 in
0*) bad=1${a1#0} ;;
*) bad=0${a1#?} ;;
esac
expect_status 1 "$V" issue --key vendor.pem --feature f --vendor acme --version 1 \
	--uncounted --hostid "$WS" --auth "$bad"
expect_grep '^lmvendor: issue: AUTH is not a valid authorization code' "$TMP/err"

note "issue writes a complete signed file"
expect_status 0 "$V" issue --key vendor.pem --feature statistics --vendor acme --version 29.0 \
	--expiry 2027-12-31 --count 10 --server "alpha:$S1:27000" --server "beta:$S2:27000" \
	--server "gamma:$S3:27001" --start 1-jan-2026 --notice "Acme Corp, Lab 4" \
	--named-users 8 --borrow 48 --sn SN-1 --tolerance 1 -o issued.lic
expect_status 0 "$V" verify --pubkey vendor.pub issued.lic
expect_grep '^line [0-9]+: FEATURE statistics 29.0: valid$' "$TMP/out"
[ "$(grep -c '^SERVER ' issued.lic)" -eq 3 ] || fail "issued file lacks its 3 SERVER lines"
expect_grep '^VENDOR acme$' issued.lic
expect_grep "ISSUED=$TODAY" issued.lic
expect_grep 'NOTICE="Acme Corp, Lab 4"' issued.lic
expect_grep 'START=2026-01-01' issued.lic
expect_grep 'AUTH=[0-9A-Z]{4}-' issued.lic
expect_status 0 "$V" issue --key vendor.pem --feature plotting --vendor acme --version 2 \
	--uncounted --hostid "$WS" --expiry 31-dec-2030
expect_grep "HOSTID=$WS" "$TMP/out"
expect_grep ' 2030-12-31 uncounted ' "$TMP/out"

note "mistakes give a message and a non-zero status"
expect_status 2 "$V"
expect_status 2 "$V" frobnicate
expect_grep "^lmvendor: unknown command 'frobnicate'" "$TMP/err"
expect_status 2 "$V" sign template.lic
expect_grep '^lmvendor: sign needs --key' "$TMP/err"
expect_status 2 "$V" verify --pubkey
expect_grep '^lmvendor: verify: option --pubkey needs a value' "$TMP/err"
expect_status 2 "$V" sign --bogus --key vendor.pem template.lic
expect_grep '^lmvendor: sign: unknown option --bogus' "$TMP/err"
expect_status 1 "$V" sign --key missing.pem template.lic
expect_grep '^lmvendor: cannot open key file missing.pem' "$TMP/err"
expect_status 1 "$V" sign --key vendor.pub template.lic
expect_grep '^lmvendor: no private key in vendor.pub' "$TMP/err"
expect_status 1 "$V" verify --pubkey vendor.pem signed.lic
expect_grep '^lmvendor: vendor.pem holds a private key' "$TMP/err"
expect_status 1 "$V" verify --pubkey vendor.pub missing.lic
expect_grep '^lmvendor: cannot open missing.lic' "$TMP/err"
expect_status 2 "$V" issue --key vendor.pem --feature f --vendor acme --version 1
expect_grep '^lmvendor: issue needs either --count N or --uncounted' "$TMP/err"
expect_status 1 "$V" issue --key vendor.pem --feature f --vendor acme --version 1 --count 5
expect_grep '^lmvendor: issue: FEATURE f is counted .* no SERVER line' "$TMP/err"
expect_status 1 "$V" issue --key vendor.pem --feature f --vendor acme --version 1 --count 5 \
	--server "a:$S1:1" --server "b:$S2:2"
expect_grep '2 SERVER lines' "$TMP/err"
expect_status 1 "$V" issue --key vendor.pem --feature f --vendor acme --version 1 --count 5 \
	--server "a:$S1:1" --expiry 2027-02-30
expect_grep "^lmvendor: issue: expiry date '2027-02-30' is invalid" "$TMP/err"
expect_status 2 "$V" issue --key vendor.pem --feature f --vendor acme --version 1 --count 5 \
	--server "a:$S1:1" --notice 'a" START="2020-01-01'
expect_grep '^lmvendor: issue: --notice cannot contain a double quote' "$TMP/err"
expect_status 2 "$V" issue --key vendor.pem --feature f --vendor acme --version 1 --count 5 \
	--server "no-port-here"
expect_grep 'not HOST:LOCKCODE:PORT' "$TMP/err"
# Atomic writes go through NAME.XXXXXX files, all renamed or removed.
for f in "$TMP"/*.lic.* "$TMP"/*.pem.* "$TMP"/*.pub.*; do
	[ -e "$f" ] && fail "a temporary file was left behind: $f"
done

exit 0
