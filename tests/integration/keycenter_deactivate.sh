#!/bin/sh
# A customer's proved return (lmutil deactivate): on the machine that holds
# a key-center license it writes a return request proved with the
# license's return key and removes the license; the vendor's `lmvendor
# fulfil` (offline) or `POST /v1/return` (online, the site's token) gives
# the seats back, counted against the code's rehost limit, and they
# activate on another machine.  Refused, changing nothing: a request made
# on another machine, an altered one, one replayed, one for a license
# re-issued since, one under another site's token, and one over the
# rehost limit.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
need_cmd curl
need_cmd openssl

json()
{
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
unchanged()
{
	"$V" dump | grep -v '^audit/' >after || fail "lmvendor dump failed"
	cmp -s before after || fail "$1 changed the store: $(diff before after)"
}
lock_of()
{
	"$LMUTIL" lmhostid --root "$1" | tail -n 1 | awk '{ print $NF }'
}

make_machine "$TMP/m1" hostname=srv1 >/dev/null
make_machine "$TMP/m2" machine_id=22222222222222222222222222222222 hostname=srv2 \
	mac0=52:54:00:22:22:22 >/dev/null
make_machine "$TMP/ws" machine_id=33333333333333333333333333333333 hostname=ws3 \
	mac0=52:54:00:33:33:33 >/dev/null
L1=$(lock_of "$TMP/m1") L2=$(lock_of "$TMP/m2") WS=$(lock_of "$TMP/ws")
[ "$L1" != "$L2" ] || fail "two machines with one lock code"
expect_status 0 "$V" site add --vendor acme --number S1 --company "Return Corp"
expect_status 0 "$V" site add --number S2 --company "Other Corp"
expect_status 0 "$V" order add --site S1 --order 1 --line "stats 29.0 concurrent 10" \
	--line "editor 2.0 authorized-user 1"
expect_status 0 "$V" authcode generate --site S1 --entitlement E1 --count 4 --json
CODE=$(json out 'd["code"]')
expect_status 0 "$V" authcode generate --site S1 --entitlement E2 --json
ED=$(json out 'd["code"]')

note "offline: deactivate on the license's machine, fulfil at the vendor, the seats move"
expect_status 0 "$V" activate --auth "$CODE" --lock "$L1" --servers 127.0.0.1:27000 --count 3 \
	-o srv1.lic
expect_grep "^# lmd-return-key S1/stats/29.0/$L1 [0-9a-f]{64}\$" srv1.lic
cp srv1.lic srv1.copy
LM_HOSTID_ROOT="$TMP/m2" expect_status 1 "$LMUTIL" deactivate srv1.lic -o ret.json
expect_grep "was issued to lock code $L1, and this machine's is $L2" err
[ -f srv1.lic ] && [ ! -e ret.json ] || fail "a refused deactivate removed the license or wrote a request"
LM_HOSTID_ROOT="$TMP/m1" expect_status 0 "$LMUTIL" deactivate srv1.lic -o ret.json
[ ! -e srv1.lic ] || fail "deactivate left the license file"
[ "$(json ret.json 'd["lines"][0]["count"], d["lines"][0]["auth"], d["machine"]')" = \
	"(3, '$CODE', '$L1')" ] || fail "the request's lines: $(cat ret.json)"
# Altered: one seat more given up than the license had, or another host.
python3 -c 'import json; d=json.load(open("ret.json")); d["lines"][0]["count"]=4; json.dump(d,open("bad1.json","w"))'
python3 -c 'import json; d=json.load(open("ret.json")); d["site"]="S2"; json.dump(d,open("bad2.json","w"))'
"$V" dump | grep -v '^audit/' >before
expect_status 1 "$V" fulfil bad1.json
expect_grep "proof does not hold: the request was altered" err
expect_status 1 "$V" fulfil bad2.json
expect_grep "site S2 was never issued stats 29.0 for host $L1" err
unchanged "refused return requests"
expect_status 0 "$V" fulfil ret.json --json
[ "$(json out 'd["returned"], d["codes"]["'"$CODE"'"]["remaining"], d["proved"]')" = "(3, 4, True)" ] ||
	fail "the return: $(cat out)"
"$V" dump | grep -v '^audit/' >before
expect_status 1 "$V" fulfil ret.json
expect_grep "was returned already .*: a return request counts once" err
unchanged "a replayed return request"
expect_status 0 "$V" activate --auth "$CODE" --lock "$L2" --servers 127.0.0.1:27000 --count 4 \
	-o srv2.lic
expect_grep 'the host holds 4' err

note "a license re-issued since: the old copy's return is refused"
expect_status 0 "$V" activate --auth "$ED" --lock "$WS" -o ws.lic
cp ws.lic ws.old
expect_status 0 "$V" activate --auth "$ED" --lock "$WS" --count 0 -o ws.lic
LM_HOSTID_ROOT="$TMP/ws" expect_status 0 "$LMUTIL" deactivate ws.old -o ws-old.json
expect_status 1 "$V" fulfil ws-old.json
expect_grep 'its license is not the one last issued' err

note "online: POST /v1/return with the site's token; another site's token is 403"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key \
	-out tls.crt -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	2>/dev/null || fail "openssl cannot make a certificate"
PIN=$(openssl x509 -in tls.crt -noout -fingerprint -sha256 | cut -d= -f2)
expect_status 0 "$V" token create --role customer --site S1 --name "Ann Lee"
S1_TOKEN=$(cat out)
expect_status 0 "$V" token create --role customer --site S2
S2_TOKEN=$(cat out)
port=$(free_port)
"$V" serve --listen "127.0.0.1:$port" --cert tls.crt --key tls.key --rehost-limit 2 \
	>serve.log 2>&1 &
at_exit "kill -9 $! 2>/dev/null"
wait_log serve.log 'serving the key center'
cp ws.lic ws.keep
LM_HOSTID_ROOT="$TMP/ws" expect_status 1 "$LMUTIL" deactivate ws.lic \
	--url "https://127.0.0.1:$port" --pin "$PIN" --token "$S2_TOKEN"
expect_grep 'refused the return \(HTTP 403\): this token belongs to site S2' err
[ -f ws.lic ] || fail "a refused online return removed the license"
LM_HOSTID_ROOT="$TMP/ws" expect_status 0 "$LMUTIL" deactivate ws.lic \
	--url "https://127.0.0.1:$port" --pin "$PIN" --token "$S1_TOKEN" --json
[ "$(json out 'd["answer"]["returned"], d["removed"]')" = "(1, True)" ] || fail "online: $(cat out)"
[ ! -e ws.lic ] || fail "an online return left the license"
# Replayed: the same license file again, now that the key center took it.
cp ws.keep ws.lic
LM_HOSTID_ROOT="$TMP/ws" expect_status 1 "$LMUTIL" deactivate ws.lic \
	--url "https://127.0.0.1:$port" --pin "$PIN" --token "$S1_TOKEN"
expect_grep 'HTTP 400.*returned already' err
expect_status 0 "$V" audit
expect_grep 'customer:S1:.* POST /v1/return 200 ok' out
expect_grep 'customer:S2:.* POST /v1/return 403 LMC_EDENIED' out

note "the rehost limit counts proved returns too"
# Code ED was returned once (online); a second return this year is within
# --rehost-limit 2, a third is not.
expect_status 0 "$V" activate --auth "$ED" --lock "$WS" -o ws.lic
LM_HOSTID_ROOT="$TMP/ws" expect_status 0 "$LMUTIL" deactivate ws.lic -o ws2.json
expect_status 0 "$V" fulfil ws2.json --rehost-limit 2
expect_status 0 "$V" activate --auth "$ED" --lock "$WS" -o ws.lic
LM_HOSTID_ROOT="$TMP/ws" expect_status 0 "$LMUTIL" deactivate ws.lic -o ws3.json
"$V" dump | grep -v '^audit/' >before
expect_status 1 "$V" fulfil ws3.json --rehost-limit 2
expect_grep "authorization code $ED has been returned 2 times in the last 365 days" err
unchanged "a return over the rehost limit"
