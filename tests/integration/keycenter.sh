#!/bin/sh
# The key center, as a vendor and a customer site use it: a site with its
# contacts, an order with entitlement lines (one a bundle), authorization
# codes split from an entitlement, a node-locked license that liblmc
# accepts on its machine only, a concurrent license that a real lmd serves,
# seats added to that host (its license re-issued with the new total), an
# offline round trip (lmutil activate-request, lmvendor fulfil), a renewal
# that the running lmd picks up with lmreread, and the inventory.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
END1=$(date -u -d '+300 days' +%Y-%m-%d)
END2=$(date -u -d '+700 days' +%Y-%m-%d)

# json FILE EXPR: prints the Python expression EXPR of the JSON document
# in FILE, bound to d.
json()
{
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# flat FILE: the license file with continued lines joined, in $TMP/flat.
flat()
{
	sed -e ':a' -e '/\\$/N' -e 's/[[:space:]]*\\\n[[:space:]]*/ /' -e 'ta' "$1" >"$TMP/flat"
}

note "site add makes the store; contacts are kept by role"
expect_status 0 "$V" site add --vendor acme --number S100 --company "Acme Research" \
	--contact primary="Ann Lee <ann@acme.example>" \
	--contact billing="Bo Chen <bo@acme.example>" --json
[ "$(json out 'd["contacts"]["billing"]')" = "Bo Chen <bo@acme.example>" ] ||
	fail "billing contact not kept: $(cat out)"
[ -s center.mdb ] || fail "no store file"
expect_status 0 "$V" site show S100
expect_grep '^site S100: Acme Research$' out
expect_grep '^  primary +Ann Lee <ann@acme.example>$' out
expect_status 1 "$V" site add --number S100 --company "Again"
expect_grep 'site S100 exists already' err

note "order add: entitlement lines, a bundle gives each component its own"
expect_status 0 "$V" order add --site S100 --order 4711 --po PO-88 --bundle suite=plots,tables \
	--line "stats 29.0 concurrent 10 end=$END1 maintenance=$END1" \
	--line "editor 2.0 authorized-user 2 end=perpetual" \
	--line "suite 1.0 authorized-user 1 end=$END1" --json
[ "$(json out '" ".join(d["entitlements"])')" = "E1 E2 E3 E4" ] || fail "entitlements: $(cat out)"
expect_status 0 "$V" order show 4711
expect_grep '^  E1 +stats 29.0 concurrent x10, until '"$END1"'$' out
expect_grep '^  E3 +plots 1.0 authorized-user \(right to copy\) x1' out
expect_grep '^  E4 +tables 1.0 authorized-user \(right to copy\) x1' out

note "authorization codes split an entitlement; each carries its quantity"
code_of() { json out 'd["code"]'; }
expect_status 0 "$V" authcode generate --site S100 --entitlement E1 --count 4 --comment lab --json
A1=$(code_of)
expect_status 0 "$V" authcode generate --site S100 --entitlement E1 --json
A2=$(code_of)
[ "$(json out 'd["quantity"]')" = 6 ] || fail "the second code should carry the 6 left"
expect_status 1 "$V" authcode generate --site S100 --entitlement E1 --count 1
expect_grep 'all 10 of entitlement E1 are on codes already' err
expect_status 0 "$V" authcode generate --site S100 --entitlement E2 --json
ED=$(code_of)

note "authorized-user: a node-locked license that liblmc accepts on its machine only"
WS=$(make_machine "$TMP/ws" hostname=ws7 && "$LMUTIL" lmhostid --root "$TMP/ws" | tail -n 1 |
	awk '{ print $NF }')
OTHER=$(make_machine "$TMP/other" machine_id=99999999999999999999999999999999 hostname=x \
	mac0=52:54:00:99:99:99 && echo ok)
expect_status 0 "$V" activate --auth "$ED" --lock "$WS" --host-desc "ws7, lab 2" -o editor.lic
flat editor.lic
expect_grep '^FEATURE editor acme 2.0 permanent uncounted HOSTID='"$WS"'' flat
flat editor.lic
expect_grep 'HOST_DESC="ws7, lab 2"' flat
expect_status 0 "$V" verify --pubkey vendor.pub editor.lic
LM_HOSTID_ROOT="$TMP/ws" expect_status 0 "$LMUTIL" checkout -c editor.lic --pubkey vendor.pub editor
[ "$OTHER" = ok ] || fail "no second machine"
LM_HOSTID_ROOT="$TMP/other" expect_status 1 "$LMUTIL" checkout -c editor.lic --pubkey vendor.pub editor
note "a machine has one authorized-user license; --count 0 re-issues it"
expect_status 1 "$V" activate --auth "$ED" --lock "$WS"
expect_grep 'already has its authorized-user license of editor 2.0' err
expect_status 0 "$V" activate --auth "$ED" --lock "$WS" --count 0 --json
[ "$(json out 'd["remaining"]')" = 1 ] || fail "a re-issue took from the code: $(cat out)"

note "concurrent: a SERVER-line license that lmd serves"
code1=$(make_server_machine 1)
port=$(free_port)
S=$port@127.0.0.1
expect_status 0 "$V" activate --auth "$A1" --lock "$code1" --servers "127.0.0.1:$port" \
	--count 3 --host-desc "license server 1" -o server.lic
expect_grep "^SERVER 127.0.0.1 $code1 $port\$" server.lic
flat server.lic
expect_grep "^FEATURE stats acme 29.0 $END1 3 AUTH=$A1" flat
LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/lmd.data" --listen 127.0.0.1 --peer-port "$(free_port)"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'
issued() { "$LMUTIL" lmstat -c "$S" -f stats --json | python3 -c \
	'import json,sys; f=json.load(sys.stdin)["features"][0]; print(f["issued"], f["expiry"])'; }
[ "$(issued)" = "3 $END1" ] || fail "lmd serves $(issued), expected 3 until $END1"

note "adding seats to the host re-issues its license with the new total"
expect_status 0 "$V" activate --auth "$A2" --lock "$code1" --count 2 -o server.lic --json
[ "$(json out 'd["count"]') $(json out 'd["added"]')" = "5 2" ] || fail "add seats: $(cat out)"
flat server.lic
expect_grep "^FEATURE stats acme 29.0 $END1 5 AUTH=$A2" flat
[ "$(grep -c '^SERVER' server.lic)" = 1 ] || fail "the re-issue lost or doubled its SERVER line"
expect_status 0 "$LMUTIL" lmreread -c "$S"
[ "$(issued)" = "5 $END1" ] || fail "after lmreread lmd serves $(issued), expected 5"

note "offline: activate-request on the server's machine, fulfil at the vendor"
LM_HOSTID_ROOT="$TMP/m1" expect_status 0 "$LMUTIL" activate-request --auth "$A2" \
	--servers "127.0.0.1:$port" --count 1 -o request.json
[ "$(json request.json 'd["locks"][0]')" = "$code1" ] || fail "the request has the wrong lock code"
[ "$(json request.json 'd["host_desc"]')" = server1 ] || fail "the host name is not described"
expect_status 0 "$V" fulfil -o server.lic request.json
flat server.lic
expect_grep "^FEATURE stats acme 29.0 $END1 6 " flat
expect_status 0 "$LMUTIL" lmreread -c "$S"
[ "$(issued)" = "6 $END1" ] || fail "after the offline round trip lmd serves $(issued)"

note "over the remaining quantity, a used-up or a mistyped code: refused, nothing changed"
cp center.mdb before.mdb
expect_status 1 "$V" activate --auth "$A1" --lock "$code1" --count 2
expect_grep "has 1 left \\(of 4\\), not the 2 asked for; nothing was changed" err
cmp -s center.mdb before.mdb || fail "a refused activation changed the store"
expect_status 0 "$V" activate --auth "$A1" --lock "$code1" -o server.lic
expect_status 1 "$V" activate --auth "$A1" --lock "$code1"
expect_grep "is used up: all 4 of it are activated" err
BAD=$(printf '%s' "$A1" | sed 's/^\(.\)\(.\)/\2\1/')
[ "$BAD" != "$A1" ] || BAD=$(printf '%s' "$A1" | sed 's/^\(..\)\(.\)\(.\)/\1\3\2/')
expect_status 1 "$V" activate --auth "$BAD" --lock "$code1"
expect_grep "check symbol does not match" err

note "a renewal extends the term; re-activation re-issues, lmreread serves it"
expect_status 0 "$V" order add --site S100 --order 4800 --po PO-99 \
	--line "renew E1 end=$END2 maintenance=$END2"
expect_grep '^order 4800 for site S100: entitlements E5$' out
expect_status 0 "$V" activate --auth "$A2" --lock "$code1" --count 0 -o server.lic
flat server.lic
expect_grep "^FEATURE stats acme 29.0 $END2 7 " flat
expect_status 0 "$V" verify --pubkey vendor.pub server.lic
expect_status 0 "$LMUTIL" lmreread -c "$S"
[ "$(issued)" = "7 $END2" ] || fail "after the renewal lmd serves $(issued), expected 7 until $END2"

note "a bundle's components each activate"
for e in E3 E4; do
	expect_status 0 "$V" authcode generate --site S100 --entitlement $e --json
	expect_status 0 "$V" activate --auth "$(code_of)" --lock "$WS" -o "$e.lic"
done
flat E3.lic
expect_grep '^FEATURE plots acme 1.0 ' flat
flat E4.lic
expect_grep '^FEATURE tables acme 1.0 ' flat
for f in plots tables; do
	LM_HOSTID_ROOT="$TMP/ws" expect_status 0 "$LMUTIL" checkout -c "$TMP/$([ $f = plots ] &&
		echo E3 || echo E4).lic" --pubkey vendor.pub $f
