#!/bin/sh
# lmvendor renew: a whole order renewed at once.  Two license servers hold
# seats of one order; renew extends its entitlements and re-issues both
# hosts' licenses with the new end, says whom to send them to and writes
# the renewal message; a running lmd serves the new term after lmreread.
# Wrong input (an unknown order, an end not after the current one, a
# perpetual order, bad dates, an output that is not a directory) is
# refused with the store unchanged and no file written.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
END1=$(date -u -d '+300 days' +%Y-%m-%d)
END2=$(date -u -d '+700 days' +%Y-%m-%d)
EARLIER=$(date -u -d '+200 days' +%Y-%m-%d)

# The first "code" of the JSON document in out.
code_of() { grep -o '"code": *"[^"]*"' out | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'; }
# flat FILE: the license file with continued lines joined, in $TMP/flat.
flat() { sed -e ':a' -e '/\\$/N' -e 's/[[:space:]]*\\\n[[:space:]]*/ /' -e 'ta' "$1" >"$TMP/flat"; }

expect_status 0 "$V" site add --vendor acme --number S100 --company "Acme Research" \
	--contact primary="Ann Lee <ann@acme.example>" \
	--contact renewal="Rita Roe <rita@acme.example>" \
	--contact administrative="Al Adams <al@acme.example>"
expect_status 0 "$V" order add --site S100 --order 4711 \
	--line "stats 29.0 concurrent 10 end=$END1 maintenance=$END1" \
	--line "editor 2.0 authorized-user 2 end=perpetual"
expect_status 0 "$V" order add --site S100 --order 4712 --line "cad 1.0 concurrent 3 end=perpetual"
expect_status 0 "$V" authcode generate --site S100 --entitlement E1 --count 4 --json
A1=$(code_of)
[ -n "$A1" ] || fail "no code in $(cat out)"

note "two license servers activated under order 4711"
code1=$(make_server_machine 1)
code2=$(make_server_machine 2)
port=$(free_port)
S=$port@127.0.0.1
expect_status 0 "$V" activate --auth "$A1" --lock "$code1" --servers "127.0.0.1:$port" \
	--count 3 --host-desc "license server 1" -o server.lic
expect_status 0 "$V" activate --auth "$A1" --lock "$code2" --servers "127.0.0.1:27000" -o h2.lic
LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/lmd.data" --listen 127.0.0.1 --peer-port "$(free_port)"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'
served() { "$LMUTIL" lmstat -c "$S" -f stats --json >stat || fail "lmstat failed"; }
served
grep -q "\"expiry\": *\"$END1\"" stat || fail "lmd does not serve until $END1: $(cat stat)"

note "wrong input: refused, nothing changed, no file written"
mkdir renewed outbox
# refused STATUS REGEX ARGS...: renew ARGS exits with STATUS saying REGEX,
# the store's dump is what it was (in before), and renewed/ and outbox/
# stay empty.
refused()
{
	_want=$1 _re=$2
	shift 2
	expect_status "$_want" "$V" renew "$@"
	expect_grep "$_re" "$TMP/err"
	"$V" dump >after || fail "lmvendor dump failed"
	cmp -s before after || fail "the store changed after a refused renew $*"
	[ -z "$(ls -A renewed)$(ls -A outbox)" ] || fail "a refused renew $* left files: $(ls -A renewed outbox)"
}
"$V" dump >before || fail "lmvendor dump failed"
refused 1 'there is no order 9999; nothing was changed' --order 9999 --until "$END2" --out renewed
refused 1 "entitlement E1 runs until $END1 already: --until $EARLIER must come after" \
	--order 4711 --until "$EARLIER" --out renewed --outbox outbox
refused 1 "entitlement E1 runs until $END1 already" --order 4711 --until "$END1" --out renewed
refused 1 'order 4712 are perpetual: there is nothing to renew' --order 4712 --until "$END2" \
	--out renewed
refused 2 "--until '2027-02-30' is not a date" --order 4711 --until 2027-02-30 --out renewed
refused 2 "--maintenance 'soon' is not a date" --order 4711 --until "$END2" --maintenance soon
refused 2 'renew: --until is in the past' --order 4711 --until 2001-01-01 --out renewed
refused 2 'renew needs --order ORDER and --until DATE' --order 4711
refused 2 "--order '../x': use letters, digits" --order ../x --until "$END2"
refused 1 'is not a directory this user can write to' --order 4711 --until "$END2" --out nowhere
refused 1 'is not a directory this user can write to' --order 4711 --until "$END2" \
	--out renewed --outbox nowhere

note "renew re-issues both hosts' licenses until the new end"
expect_status 0 "$V" renew --order 4711 --until "$END2" --maintenance "$END2" --out renewed \
	--outbox outbox
expect_grep "^order 4711 renewed until $END2: E1 by E4\$" out
expect_grep '^entitlement E2 is perpetual: left as it is$' out
expect_grep '^site S100: send to Rita Roe <rita@acme.example>, Al Adams <al@acme.example>$' out
F1="renewed/stats-29.0-$(printf '%s' "$code1" | sed 's/[^A-Za-z0-9._+-]/_/g').lic"
F2="renewed/stats-29.0-$(printf '%s' "$code2" | sed 's/[^A-Za-z0-9._+-]/_/g').lic"
expect_grep "^    $F1\$" out
expect_grep "^    $F2\$" out
[ "$(ls -A renewed | wc -l)" = 2 ] || fail "renewed/ holds $(ls -A renewed), not two licenses"
flat "$F1"
expect_grep "^FEATURE stats acme 29.0 $END2 3 AUTH=$A1" flat
flat "$F2"
expect_grep "^FEATURE stats acme 29.0 $END2 1 AUTH=$A1" flat
expect_grep "^SERVER 127.0.0.1 $code2 27000\$" "$F2"
for f in "$F1" "$F2"; do expect_status 0 "$V" verify --pubkey vendor.pub "$f"; done
eml=$(ls outbox/*-renewal-*.eml)
[ -n "$eml" ] || fail "no renewal message in outbox/"
expect_grep '^To: Rita Roe <rita@acme.example>, Al Adams <al@acme.example>' "$eml"
expect_grep "$F1" "$eml"
expect_grep "$F2" "$eml"
expect_status 0 "$V" order show 4711
expect_grep "E4 .*renews E1" out

note "lmreread serves the renewed term"
cp "$F1" server.lic
expect_status 0 "$LMUTIL" lmreread -c "$S"
served
grep -q "\"expiry\": *\"$END2\"" stat || fail "after lmreread lmd does not serve until $END2: $(cat stat)"

note "the same renewal again is refused; the re-issue also works as --json"
rm -f renewed/* outbox/*
"$V" dump >before || fail "lmvendor dump failed"
refused 1 "entitlement E1 runs until $END2 already" --order 4711 --until "$END2" --out renewed
END3=$(date -u -d '+900 days' +%Y-%m-%d)
expect_status 0 "$V" renew --order 4711 --until "$END3" --out renewed --json
expect_grep '"send_to": *"Rita Roe <rita@acme.example>, Al Adams <al@acme.example>"' out
expect_grep "\"file\": *\"renewed/stats-29.0-" out
flat "$F2"
expect_grep "^FEATURE stats acme 29.0 $END3 1 AUTH=$A1" flat

note "online: a site's token fetches a host's re-issued license (POST /v1/renewed)"
command -v curl >/dev/null || skip "no curl for the online part"
token_of() { grep -o '"token": *"[^"]*"' out | sed 's/.*"\([^"]*\)"$/\1/'; }
expect_status 0 "$V" token create --role customer --site S100 --json
TOKEN=$(token_of)
expect_status 0 "$V" site add --number S200 --company "Other Corp"
expect_status 0 "$V" token create --role customer --site S200 --json
OTHER_TOKEN=$(token_of)
code3=$(make_server_machine 3)
sport=$(free_port)
"$V" serve --listen "127.0.0.1:$sport" --plain-http >serve.log 2>&1 &
at_exit "kill -9 $! 2>/dev/null"
wait_log serve.log 'serving the key center'
# renewed BODY [TOKEN]: POST /v1/renewed, the status in $code, the answer in answer.
renewed()
{
	code=$(curl -sS -o answer -w '%{http_code}' -X POST ${2:+-H "Authorization: Bearer $2"} \
		--data-binary "$1" "http://127.0.0.1:$sport/v1/renewed") || fail "curl failed"
}
renewed "{\"auth\":\"$A1\",\"locks\":[\"$code2\"]}" "$TOKEN"
[ "$code" = 200 ] || fail "HTTP $code: $(cat answer)"
grep -q "\"expiry\": *\"$END3\"" answer || fail "not the renewed license: $(cat answer)"
grep -q "FEATURE stats acme 29.0 $END3 1 " answer || fail "no renewed FEATURE line: $(cat answer)"
renewed "{\"auth\":\"$A1\",\"locks\":[\"$code2\"]}"
[ "$code" = 401 ] || fail "no token: HTTP $code, expected 401"
renewed "{\"auth\":\"$A1\",\"locks\":[\"$code2\"]}" "$OTHER_TOKEN"
[ "$code" = 403 ] || fail "another site's token: HTTP $code, expected 403"
renewed "{\"auth\":\"$A1\",\"locks\":[\"$code3\"]}" "$TOKEN"
[ "$code" = 404 ] || fail "a host without seats: HTTP $code, expected 404: $(cat answer)"
grep -q "no host with lock code $code3 holds seats of code $A1" answer || fail "$(cat answer)"
renewed "{\"auth\":\"$A1\",\"locks\":[\"$code1\",\"$code2\"]}" "$TOKEN"
[ "$code" = 400 ] || fail "two lock codes: HTTP $code, expected 400"
