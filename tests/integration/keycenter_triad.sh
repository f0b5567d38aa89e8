#!/bin/sh
# A redundant license from the key center: three lock codes in one
# activation give three SERVER lines, and a real triad of lmd processes
# (one per simulated machine) serves the seats; adding seats later
# re-issues the triad's license with the same three servers.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
for n in 1 2 3; do
	eval "code$n=\$(make_server_machine $n)"
	eval "port$n=\$(free_port)"
	eval "peer$n=\$(free_port)"
done
S="$port1@127.0.0.1,$port2@127.0.0.1,$port3@127.0.0.1"
PEERS="$peer1,$peer2,$peer3"

expect_status 0 "$V" site add --vendor acme --number S7 --company "Triad Labs"
expect_status 0 "$V" order add --site S7 --order 70 --line "stats 29.0 concurrent 8"
expect_status 0 "$V" authcode generate --site S7 --entitlement E1
CODE=$(cat out)

note "--lock A,B,C with three servers: a redundant license"
expect_status 0 "$V" activate --auth "$CODE" --lock "$code1,$code2,$code3" \
	--servers "127.0.0.1:$port1,127.0.0.1:$port2,127.0.0.1:$port3" --count 5 \
	--host-desc "triad a/b/c" -o triad.lic
[ "$(grep -c '^SERVER 127.0.0.1 ' triad.lic)" = 3 ] || fail "not three SERVER lines: $(cat triad.lic)"
expect_grep "^SERVER 127.0.0.1 $code2 $port2\$" triad.lic
expect_status 0 "$V" verify --pubkey vendor.pub triad.lic
for n in 1 2 3; do triad_start $n; done
wait_leader >/dev/null
issued() { triad_stat | python3 -c \
	'import json,sys; print([f["issued"] for f in json.load(sys.stdin)["features"] if f["name"]=="stats"][0])'; }
[ "$(issued)" = 5 ] || fail "the triad serves $(issued) seats, expected 5"
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey vendor.pub stats --count 5 --hold 0
expect_status 1 "$LMUTIL" checkout -c "$S" --pubkey vendor.pub stats --count 6 --hold 0

note "more seats for the triad: the same three servers, the new total"
expect_status 0 "$V" activate --auth "$CODE" --lock "$code3,$code1,$code2" --count 2 -o triad.lic
[ "$(grep -c '^SERVER 127.0.0.1 ' triad.lic)" = 3 ] || fail "the re-issue lost SERVER lines"
expect_grep '^FEATURE stats acme 29.0 permanent 7 ' triad.lic
expect_status 0 "$LMUTIL" lmreread -c "$S"
end=$(($(date +%s) + 20))
until [ "$(issued)" = 7 ]; do
	[ "$(date +%s)" -lt $end ] || fail "after lmreread the triad serves $(issued), expected 7"
	sleep 0.2
done

note "a triad needs three different machines and a server for each"
expect_status 2 "$V" activate --auth "$CODE" --lock "$code1,$code1,$code2"
expect_grep 'names .* twice' err
expect_status 1 "$V" activate --auth "$CODE" --lock "$code1,$code2" --servers 127.0.0.1:1,127.0.0.1:2
expect_grep 'two lock codes: give one, or three for redundant servers' err
expect_status 1 "$V" activate --auth "$CODE" --lock "$code1,$code2,$code3" --servers 127.0.0.1:1
expect_grep 'give --servers HOST:PORT for each lock code \(3 lock codes, 1 server\)' err
