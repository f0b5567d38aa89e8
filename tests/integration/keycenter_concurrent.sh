#!/bin/sh
# Fifty customers' activations at once against a code of quantity 10: fifty
# real lmvendor processes on one store file.  LMDB lets one writer in at a
# time, and each activation checks and takes the remaining quantity in its
# own transaction: exactly ten succeed, forty are refused as used up, and
# the store adds up to ten.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
expect_status 0 "$V" site add --vendor acme --number S1 --company "Busy Corp"
expect_status 0 "$V" order add --site S1 --order 1 --line "stats 29.0 concurrent 10"
expect_status 0 "$V" authcode generate --site S1 --entitlement E1
CODE=$(cat out)
LOCK=$(make_server_machine 1)

note "50 concurrent activations of one seat each"
i=0
while [ $i -lt 50 ]; do
	(
		st=0
		"$V" activate --auth "$CODE" --lock "$LOCK" --servers 127.0.0.1:27000 --count 1 \
			-o "lic.$i" >"out.$i" 2>"err.$i" || st=$?
		echo $st >"status.$i"
	) &
	i=$((i + 1))
done
wait
ok=$(cat status.* | grep -cx 0)
refused=$(cat status.* | grep -cx 1)
[ "$ok" = 10 ] || fail "$ok activations succeeded, expected exactly 10: $(cat err.* | sort | uniq -c)"
[ "$refused" = 40 ] || fail "$refused refused, expected 40"
[ "$(cat err.* | grep -c 'is used up: all 10 of it are activated; nothing was changed')" = 40 ] ||
	fail "the refusals do not say the code is used up: $(cat err.* | sort | uniq -c)"
[ "$(ls lic.* | wc -l)" = 10 ] || fail "a refused activation wrote a license file"
note "each success re-issued the host's license with one more seat: 1..10"
seats=$(for f in lic.*; do awk '/^FEATURE/ { print $6 }' "$f"; done | sort -n | tr '\n' ' ')
[ "$seats" = "1 2 3 4 5 6 7 8 9 10 " ] || fail "license totals: $seats"
expect_status 0 "$V" inventory --site S1 --json
python3 - "$TMP/out" <<'PY' || fail "inventory does not add up: $(cat "$TMP/out")"
import json, sys
e = json.load(open(sys.argv[1]))["entitlements"][0]
c = e["codes"][0]
assert (e["bought"], e["activated"], e["remaining"]) == (10, 10, 0), e
assert (c["remaining"], c["deployed"][0]["count"]) == (0, 10), c
PY
