#!/bin/sh
# The key center refuses what is wrong, says why, and changes nothing:
# every command given wrong, mistyped, over-long and hostile values; codes
# that are unknown, mistyped, expired or asked for too much; request files
# that are not requests; and store files that are not key-center stores,
# or are corrupted or truncated.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
need_test_hooks
LOCK=$(make_server_machine 1)
LONG=$(python3 -c 'print("x" * 300)')
NL='a
b'
SOON=$(date -u -d '+10 days' +%Y-%m-%d)
LATER=$(date -u -d '+20 days' +%Y-%m-%d)

# refused STATUS REGEX CMD...: CMD exits with STATUS, says REGEX on stderr,
# and the store file is byte for byte what it was.
refused()
{
	_want=$1 _re=$2
	shift 2
	[ -e center.mdb ] && cp center.mdb before.mdb
	expect_status "$_want" "$@"
	expect_grep "$_re" "$TMP/err"
	if [ -e before.mdb ]; then
		cmp -s center.mdb before.mdb || fail "the store changed after a refusal: $*"
	fi
}

note "no store named; a store that does not exist yet"
(unset LMVENDOR_STORE; expect_status 2 "$V" site list) ||
	fail "a missing store name was accepted"
refused 1 'no such file \(add a site first' "$V" site list
refused 2 'a new store needs --vendor NAME' "$V" site add --company X
rm -f center.mdb center.mdb-lock before.mdb

expect_status 0 "$V" site add --vendor acme --number S1 --company "Good Corp"
expect_status 0 "$V" order add --site S1 --order 1 \
	--line "stats 29.0 concurrent 5 end=$SOON" --line "cad 3.1 authorized-user 2"
expect_status 0 "$V" authcode generate --site S1 --entitlement E1 --count 3
CODE=$(cat out)

note "site: hostile and over-long values"
refused 2 'cannot contain control characters' "$V" site add --company "$NL"
refused 2 "cannot contain '\"'" "$V" site add --company 'Evil" HOSTID="ANY'
refused 2 'longer than 200 characters' "$V" site add --company "$LONG"
refused 2 "use letters, digits" "$V" site add --number ../etc --company X
refused 2 "use letters, digits" "$V" site add --number 'S1/x' --company X
refused 2 'ROLE one of primary' "$V" site add --company X --contact boss=me
refused 2 'ROLE one of primary' "$V" site add --company X --contact nobody
refused 1 'vendor acme, not other' "$V" site add --company X --vendor other
refused 2 'unknown verb' "$V" site remove S1
refused 2 'unknown option --colour' "$V" site list --colour
refused 1 'no site S9' "$V" site show S9

note "order: bad lines, dates, quantities, sites"
refused 2 "license type 'floating' is not" "$V" order add --site S1 --order 2 --line "x 1.0 floating 1"
refused 2 "version '29.x' is not" "$V" order add --site S1 --order 2 --line "x 29.x concurrent 1"
refused 2 "quantity '0' is not a whole number" "$V" order add --site S1 --order 2 --line "x 1 concurrent 0"
refused 2 "quantity '-3' is not" "$V" order add --site S1 --order 2 --line "x 1 concurrent -3"
refused 2 "quantity '99999999999' is not" "$V" order add --site S1 --order 2 --line "x 1 concurrent 99999999999"
refused 2 "end= '2027-02-30' is not a date" "$V" order add --site S1 --order 2 --line "x 1 concurrent 1 end=2027-02-30"
refused 2 'ends before it starts' "$V" order add --site S1 --order 2 --line "x 1 concurrent 1 start=2027-05-01 end=2027-04-01"
refused 2 "unknown word 'colour=red'" "$V" order add --site S1 --order 2 --line "x 1 concurrent 1 colour=red"
refused 2 "product '$(printf 'a%.0s' $(seq 1 40))" "$V" order add --site S1 --order 2 --line "$(python3 -c 'print("a"*70)') 1 concurrent 1"
refused 2 "is not a feature or bundle name" "$V" order add --site S1 --order 2 --line 'x;rm 1 concurrent 1'
refused 2 'cannot contain control' "$V" order add --site S1 --order 2 --line "x 1 concurrent 1$NL"
refused 2 'needs --site S, --order NUMBER and at least one --line' "$V" order add --site S1 --order 2
refused 1 'no site S9' "$V" order add --site S9 --order 2 --line "x 1 concurrent 1"
refused 1 'order 1 exists already' "$V" order add --site S1 --order 1 --line "x 1 concurrent 1"
refused 1 'site S1 has no entitlement E9' "$V" order add --site S1 --order 2 --line "renew E9 end=$LATER"
refused 1 'must come after its current end' "$V" order add --site S1 --order 2 --line "renew E1 end=$SOON"
refused 2 'a renewal needs end=DATE' "$V" order add --site S1 --order 2 --line "renew E1"
refused 2 "component 'a b' is not|is not a bundle name|component" "$V" order add --site S1 --order 2 --bundle 'b=a b' --line "b 1 concurrent 1"

