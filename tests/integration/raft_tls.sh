#!/bin/sh
# The replication (raft) port with pinned server keys (issue 16): mutual
# TLS between the three servers.  A pinned triad elects a leader, serves a
# checkout, and keeps it across kill -9 of the leader; an eavesdropper
# between two servers sees TLS and no feature or user name; a stranger
# presenting another key (openssl s_client with its own certificate), one
# with no certificate, raw garbage and a plaintext lmd handshake are each
# refused with a log line saying why, and change nothing.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_cmd openssl

triad_setup 2
for n in 1 2 3; do
	"$LMUTIL" lmhostid --server --data "$TMP/d$n" --root "$TMP/m$n" >"$TMP/hostid$n" 2>&1 &
done
wait
for n in 1 2 3; do
	grep -q 'server key' "$TMP/hostid$n" || fail "lmhostid --server: $(cat "$TMP/hostid$n")"
	eval "key$n=\$(last_word \"\$TMP/hostid$n\")"
done
sed -e "s/^\(SERVER .* $port1\)\$/\1 KEY=$key1/" -e "s/^\(SERVER .* $port2\)\$/\1 KEY=$key2/" \
	-e "s/^\(SERVER .* $port3\)\$/\1 KEY=$key3/" "$TMP/triad.tmpl" >"$TMP/pinned.tmpl"
[ "$(grep -c 'KEY=' "$TMP/pinned.tmpl")" = 3 ] || fail "no pins in $(cat "$TMP/pinned.tmpl")"
sign_license "$TMP/pinned.tmpl" "$TMP/pinned.lic"

# The others reach the raft ports of servers 1 and 3 through an
# eavesdropper, so whichever server leads, what it replicates to one of its
# followers crosses the recorder.
for n in 1 3; do
	eval "tap$n=\$(free_port)"
	eval "python3 \"\$TESTS_SRCDIR/integration/tls_proxy.py\" record \$tap$n \$peer$n \
		\"\$TMP/seen\" >\"\$TMP/tap$n.out\" 2>&1 &"
	at_exit "kill $! 2>/dev/null"
	wait_log "$TMP/tap$n.out" '^ready'
done
# The three start at once (triad_start waits for each in turn); each
# reaches itself on its own port.
for n in 1 2 3; do
	case $n in
	1) peers="$peer1,$peer2,$tap3" ;;
	2) peers="$tap1,$peer2,$tap3" ;;
	3) peers="$tap1,$peer2,$peer3" ;;
	esac
	LM_HOSTID_ROOT="$TMP/m$n" start_lmd "lmd$n" -c "$TMP/pinned.lic" --pubkey "$TMP/vendor.pub" \
		--data "$TMP/d$n" --listen 127.0.0.1 --node "$n" --peer-port "$peers"
done
wait_port "$port1"
wait_port "$port2"
wait_port "$port3"
for n in 1 2 3; do
	expect_grep "replication port .*: mutual TLS 1.3" "$TMP/lmd$n.log"
done

note "the pinned triad elects a leader and serves a checkout"
leader=$(wait_leader)
(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 60 \
	stats >"$TMP/holder.json" 2>"$TMP/holder.err") &
holder=$!
at_exit "kill -9 $holder 2>/dev/null"
wait_log "$TMP/holder.json" '"granted"'
wait_converged

note "an eavesdropper between two servers sees TLS, not the pool"
[ "$(wc -c <"$TMP/seen")" -gt 2000 ] || fail "only $(wc -c <"$TMP/seen") bytes crossed the tap"
[ "$(head -c 1 "$TMP/seen" | od -An -tx1 | tr -d ' ')" = 16 ] ||
	fail "the first byte between the servers is not a TLS handshake record"
for word in stats "$(id -un)" lmd-raft acme; do
	grep -aq -- "$word" "$TMP/seen" && fail "'$word' crossed the replication network in clear"
done

eval "target=\$peer$leader"
log="$TMP/lmd$leader.log"
# scenario: the leader's log so far; refused REGEX: waits for a new line
# where it refused a replication peer for REGEX.
scenario() { seen_before=$(wc -l <"$log"); }
refused() { wait_log_after "$seen_before" "$log" "replication peer [0-9.:]+ refused: .*$1" 10; }
note "a stranger with another key cannot join or inject"
scenario
openssl genpkey -algorithm ed25519 -out "$TMP/stranger.key" 2>/dev/null
openssl req -x509 -new -key "$TMP/stranger.key" -subj /CN=lmd -days 2 \
	-out "$TMP/stranger.crt" 2>/dev/null || fail "openssl req failed"
printf 'lmd-raft injected bytes' | timeout 10 openssl s_client -quiet -tls1_3 \
	-connect "127.0.0.1:$target" -cert "$TMP/stranger.crt" -key "$TMP/stranger.key" \
	>"$TMP/stranger.out" 2>&1
refused "it proved the key [0-9A-Z-]+, which no SERVER line of the license pins"

note "the port answers TLS 1.3 and requires a client certificate"
scenario
printf 'lmd-raft' | timeout 10 openssl s_client -tls1_3 -connect "127.0.0.1:$target" \
	>"$TMP/nocert.out" 2>&1
expect_grep 'TLSv1.3' "$TMP/nocert.out"
refused "TLS failed: .*did not return a certificate"

note "garbage and a plaintext lmd handshake are refused"
# Random bytes may announce a TLS record longer than what follows: then the
# handshake's deadline refuses it.
scenario
python3 "$TESTS_SRCDIR/integration/raft_peer.py" "$target" garbage || fail "raft_peer garbage"
refused "TLS failed|no complete TLS handshake"
scenario
python3 "$TESTS_SRCDIR/integration/raft_peer.py" "$target" foreign || fail "raft_peer foreign"
refused "it speaks the replication handshake in plaintext"

note "the seat survives kill -9 of the leader"
triad_kill "$leader"
new=$(wait_leader 20)
[ "$new" != "$leader" ] || fail "server $leader still leads after kill -9"
wait_in_use 1
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 0 stats
expect_grep '"granted"' "$TMP/out"
for n in 1 2 3; do
	[ "$n" = "$leader" ] || kill -0 "$(triad_pid "$n")" || fail "server $n died"
done
grep -q AddressSanitizer "$TMP"/lmd*.log && fail "ASan: $(cat "$TMP"/lmd*.log)"
exit 0
