#!/bin/sh
# One lmd serving counted seats: exact counts under contention, versions,
# INCREMENT, START and expiry, lmstat, lmremove, lmreread, lmdown, and the
# refusals at start-up (bad license, wrong machine).
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

make_vendor
code=$(make_server_machine 1)
port=$(free_port)
S=$port@127.0.0.1
past=$(date -u -d '-3 days' +%Y-%m-%d)
soon=$(date -u -d '+5 days' +%Y-%m-%d)
cat >"$TMP/template.lic" <<LIC
SERVER 127.0.0.1 $code $port
VENDOR acme
FEATURE stats acme 29.0 permanent 3
INCREMENT stats acme 29.0 permanent 2
FEATURE plot acme 2.0 permanent 1
FEATURE plot acme 3.0 permanent 1
FEATURE old acme 1.0 $past 4
FEATURE later acme 1.0 permanent 4 START=$soon
LIC
sign_license "$TMP/template.lic" "$TMP/server.lic"

export LM_HOSTID_ROOT="$TMP/m1"
start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/data" \
	--listen 127.0.0.1 --heartbeat 200 --session-timeout 1500 --peer-port "$(free_port)"
unset LM_HOSTID_ROOT
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'

co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }
# In the background, exec'd so that $! is lmutil itself and a signal reaches it.
co_bg() { (exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@") & }

note "lmstat shows the pools: FEATURE and INCREMENT add up"
expect_status 0 "$LMUTIL" lmstat -c "$S" --json
python3 - "$TMP/out" <<'PY' || fail "lmstat --json is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["servers"][0]["role"] == "leader", d
f = {(x["name"], x["version"]): (x["issued"], x["in_use"]) for x in d["features"]}
assert f[("stats", "29.0")] == (5, 0), f
assert f[("plot", "2.0")] == (1, 0) and f[("plot", "3.0")] == (1, 0), f
assert f[("old", "1.0")] == (0, 0), f      # expired: no seats issued
PY

note "eight clients racing for five seats: exactly five are granted"
i=0
racers=
while [ $i -lt 8 ]; do
	co_bg stats --version 29.0 --hold 6 >"$TMP/race$i.json" 2>"$TMP/race$i.err"
	racers="$racers $!"
	i=$((i + 1))
done
# Every client has its answer (granted or denied) while the winners hold.
n=0
until [ "$(cat "$TMP"/race*.json | grep -cE '"event":"(granted|denied)"')" -eq 8 ]; do
	n=$((n + 1))
	[ $n -lt 200 ] || fail "the racing clients did not all get an answer"
	sleep 0.05
done
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --json
python3 - "$TMP/out" <<'PY' || fail "lmstat during the race"
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["features"] if x["name"] == "stats"][0]
assert f["in_use"] == 5 and len(f["holders"]) == 5, f
assert all(h["user"] and h["host"] and h["count"] == 1 for h in f["holders"]), f
PY
for pid in $racers; do wait "$pid"; done
granted=$(cat "$TMP"/race*.json | grep -c '"event":"granted"')
denied=$(cat "$TMP"/race*.json | grep -c '"event":"denied"')
[ "$granted" -eq 5 ] || fail "$granted granted, expected 5"
[ "$denied" -eq 3 ] || fail "$denied denied, expected 3"
grep -h '"denied"' "$TMP"/race*.json | grep -q 'LMC_ENOSEATS' || fail "denials do not say all seats in use"

note "seats come back after checkin"
expect_status 0 "$LMUTIL" lmstat -c "$S" --json
grep -q '"in_use":0' "$TMP/out" || fail "seats still in use after every checkin"

note "a K-seat checkout counts K"
expect_status 0 co stats --count 4 --hold 0
expect_status 1 co stats --count 6 --hold 0
expect_grep 'LMC_ENOSEATS' "$TMP/out"

note "versions: a request is served by a license of that version or newer"
expect_status 0 co plot --version 1.5 --hold 0
expect_status 0 co plot --version 3.0 --hold 0
expect_status 1 co plot --version 3.1 --hold 0
expect_grep 'LMC_EVERSION' "$TMP/out"

note "expired and not-yet-started lines grant nothing, and say why"
expect_status 1 co old --hold 0
expect_grep 'LMC_EEXPIRED' "$TMP/out"
expect_status 1 co later --hold 0
expect_grep 'LMC_ENOTSTARTED' "$TMP/out"
expect_status 1 co nosuch --hold 0
expect_grep 'LMC_ENOFEATURE' "$TMP/out"

note "the log has one line per event"
expect_grep ' checkout user=' "$TMP/lmd.log"
expect_grep ' checkin user=' "$TMP/lmd.log"
expect_grep ' denied .*code=LMC_ENOSEATS' "$TMP/lmd.log"

note "lmremove returns a holder's seats; its client learns it lost them"
co_bg stats --hold 30 >"$TMP/victim.json" 2>&1
victim=$!
wait_log "$TMP/victim.json" '"granted"'
expect_status 0 "$LMUTIL" lmremove -c "$S" stats "$(id -un)" "$(hostname)"
expect_grep 'removed 1 seat' "$TMP/out"
wait_log "$TMP/victim.json" '"lost"' 10
kill "$victim" 2>/dev/null
wait "$victim" 2>/dev/null

note "a client killed with -9 has its seats reclaimed after the session timeout"
co_bg stats --count 2 --hold 60 >"$TMP/killed.json" 2>&1
killed=$!
wait_log "$TMP/killed.json" '"granted"'
kill -9 "$killed"
wait "$killed" 2>/dev/null
wait_log "$TMP/lmd.log" ' expire session=.* returned 2 seats' 15
expect_status 0 "$LMUTIL" lmstat -c "$S" --json
grep -q '"in_use":0' "$TMP/out" || fail "seats of a killed client were not reclaimed"

note "lmreread serves an edited license; a tampered line is left out, the others served"
sed 's/^INCREMENT stats acme 29.0 permanent 2$/INCREMENT stats acme 29.0 permanent 7/' \
	"$TMP/template.lic" >"$TMP/template2.lic"
sign_license "$TMP/template2.lic" "$TMP/server.lic"
expect_status 0 "$LMUTIL" lmreread -c "$S"
sleep 0.3
expect_status 0 "$LMUTIL" lmstat -c "$S" -f stats --json
grep -q '"issued":10' "$TMP/out" || fail "lmreread did not serve the new count"
sed -i 's/permanent 7/permanent 70/' "$TMP/server.lic"
expect_status 0 "$LMUTIL" lmreread -c "$S"
expect_grep '1 line left out \(line [0-9]+: INCREMENT stats: signature does not verify' "$TMP/out"
sleep 0.3
expect_status 0 "$LMUTIL" lmstat -c "$S" -f stats --json
grep -q '"issued":3' "$TMP/out" || fail "the tampered INCREMENT was served: $(cat "$TMP/out")"
sign_license "$TMP/template2.lic" "$TMP/server.lic"
expect_status 0 "$LMUTIL" lmreread -c "$S"

note "lmdown stops the server"
expect_status 0 "$LMUTIL" lmdown -c "$S"
pid=$(cat "$TMP/lmd.pid")
n=0
while kill -0 "$pid" 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "lmd still running after lmdown"
	sleep 0.1
done
expect_grep ' stop stopped' "$TMP/lmd.log"

note "lmd refuses a license none of whose lines verify, naming the first"
sign_license "$TMP/template.lic" "$TMP/good.lic"
"$LMVENDOR" keygen "$TMP/other.pem" "$TMP/other.pub" >/dev/null
line=$(grep -n '^FEATURE stats' "$TMP/good.lic" | cut -d: -f1)
export LM_HOSTID_ROOT="$TMP/m1"
expect_status 1 "$LMD" -c "$TMP/good.lic" --pubkey "$TMP/other.pub" --data "$TMP/d2" --port "$(free_port)"
expect_grep "good.lic:$line: FEATURE stats: signature does not verify, and no license line of the file verifies: check that --pubkey is this vendor's key" "$TMP/err"
printf 'FEATURE x acme 1.0 permanent\n' >"$TMP/garbled.lic"
expect_status 1 "$LMD" -c "$TMP/garbled.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/d2"
expect_grep 'garbled.lic:1: FEATURE x: .*no license line of the file can be read' "$TMP/err"

note "lmd refuses to run on a machine its SERVER line does not name"
code2=$(make_server_machine 2)
export LM_HOSTID_ROOT="$TMP/m2"
expect_status 1 "$LMD" -c "$TMP/good.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/d3" --port "$(free_port)"
expect_grep 'this machine is not the server this license names' "$TMP/err"
expect_grep "$code2" "$TMP/err"
exit 0