note "authcode generate: over the entitlement, unknown, another site's"
refused 1 'has 2 left to put on codes \(of 5\), not 3' "$V" authcode generate --site S1 --entitlement E1 --count 3
refused 1 'site S1 has no entitlement E7' "$V" authcode generate --site S1 --entitlement E7
refused 1 'site S2 has no entitlement E1' "$V" authcode generate --site S2 --entitlement E1
refused 2 "--count '1e3' is not" "$V" authcode generate --site S1 --entitlement E1 --count 1e3
refused 2 'cannot contain control' "$V" authcode generate --site S1 --entitlement E1 --comment "$NL"

note "activate: unknown, mistyped, over-long codes; bad lock codes; too much"
UNKNOWN=$("$V" authcode)
refused 1 "authorization code $UNKNOWN is unknown" "$V" activate --auth "$UNKNOWN" --lock "$LOCK" --servers h:1
TYPO=$(printf '%s' "$CODE" | tr 'A-HJKMNP-TV-Z0-9' 'B-HJKMNP-TV-Z0-9A' | cut -c1-4)$(printf '%s' "$CODE" | cut -c5-)
refused 1 'check symbol does not match|is not a code symbol' "$V" activate --auth "$TYPO" --lock "$LOCK" --servers h:1
refused 2 'too long' "$V" activate --auth "$LONG" --lock "$LOCK"
refused 1 "authorization code 'UUUU': 'U'" "$V" activate --auth UUUU --lock "$LOCK"
refused 1 "lock code 'NOT-A-LOCK'" "$V" activate --auth "$CODE" --lock NOT-A-LOCK --servers h:1
refused 1 'has 3 left \(of 3\), not the 4 asked for; nothing was changed' "$V" activate --auth "$CODE" --lock "$LOCK" --servers h:1 --count 4
refused 2 "--count '-1' is not" "$V" activate --auth "$CODE" --lock "$LOCK" --count -1
refused 1 "--count 0 re-issues a host's license" "$V" activate --auth "$CODE" --lock "$LOCK" --servers h:1 --count 0
refused 2 "--days '0' is not" "$V" activate --auth "$CODE" --lock "$LOCK" --days 0
refused 2 "--days '99999' is not" "$V" activate --auth "$CODE" --lock "$LOCK" --days 99999
refused 2 "--servers 'h' is not HOST:PORT" "$V" activate --auth "$CODE" --lock "$LOCK" --servers h
refused 2 "--servers 'h:70000' is not HOST:PORT" "$V" activate --auth "$CODE" --lock "$LOCK" --servers h:70000
refused 2 "is not a host name" "$V" activate --auth "$CODE" --lock "$LOCK" --servers 'a b:1'
refused 2 "cannot contain '\"'" "$V" activate --auth "$CODE" --lock "$LOCK" --host-desc 'x" HOSTID="ANY'
refused 1 'served by lmd: give --servers HOST:PORT' "$V" activate --auth "$CODE" --lock "$LOCK"
refused 1 'cannot read|No such file' "$V" activate --key "$TMP/none.pem" --auth "$CODE" --lock "$LOCK" --servers h:1
refused 2 'give --key PRIVATE.pem' env -u LMVENDOR_KEY "$V" activate --auth "$CODE" --lock "$LOCK" --servers h:1
refused 1 'cannot write|No such file' "$V" activate --auth "$CODE" --lock "$LOCK" --servers h:1 -o "$TMP/no/such/dir/x.lic"

