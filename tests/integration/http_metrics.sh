#!/bin/sh
# lmd --http: /metrics read by a real Prometheus parser (Debian's
# python3-prometheus-client) while real clients check seats out and in:
# seats issued, in use and reserved per pool, sessions, connections,
# checkouts and denials by reason, the latency histogram, raft, days to
# expiry, the start time; and a read-only server (GET only, 405 else).
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/http_lib.sh"
need_test_hooks
need_prometheus

soon=$(date -u -d '+20 days' +%Y-%m-%d)
single_server "FEATURE stats acme 29.0 permanent 3" "FEATURE plot acme 1.0 $soon 2"
printf 'RESERVE 1 stats USER carol\n' >"$TMP/acme.opt"
hport=$(free_port)
single_lmd lmd --options "$TMP/acme.opt" --http "127.0.0.1:$hport"
URL=http://127.0.0.1:$hport
version=$("$LMD" --version | awk '{ print $NF }')
expect_grep "metrics and dashboard on http://127.0.0.1:$hport/" "$TMP/lmd.log"

# CONDITION [SECONDS]: scrape until it holds (http_scrape.py says how).
metrics() { scrape "$URL" "$@"; }
stats() { echo "m('lmd_seats_$1', feature='stats', version='29.0')"; }
co_as()
{
	_user=$1
	shift
	LM_TEST_USER=$_user LM_TEST_HOST=ws7 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
		--json stats --version 29.0 "$@"
}

note "an idle server: the license's seats, none in use, raft and process"
metrics "$(stats issued) == 3 and $(stats in_use) == 0 and $(stats reserved) == 1
	and $(stats reserved_idle) == 1
	and m('lmd_seats_issued', feature='plot', version='1.0') == 2
	and m('lmd_license_expiry_days', feature='plot', version='1.0') == 20
	and m('lmd_sessions') == 0 and m('lmd_checkouts_total') == 0
	and m('lmd_checkout_denials_total', reason='LMC_ENOSEATS') == 0
	and m('lmd_raft_role', role='leader') == 1 and m('lmd_raft_role', role='follower') == 0
	and m('lmd_serving') == 1 and m('lmd_raft_term') >= 1
	and m('lmd_raft_applied_index') == m('lmd_raft_commit_index') and m('lmd_raft_lag') == 0
	and m('lmd_info', version='$version', node='1', servers='1', vendor='acme') == 1" ||
	fail "the idle server's metrics"
metrics "types['lmd_license_expiry_days'] == 'gauge' and types['lmd_seats_in_use'] == 'gauge'
	and types['lmd_checkouts'] == 'counter' and types['lmd_checkout_latency_seconds'] == 'histogram'" ||
	fail "metric types"
"$promptool" - "$URL/metrics" <<'PY' || fail "process_start_time_seconds is not the start time"
import sys, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1]).read().decode()
fams = {f.name: f for f in text_string_to_metric_families(text)}
start = fams["process_start_time_seconds"].samples[0].value
assert time.time() - 120 < start <= time.time(), start
# A permanent license has no expiry series.
assert not [s for s in fams["lmd_license_expiry_days"].samples if s.labels["feature"] == "stats"]
PY

note "alice holds 2 seats: in use 0 -> 2, a session, a connection"
(LM_TEST_USER=alice LM_TEST_HOST=ws7 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json stats --version 29.0 --count 2 --hold 60 >"$TMP/hold" 2>&1) &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_log "$TMP/hold" '"event":"granted"'
metrics "$(stats in_use) == 2 and m('lmd_sessions') == 1 and m('lmd_connections') >= 1
	and $(stats reserved) == 1 and $(stats reserved_idle) == 1
	and m('lmd_checkouts_total') == 1" 5 || fail "alice's seats are not in the metrics"