done

note "inventory: bought, activated, remaining, deployed where, terms"
expect_status 0 "$V" inventory --site S100 --json
[ "$(json out '[(e["id"], e["bought"], e["activated"], e["remaining"]) for e in d["entitlements"]][:4]')" = \
	"[('E1', 10, 7, 3), ('E2', 2, 1, 1), ('E3', 1, 1, 0), ('E4', 1, 1, 0)]" ] ||
	fail "inventory figures: $(cat out)"
[ "$(json out 'd["entitlements"][0]["end"]')" = "$END2" ] || fail "the renewed term is not shown"
[ "$(json out 'd["entitlements"][0]["codes"][0]["deployed"][0]["host_desc"]')" = server1 ] ||
	fail "deployed where: $(cat out)"
expect_status 0 "$V" inventory --site S100
expect_grep "^E1 stats 29.0 concurrent \\(order 4711\\): bought 10, activated 7, remaining 3, until $END2\$" out
expect_grep "^  code $A1: bought 4, activated 4, remaining 0\$" out
expect_grep "^    4 on server1, until $END2\$" out
expect_status 0 "$V" inventory --site S100 --csv
expect_grep '^entitlement,order,product,feature,version,type,end,maintenance,code,bought,activated,remaining,deployed$' out
expect_grep "^\"E1\",\"4711\",\"stats\",\"stats\",\"29.0\",\"concurrent\",\"$END2\",\"$END2\",\"$A2\",6,3,3,\"server1 \\(3\\)\"\$" out
note "--expiring lists the terms that end within the window"
expect_status 0 "$V" inventory --site S100 --expiring 400d --json
[ "$(json out '[e["id"] for e in d["entitlements"]]')" = "['E3', 'E4']" ] ||
	fail "expiring within 400 days: $(cat out)"