note "activate: an expired code"
LMVENDOR_TODAY=$LATER refused 1 "authorization code $CODE has expired: the term of entitlement E1 ended $SOON; nothing was changed" \
	"$V" activate --auth "$CODE" --lock "$LOCK" --servers h:1
LMVENDOR_TODAY=$LATER refused 1 'entitlement E1 has expired' "$V" authcode generate --site S1 --entitlement E1

note "fulfil: files that are not requests"
printf 'not json' >junk.json
refused 1 'junk.json is not an activation request' "$V" fulfil junk.json
printf '{"format":"other","version":1}' >other.json
refused 1 'is not an activation request of format lmd-activation-request' "$V" fulfil other.json
printf '{"format":"lmd-activation-request","version":1,"auth":"%s","locks":"x"}' "$CODE" >bad.json
refused 1 'needs "locks": one or three' "$V" fulfil bad.json
printf '{"format":"lmd-activation-request","version":1,"auth":"%s","locks":["%s"],"servers":["h:1"],"count":-5}' "$CODE" "$LOCK" >neg.json
refused 2 "count is not a whole number" "$V" fulfil neg.json
printf '{"format":"lmd-activation-request","version":1,"auth":7,"locks":["%s"]}' "$LOCK" >num.json
refused 1 'the request has no "auth" text' "$V" fulfil num.json
printf '{"format":"lmd-activation-request","version":1,"auth":"%s","locks":["%s"],"servers":["h:1"],"host_desc":"x\\" HOSTID=\\"ANY"}' "$CODE" "$LOCK" >hostile.json
refused 2 "host_desc cannot contain '\"'" "$V" fulfil hostile.json
refused 1 'cannot read /nonexistent' "$V" fulfil /nonexistent

note "lmutil activate-request: mistyped codes and bad servers"
expect_status 1 "$LMUTIL" activate-request --auth "$TYPO"
expect_grep 'check symbol does not match|is not a code symbol' err
expect_status 2 "$LMUTIL" activate-request --auth "$CODE" --servers 'a:1,b:2'
expect_grep 'give their three lock codes' err
expect_status 2 "$LMUTIL" activate-request --auth "$CODE" --servers 'x'
expect_status 2 "$LMUTIL" activate-request --auth "$CODE" --host-desc "$NL"

note "inventory: bad windows and formats"
refused 2 "--expiring 'soon' is not" "$V" inventory --site S1 --expiring soon
refused 2 'give --json or --csv, not both' "$V" inventory --site S1 --json --csv
refused 1 'no site S9' "$V" inventory --site S9

note "--json failures are one error object on stdout"
expect_status 1 "$V" activate --auth "$UNKNOWN" --lock "$LOCK" --servers h:1 --json
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"]=="LMC_EBADCODE", e' out ||
	fail "no error object: $(cat out)"

note "after all that, the store is as it was: 3 left on the code"
expect_status 0 "$V" inventory --site S1 --json
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["entitlements"][0]["codes"][0]; assert c["remaining"]==3, c' out ||
	fail "refusals changed the store: $(cat out)"

note "authorized user, single copy (one machine per code) and right to copy"
LOCK2=$(make_server_machine 2)
refused 2 "license type 'authorized-user-many' is not" "$V" order add --site S1 --order 3 --line "viz 2.0 authorized-user-many 3"
expect_status 0 "$V" order add --site S1 --order 3 \
	--line "viz 2.0 authorized-user-single 3" --line "map 1.0 authorized-user-copy 2"