note "bob is refused twice: a reserved seat (policy), then too many seats"
expect_status 1 co_as bob --hold 0
grep -q LMC_EDENIED "$TMP/out" || fail "bob's first checkout: $(cat "$TMP/out")"
expect_status 1 co_as bob --count 2 --hold 0
grep -q LMC_ENOSEATS "$TMP/out" || fail "bob's second checkout: $(cat "$TMP/out")"
metrics "m('lmd_checkout_denials_total', reason='LMC_EDENIED') == 1
	and m('lmd_checkout_denials_total', reason='LMC_ENOSEATS') == 1
	and m('lmd_checkouts_total') == 1 and $(stats in_use) == 2" 5 ||
	fail "the denials are not counted by reason"

note "the latency histogram counts the three answered checkouts"
metrics "m('lmd_checkout_latency_seconds_count') == 3
	and m('lmd_checkout_latency_seconds_bucket', le='+Inf') == 3
	and m('lmd_checkout_latency_seconds_bucket', le='0.0005')
	    <= m('lmd_checkout_latency_seconds_bucket', le='0.01')
	    <= m('lmd_checkout_latency_seconds_bucket', le='10') == 3
	and 0 < m('lmd_checkout_latency_seconds_sum') < 30" || fail "the latency histogram"

note "HTTP clients that stall, past the connection limit, do not stall checkouts"
python3 - "$hport" "$TMP/stalled" <<'PY' &
import socket, sys, time
socks = []
for _ in range(40):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
    socks.append(s)
open(sys.argv[2], "w").write("connected\n")
time.sleep(15)
open(sys.argv[2], "a").write("released\n")
PY
staller=$!
at_exit "kill $staller 2>/dev/null"
wait_log "$TMP/stalled" connected 10
expect_status 0 co_as carol --hold 0
grep -q released "$TMP/stalled" && fail "carol's checkout waited for the stalled HTTP clients"
wait "$staller"
metrics "m('lmd_checkouts_total') == 2 and $(stats in_use) == 2" 10 ||
	fail "/metrics after the stalled clients left"

note "alice checks in: in use 2 -> 0"
kill "$holder"
wait "$holder" 2>/dev/null
metrics "$(stats in_use) == 0 and m('lmd_sessions') == 0" 10 || fail "alice's seats did not return"

note "read-only: other methods are refused, unknown paths are 404"
python3 - "$URL" <<'PY' || fail "the HTTP server is not read-only"
import sys, urllib.request, urllib.error
url = sys.argv[1]
for method in ("POST", "PUT", "DELETE"):
    try:
        urllib.request.urlopen(urllib.request.Request(url + "/metrics", data=b"x", method=method))
        raise SystemExit(method + " was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 405 and e.headers["Allow"] == "GET, HEAD", (method, e.code)
try:
    urllib.request.urlopen(url + "/nope")
    raise SystemExit("/nope was served")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
r = urllib.request.urlopen(urllib.request.Request(url + "/metrics", method="HEAD"))
assert r.status == 200 and r.read() == b""
PY

note "--http with a port alone listens on loopback; a bad address is refused"
expect_status 2 "$LMD" -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/x" --http 127.0.0:80
expect_grep 'expected PORT, ADDR:PORT' "$TMP/err"
expect_status 2 "$LMD" -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/x" --http 70000
kill_lmd lmd TERM
wait_log "$TMP/lmd.log" ' stopped'
hport=$(free_port)
note "an HTTP port in use: lmd says so and does not start"
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)' "$hport" &
squatter=$!
at_exit "kill $squatter 2>/dev/null"
wait_port "$hport"
LM_HOSTID_ROOT="$TMP/m1" expect_status 1 "$LMD" -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/lmd3.data" --listen 127.0.0.1 --peer-port "$(free_port)" --http "$hport"
expect_grep "cannot listen on 127.0.0.1 port $hport" "$TMP/err"
kill "$squatter"
wait "$squatter" 2>/dev/null
single_lmd lmd2 --http "$hport"
expect_grep "metrics and dashboard on http://127.0.0.1:$hport/" "$TMP/lmd2.log"
URL=http://127.0.0.1:$hport
metrics "$(stats in_use) == 0" || fail "the restarted server's metrics"