expect_status 0 "$V" order list --site S100 --json
[ "$(json out 'len(d["orders"])')" = 2 ] || fail "order history: $(cat out)"

note "named-user: a served license with NAMED_USERS; --days makes it temporary"
expect_status 0 "$V" order add --site S100 --order 4900 --line "cad 5.0 named-user 3 end=$END2"
expect_status 0 "$V" authcode generate --site S100 --entitlement E6 --json
CAD=$(code_of)
SOON=$(date -u -d '+30 days' +%Y-%m-%d)
expect_status 0 "$V" activate --auth "$CAD" --lock "$code1" --servers "127.0.0.1:$port" \
	--count 3 --days 30 -o cad.lic --json
[ "$(json out 'd["expiry"]')" = "$SOON" ] || fail "--days 30: $(cat out)"
flat cad.lic
expect_grep "^FEATURE cad acme 5.0 $SOON 3 .*NAMED_USERS=3" flat
expect_grep "^SERVER 127.0.0.1 $code1 $port\$" cad.lic
expect_status 0 "$V" verify --pubkey vendor.pub cad.lic

note "offline and node-locked: the request made on the workstation, liblmc accepts the answer there"
LM_HOSTID_ROOT="$TMP/other" expect_status 0 "$LMUTIL" activate-request --auth "$ED" -o ws-request.json
[ "$(json ws-request.json 'd["servers"]')" = "[]" ] || fail "a node-locked request names servers"
expect_status 0 "$V" fulfil -o editor2.lic ws-request.json
LM_HOSTID_ROOT="$TMP/other" expect_status 0 "$LMUTIL" checkout -c editor2.lic --pubkey vendor.pub editor
LM_HOSTID_ROOT="$TMP/ws" expect_status 1 "$LMUTIL" checkout -c editor2.lic --pubkey vendor.pub editor
expect_status 1 "$V" fulfil -o editor3.lic ws-request.json
expect_grep 'already has its authorized-user license of editor 2.0' err
[ ! -e editor3.lic ] || fail "a refused fulfil wrote a license"

note "seats under two terms on one host: one INCREMENT line per term, lmd adds them up"
expect_status 0 "$V" order add --site S100 --order 5000 --line "stats 29.0 concurrent 2 end=$SOON"
expect_status 0 "$V" authcode generate --site S100 --entitlement E7 --json
expect_status 0 "$V" activate --auth "$(code_of)" --lock "$code1" --count 2 -o server.lic --json
[ "$(json out 'd["count"]')" = 9 ] || fail "add-on seats: $(cat out)"
flat server.lic
expect_grep "^INCREMENT stats acme 29.0 $SOON 2 " flat
expect_grep "^INCREMENT stats acme 29.0 $END2 7 " flat
grep -q '^FEATURE stats' flat && fail "a FEATURE line beside the INCREMENT lines"
expect_status 0 "$V" verify --pubkey vendor.pub server.lic
expect_status 0 "$LMUTIL" lmreread -c "$S"
[ "$(issued | cut -d' ' -f1)" = 9 ] || fail "after lmreread lmd serves $(issued), expected 9 seats"