expect_status 0 "$V" order show 3
expect_grep '^  E3 +viz 2.0 authorized-user-single \(single copy\) x3' out
expect_grep '^  E4 +map 1.0 authorized-user \(right to copy\) x2' out
refused 1 'E3 is single copy: each code is good for one machine' "$V" authcode generate --site S1 --entitlement E3 --count 2
expect_status 0 "$V" authcode generate --site S1 --entitlement E3
SINGLE=$(cat out)
expect_status 0 "$V" activate --auth "$SINGLE" --lock "$LOCK" -o single.lic
refused 1 "code $SINGLE is single copy, good for one machine, and is activated on lock code $LOCK: return it there first" \
	"$V" activate --auth "$SINGLE" --lock "$LOCK2"
expect_status 0 "$V" activate --auth "$SINGLE" --lock "$LOCK" --count 0 -o single.lic
expect_grep "HOSTID=\"?$LOCK( |\"|$)" single.lic
expect_status 0 "$V" authcode return "$SINGLE" --lock "$LOCK"
expect_status 0 "$V" activate --auth "$SINGLE" --lock "$LOCK2" -o moved.lic
expect_grep "HOSTID=\"?$LOCK2( |\"|$)" moved.lic
expect_status 0 "$V" authcode generate --site S1 --entitlement E4
COPY=$(cat out)
expect_status 0 "$V" activate --auth "$COPY" --lock "$LOCK" -o copy1.lic
expect_status 0 "$V" activate --auth "$COPY" --lock "$LOCK2" -o copy2.lic
expect_status 0 "$V" inventory --site S1
expect_grep '^E3 viz 2.0 authorized-user-single, single copy .*activated 1, remaining 2' out
expect_grep '^E4 map 1.0 authorized-user, right to copy .*activated 2, remaining 0' out
expect_status 0 "$V" inventory --site S1 --json
expect_grep '"copies": *"single copy"' out
expect_status 0 "$V" order proof 3
expect_grep '^E3 +viz +2.0 +authorized-user-single +3 ' out
expect_grep '^ +single copy: each authorization code is good for one machine' out

note "store files that are not key-center stores, or are damaged"
printf 'hello, I am a text file\n' >text.mdb
LMVENDOR_STORE=text.mdb refused 1 'text.mdb is not a key-center store, or it is corrupted' "$V" site list
: >empty.mdb
LMVENDOR_STORE=empty.mdb refused 1 'empty.mdb is empty \(0 bytes\): corrupted' "$V" site add --company X --vendor acme
[ ! -s empty.mdb ] || fail "an empty store file was written to"
mkdir dir.mdb
LMVENDOR_STORE=dir.mdb refused 1 'is not a regular file' "$V" site list
cp center.mdb damaged.mdb
python3 -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(0); f.write(b"\xa5" * 8192)' damaged.mdb
LMVENDOR_STORE=damaged.mdb refused 1 'damaged.mdb is not a key-center store, or it is corrupted' "$V" inventory --site S1
cp center.mdb short.mdb
python3 -c '
import os, sys
os.truncate(sys.argv[1], 8192)' short.mdb
LMVENDOR_STORE=short.mdb refused 1 'short.mdb is corrupted: it is shorter than its own index says' "$V" inventory --site S1
note "an LMDB file of another program (no key-center header)"
python3 - <<'PY'
# A copy of the store with its meta record's format renamed (in every
# copy of the record: LMDB keeps old pages until they are reused): still
# LMDB, same length, not ours.
data = open("center.mdb", "rb").read()
assert data.count(b'"lmd-keycenter"') >= 1
open("foreign.mdb", "wb").write(data.replace(b'"lmd-keycenter"', b'"other-program"'))
PY
LMVENDOR_STORE=foreign.mdb refused 1 'foreign.mdb is an LMDB file but not a key-center store' "$V" site list
note "a record that is not JSON any more: named, never misread"
python3 - <<'PY'
data = open("center.mdb", "rb").read()
assert data.count(b'"company":"Good Corp"') >= 1
open("garbled.mdb", "wb").write(data.replace(b'"company":"Good Corp"', b'"company":{Good Corp"'))
PY
LMVENDOR_STORE=garbled.mdb refused 1 "garbled.mdb is corrupted: record 'site/S1' is not readable" "$V" site show S1
LMVENDOR_STORE=garbled.mdb refused 1 "record 'site/S1' is not readable" "$V" order add --site S1 --order 9 --line "x 1 concurrent 1"
