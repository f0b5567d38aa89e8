#!/bin/sh
# The key center online: a real `lmvendor serve` over HTTPS on loopback,
# with a certificate made here by openssl.  A customer activates with
# `lmutil activate --url` (the server's certificate pinned) and a real lmd
# serves the license that comes back; tokens decide who sees what (401
# without one, 403 for another site's); a client over its rate gets 429
# and Retry-After; an oversized or malformed body is refused and the
# store is unchanged record for record; concurrent activations over HTTPS
# against a quantity of 5 grant exactly 5; a return frees the quantity for
# another machine until the rehost limit refuses; and every request is in
# the audit trail.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
need_cmd curl
need_cmd openssl

# json FILE EXPR: the Python expression EXPR of the JSON document in FILE (d).
json()
{
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# serve NAME PORT [ARGS...]: lmvendor serve on 127.0.0.1:PORT, logging to
# $TMP/NAME.log, killed when the test ends.
serve()
{
	_name=$1 _port=$2
	shift 2
	"$V" serve --listen "127.0.0.1:$_port" --cert tls.crt --key tls.key "$@" \
		>>"$TMP/$_name.log" 2>&1 &
	echo $! >"$TMP/$_name.pid"
	at_exit "kill -9 $! 2>/dev/null"
	wait_log "$TMP/$_name.log" 'serving the key center'
}

# call METHOD PATH [TOKEN] [BODY-FILE]: curl against the first server; the
# body of the answer in $TMP/answer, its status in $code.
call()
{
	set -- "$1" "$2" "${3:-}" "${4:-}"
	code=$(curl -sS --cacert tls.crt -o "$TMP/answer" -w '%{http_code}' -X "$1" \
		${3:+-H "Authorization: Bearer $3"} ${4:+--data-binary "@$4"} \
		"https://127.0.0.1:$port$2") || fail "curl $1 $2 failed"
}

expect_code()
{
	[ "$code" = "$1" ] || fail "HTTP $code, expected $1: $(cat "$TMP/answer")"
	[ -z "${2:-}" ] || [ "$(json "$TMP/answer" 'd["error"]["code"]')" = "$2" ] ||
		fail "error code is not $2: $(cat "$TMP/answer")"
}

expect_status 0 "$V" site add --vendor acme --number S1 --company "Online Corp"
expect_status 0 "$V" site add --number S2 --company "Other Corp"
expect_status 0 "$V" order add --site S1 --order 1 --line "stats 29.0 concurrent 20"
expect_status 0 "$V" order add --site S2 --order 2 --line "stats 29.0 concurrent 1"
expect_status 0 "$V" authcode generate --site S1 --entitlement E1 --count 3 --json
CODE=$(json out 'd["code"]')
expect_status 0 "$V" authcode generate --site S1 --entitlement E1 --count 5 --json
BUSY=$(json out 'd["code"]')
expect_status 0 "$V" authcode generate --site S1 --entitlement E1 --count 1 --json
MOVE=$(json out 'd["code"]')
expect_status 0 "$V" token create --role vendor --name ops
VENDOR_TOKEN=$(cat out)
expect_status 0 "$V" token create --role customer --site S1 --name "Ann Lee"
S1_TOKEN=$(cat out)
expect_status 0 "$V" token create --role customer --site S2
S2_TOKEN=$(cat out)
expect_status 2 "$V" token create --role customer
expect_grep 'a customer token belongs to a site' err
"$V" dump token/ | grep -q "${S1_TOKEN#lmk_}" && fail "the store keeps a token in clear"

note "HTTPS with a certificate made here; --plain-http only on loopback"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key \
	-out tls.crt -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	2>/dev/null || fail "openssl cannot make a certificate"
PIN=$(openssl x509 -in tls.crt -noout -fingerprint -sha256 | cut -d= -f2)
expect_status 2 "$V" serve --listen 0.0.0.0:1 --plain-http
expect_grep 'plain-http is for testing on a loopback address only' err
expect_status 2 "$V" serve --listen 127.0.0.1:1
expect_grep 'serve speaks HTTPS: give --cert' err
port=$(free_port)
serve center "$port" --rate 1000
call GET /v1/ping
expect_code 200
curl -sS -o /dev/null "https://127.0.0.1:$port/v1/ping" 2>/dev/null &&
	fail "curl trusted the self-made certificate without --cacert"

note "online activation: lmutil activate --url, the certificate pinned; a real lmd serves it"
lock1=$(make_server_machine 1)
lmd_port=$(free_port)
LM_HOSTID_ROOT="$TMP/m1" expect_status 0 "$LMUTIL" activate --url "https://127.0.0.1:$port" \
	--pin "$PIN" --auth "$CODE" --servers "127.0.0.1:$lmd_port" --count 2 -o server.lic
expect_grep "^SERVER 127.0.0.1 $lock1 $lmd_port\$" server.lic
expect_status 0 "$V" verify --pubkey vendor.pub server.lic
LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/lmd.data" --listen 127.0.0.1 --peer-port "$(free_port)"
wait_port "$lmd_port"
wait_log "$TMP/lmd.log" ' license serving'
expect_status 0 "$LMUTIL" lmstat -c "$lmd_port@127.0.0.1" -f stats --json
[ "$(json out 'd["features"][0]["issued"]')" = 2 ] || fail "lmd serves: $(cat out)"
note "a wrong pin, or no trust at all, sends nothing"
LM_HOSTID_ROOT="$TMP/m1" expect_status 1 "$LMUTIL" activate --url "https://127.0.0.1:$port" \
	--pin "$(echo "$PIN" | tr 0-9A-F 1-9A-F0)" --auth "$CODE" --servers "127.0.0.1:$lmd_port"
expect_grep 'is not the pinned one' err
LM_HOSTID_ROOT="$TMP/m1" expect_status 1 "$LMUTIL" activate --url "https://127.0.0.1:$port" \
	--auth "$CODE" --servers "127.0.0.1:$lmd_port"
expect_grep 'is not trusted' err
LM_HOSTID_ROOT="$TMP/m1" expect_status 0 "$LMUTIL" activate --url "https://127.0.0.1:$port" \
	--cacert tls.crt --auth "$CODE" --servers "127.0.0.1:$lmd_port" --json
[ "$(json out 'd["count"]') $(json out 'd["remaining"]')" = "3 0" ] || fail "$(cat out)"
LM_HOSTID_ROOT="$TMP/m1" expect_status 1 "$LMUTIL" activate --url "https://127.0.0.1:$port" \
	--cacert tls.crt --auth "$CODE" --servers "127.0.0.1:$lmd_port"
expect_grep 'refused \(HTTP 409\): authorization code .* is used up' err

note "tokens: none or unknown is 401, another site's is 403, a vendor's sees all"
call GET "/v1/codes/$CODE"
expect_code 401 LMC_EDENIED
call GET "/v1/codes/$CODE" "lmk_$(printf '%064d' 7)"
expect_code 401 LMC_EDENIED
call GET "/v1/codes/$CODE" "$S2_TOKEN"
expect_code 403 LMC_EDENIED
call GET /v1/sites/S1/inventory "$S2_TOKEN"
expect_code 403 LMC_EDENIED
grep -q "$CODE" "$TMP/answer" && fail "a 403 told another site about the code"
call GET "/v1/codes/$CODE" "$S1_TOKEN"
expect_code 200
[ "$(json "$TMP/answer" 'd["remaining"]')" = 0 ] || fail "code status: $(cat "$TMP/answer")"
call GET /v1/sites/S1/inventory "$VENDOR_TOKEN"
expect_code 200
[ "$(json "$TMP/answer" 'd["entitlements"][0]["activated"]')" = 3 ] || fail "$(cat "$TMP/answer")"
call GET /v1/sites/S2/inventory "$S2_TOKEN"
expect_code 200

note "bad bodies: 413 over 64 KB, 400 when not JSON; the store is unchanged"
"$V" dump >dump || fail "lmvendor dump failed: $(cat dump)"
grep -v '^audit/' dump >before
grep -q '^code/' before || fail "the dump has no codes"
head -c 70000 /dev/zero | tr '\0' 'x' >big.json
call POST /v1/activate "" big.json
expect_code 413 LMC_ETOOLARGE
printf '{"format":"lmd-activation-request",' >broken.json
call POST /v1/activate "" broken.json
expect_code 400 LMC_ESYNTAX
printf '[1,2]' >array.json
call POST /v1/activate "" array.json
expect_code 400 LMC_ESYNTAX
printf '{"format":"lmd-activation-request","version":1,"auth":"%s","locks":["nope"]}' \
	"$BUSY" >badlock.json
call POST /v1/activate "" badlock.json
expect_code 400 LMC_EBADCODE
call DELETE /v1/activate
expect_code 405
call GET /v1/nothing
expect_code 404
"$V" dump >dump || fail "lmvendor dump failed"
grep -v '^audit/' dump >after
cmp -s before after || fail "a refused request changed the store: $(diff before after)"

note "concurrent activations over HTTPS against a quantity of 5 grant exactly 5"
i=0
while [ $i -lt 20 ]; do
	make_machine "$TMP/c$i" machine_id="$(printf '%032d' $((i + 100)))" hostname="c$i" \
		mac0="52:54:00:00:01:$(printf '%02x' $i)" product_uuid= disk_uuid=
	lock=$("$LMUTIL" lmhostid --root "$TMP/c$i" | tail -n 1 | awk '{ print $NF }')
	printf '{"format":"lmd-activation-request","version":1,"auth":"%s","locks":["%s"],"servers":["127.0.0.1:%s"]}' \
		"$BUSY" "$lock" "$lmd_port" >"req.$i"
	i=$((i + 1))
done
i=0 clients=
while [ $i -lt 20 ]; do
	curl -sS --cacert tls.crt -o "answer.$i" -w '%{http_code}\n' --data-binary "@req.$i" \
		"https://127.0.0.1:$port/v1/activate" >"status.$i" &
	clients="$clients $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086 # the list of pids
wait $clients
[ "$(cat status.* | grep -c '^200$')" = 5 ] || fail "not exactly 5 granted: $(cat status.* | sort | uniq -c)"
[ "$(cat status.* | grep -c '^409$')" = 15 ] || fail "not 15 refused: $(cat status.* | sort | uniq -c)"
expect_status 0 "$V" inventory --site S1 --json
[ "$(json out '[c["remaining"] for c in d["entitlements"][0]["codes"] if c["code"] == "'"$BUSY"'"][0]')" = 0 ] ||
	fail "the code's remaining quantity is not 0: $(cat out)"

note "returns: activate, return, activate elsewhere, until the rehost limit"
lock_a=$(make_server_machine 2)
lock_b=$(make_server_machine 3)
lock_c=$(make_server_machine 4)
expect_status 0 "$V" activate --auth "$MOVE" --lock "$lock_a" --servers 127.0.0.1:27002
expect_status 1 "$V" activate --auth "$MOVE" --lock "$lock_b" --servers 127.0.0.1:27003
expect_grep 'is used up' err
printf '{"auth":"%s","locks":["%s"]}' "$MOVE" "$lock_a" >return_a.json
call POST /v1/return "" return_a.json
expect_code 401 LMC_EDENIED
call POST /v1/return "$S2_TOKEN" return_a.json
expect_code 403 LMC_EDENIED
call POST /v1/return "$S1_TOKEN" return_a.json
expect_code 200
[ "$(json "$TMP/answer" 'd["returned"], d["remaining"], d["host_holds"]')" = "(1, 1, 0)" ] ||
	fail "return: $(cat "$TMP/answer")"
call POST /v1/return "$S1_TOKEN" return_a.json
expect_code 400 LMC_EINVAL
expect_status 0 "$V" activate --auth "$MOVE" --lock "$lock_b" --servers 127.0.0.1:27003
note "the vendor's own return, with a limit of 2 a year: the third is refused"
expect_status 0 "$V" authcode return "$MOVE" --lock "$lock_b" --rehost-limit 2 --json
[ "$(json out 'd["returns_this_year"]')" = 2 ] || fail "$(cat out)"
expect_status 0 "$V" activate --auth "$MOVE" --lock "$lock_c" --servers 127.0.0.1:27004
"$V" dump code/ >before || fail "lmvendor dump code/ failed"
expect_status 1 "$V" authcode return "$MOVE" --lock "$lock_c" --rehost-limit 2
expect_grep "authorization code $MOVE has been returned 2 times in the last 365 days, its limit \(2 a year\): the next return is possible on $(date -u -d '+365 days' +%Y-%m-%d); nothing was changed" err
"$V" dump code/ >after || fail "lmvendor dump code/ failed"
cmp -s before after || fail "a refused return changed the store"

note "rate limits: over the rate is 429 with Retry-After, per client"
slow=$(free_port)
serve slow "$slow" --rate 3
for n in 1 2 3; do
	[ "$(curl -sS --cacert tls.crt -o /dev/null -w '%{http_code}' "https://127.0.0.1:$slow/v1/ping")" = 200 ] ||
		fail "request $n within the rate was refused"
done
curl -sS --cacert tls.crt -D headers -o answer -w '%{http_code}' "https://127.0.0.1:$slow/v1/ping" >status
[ "$(cat status)" = 429 ] || fail "the fourth request in a minute: HTTP $(cat status)"
expect_grep '^Retry-After: (1[0-9]|20)' headers
expect_grep 'too many requests: try again in' answer
[ "$(curl -sS --cacert tls.crt -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VENDOR_TOKEN" \
	"https://127.0.0.1:$slow/v1/ping")" = 200 ] || fail "a token's bucket is not its own"
[ "$(curl -sS --cacert tls.crt -o /dev/null -w '%{http_code}' -H "Authorization: Bearer lmk_guess" \
	"https://127.0.0.1:$slow/v1/ping")" = 429 ] || fail "guessing tokens is not rate-limited"
note "SIGTERM stops the server"
kill -TERM "$(cat "$TMP/slow.pid")"
wait_log "$TMP/slow.log" 'serve stopped'

note "every request is audited: who, what, outcome"
expect_status 0 "$V" audit
expect_grep " anonymous POST /v1/activate 413 LMC_ETOOLARGE" out
expect_grep " customer:S2:[0-9a-f]{16} GET /v1/codes/$CODE 403 LMC_EDENIED auth=$CODE" out
expect_grep " customer:S1:[0-9a-f]{16} POST /v1/return 200 ok auth=$MOVE" out
expect_grep " anonymous GET /v1/ping 429 LMC_ELIMIT" out
[ "$(grep -c ' POST /v1/activate 200 ok' out)" = 7 ] || fail "activations audited: $(cat out)"
expect_status 0 "$V" audit --site S2 --json
python3 - "$TMP/out" "$CODE" <<'PY2' || fail "site S2's audit: $(cat out)"
import json, sys
entries = json.load(open(sys.argv[1]))["audit"]
seen = sorted((e["method"], e["path"], e["status"]) for e in entries)
assert seen == [("GET", "/v1/codes/" + sys.argv[2], 403), ("GET", "/v1/sites/S1/inventory", 403),
                ("GET", "/v1/sites/S2/inventory", 200), ("POST", "/v1/return", 403)], seen
PY2
