#!/bin/sh
# The usage report log of a real lmd with real clients (lmd/report_log.h):
# checkouts, a denial for want of seats and one by the options file's rule,
# checkins, lmremove, a crashed client's seats, each as one JSON line,
# hash-chained; a restart continues the chain without writing a command
# twice; `lmutil report --verify` accepts the log and `lmutil report`
# summarises it; REPORTLOG in the options file names the log when no
# --report-log does.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 2" "FEATURE plot acme 1.0 permanent 1"
cat >"$TMP/acme.opt" <<OPT
EXCLUDE plot PROJECT blocked
TIMEOUT plot 1
REPORTLOG +$TMP/from-options.log
OPT
LOG=$TMP/usage.log
peer=$(free_port)
# lmd NAME [ARGS...]: the server, on the same data and ports at each start.
serve()
{
	_sv_name=$1
	shift
	LM_HOSTID_ROOT="$TMP/m1" start_lmd "$_sv_name" -c "$TMP/server.lic" \
		--pubkey "$TMP/vendor.pub" --data "$TMP/lmd.data" --listen 127.0.0.1 \
		--heartbeat 200 --session-timeout 3000 --reclaim-after 500 --peer-port "$peer" \
		--timeout-min 1 \
		--options "$TMP/acme.opt" "$@"
	wait_port "$port"
	wait_log "$TMP/$_sv_name.log" ' leader serving'
}
hport=$(free_port)
serve lmd --report-log "$LOG" --http "127.0.0.1:$hport"
expect_grep "report-log $LOG: 0 records" "$TMP/lmd.log"
grep -q 'REPORTLOG has no effect' "$TMP/lmd.log" && fail "lmd still says REPORTLOG does nothing"

co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }
hold()
{
	(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@" \
		>"$TMP/hold.$1" 2>&1) &
	echo $! >"$TMP/hold.$1.pid"
	at_exit "kill $! 2>/dev/null"
	wait_log "$TMP/hold.$1" '"event":"granted"'
}
# Waits until the log has a record of event $1.
wait_event()
{
	wait_log "$LOG" "\"event\":\"$1\"" 10
}

note "checkout, checkin, a denial for want of seats and one by a rule"
expect_status 0 co stats --version 29.0 --count 2 --hold 0
hold stats --version 29.0 --count 2 --hold 60
expect_status 1 co stats --version 29.0 --hold 0
LM_PROJECT=blocked run co plot --hold 0
note "lmremove returns the holder's seats"
handle=$(sed -n 's/.*"event":"granted".*"handle":\([0-9]*\).*/\1/p' "$TMP/hold.stats")
[ -n "$handle" ] || fail "no handle in $(cat "$TMP/hold.stats")"
expect_status 0 "$LMUTIL" lmremove -c "$S" -h stats "$handle"
wait_event removed
python3 - "$LOG" <<'PY' || fail "the report log does not hold what happened: $(cat "$LOG")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
events = [r["event"] for r in recs]
# The first leader names the cluster and itself before it serves a license.
assert events[:3] == ["cluster_id", "leader", "license"], events
assert recs[1]["node"] == 1 and recs[1]["term"] >= 1, recs[1]
assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1)), recs
assert all(r["index"] >= p["index"] for p, r in zip(recs, recs[1:])), recs
issued = {r["feature"]: r["count"] for r in recs if r["event"] == "issued"}
assert issued == {"stats": 2, "plot": 1}, issued
outs = [r for r in recs if r["event"] == "checkout"]
# The holder checks out again once lmremove took its seats.
assert len(outs) >= 2 and all(r["feature"] == "stats" and r["count"] == 2 for r in outs), outs
assert outs[0]["user"] and outs[0]["host"], outs
ins = [r for r in recs if r["event"] == "checkin"]
assert [r["handle"] for r in ins] == [outs[0]["handle"]], ins
denied = [r for r in recs if r["event"] == "denied"]
assert [d["code"] for d in denied] == ["LMC_ENOSEATS", "LMC_EDENIED"], denied
assert "EXCLUDE plot PROJECT blocked" in denied[1]["reason"], denied
removed = [r for r in recs if r["event"] == "removed"]
assert len(removed) == 1 and removed[0]["handle"] == outs[1]["handle"], removed
# The lmremove, with who asked, just before the seats it returned.
admin = [r for r in recs if r["event"] == "admin"]
assert [(a["action"], a["outcome"]) for a in admin] == [("lmremove", "allowed")], admin
assert admin[0]["who"] == "uid=0(root)" and admin[0]["from"].startswith("admin-socket"), admin
assert admin[0]["seq"] < removed[0]["seq"], (admin, removed)
opens = [r for r in recs if r["event"] == "session_open"]
assert any(o["project"] == "blocked" for o in opens), opens
assert recs[0]["prev"] == "0" * 64, recs[0]
PY

note "/metrics counts the report log's failures"
python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1]).read().decode())' "http://127.0.0.1:$hport/metrics" \
	>"$TMP/metrics" || fail "no /metrics"
expect_grep '^lmd_report_log_errors_total 0$' "$TMP/metrics"

note "a killed client's seats come back as 'abandoned'"
hold plot --hold 60
kill -KILL "$(cat "$TMP/hold.plot.pid")"
wait_event abandoned

note "a client that stops heartbeating: its seats come back as 'expired'"
hold plot --hold 60
kill -STOP "$(cat "$TMP/hold.plot.pid")"
at_exit "kill -CONT $(cat "$TMP/hold.plot.pid") 2>/dev/null"
wait_event expired
kill -KILL "$(cat "$TMP/hold.plot.pid")"
kill -CONT "$(cat "$TMP/hold.plot.pid")" 2>/dev/null
expect_grep '"event":"session_close".*"reason":"expired"' "$LOG"

note "an idle application's seat taken back by TIMEOUT: 'timeout' with idle_s"
hold plot --idle --hold 60
wait_event timeout
expect_grep '"event":"timeout".*"feature":"plot".*"idle_s":[1-9]' "$LOG"
kill "$(cat "$TMP/hold.plot.pid")"
wait_log "$LOG" '"event":"session_close".*"reason":"clean"' 10
sleep 1
lines=$(wc -l <"$LOG")

note "a restart replays the raft log: nothing is written twice"
kill_lmd lmd TERM
serve lmd2 --report-log "$LOG"
wait_log "$TMP/lmd2.log" "report-log $LOG: $lines records"
expect_status 0 co plot --hold 0
wait_log "$LOG" '"seq":'"$((lines + 2))," 10
python3 - "$LOG" <<'PY' || fail "the restart broke the log: $(cat "$LOG")"
import hashlib, json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "the log does not end with a newline"
prev = "0" * 64
seen = set()
for i, l in enumerate(lines[:-1]):
    r = json.loads(l)
    assert r["prev"] == prev, (i, r)
    prev = hashlib.sha256(l).hexdigest()
    assert r["seq"] == i + 1, r
PY
if [ -e "$TMP/from-options.log" ]; then fail "--report-log did not win over REPORTLOG"; fi

note "REPORTLOG names the log when no --report-log does; HIDE_USER hides who"
kill_lmd lmd2 TERM
sed -i 's/^REPORTLOG .*/& HIDE_USER/' "$TMP/acme.opt"
serve lmd3
expect_status 0 co plot --hold 0
wait_log "$TMP/from-options.log" '"event":"checkin"' 10
# A log started on a server with history holds the commands it replays.
expect_grep '"event":"cluster_id"' "$TMP/from-options.log"
expect_grep '"event":"checkout".*"feature":"stats"' "$TMP/from-options.log"
grep -Eq '"(user|host|display|ip)":' "$TMP/from-options.log" &&
	fail "HIDE_USER: the log names users: $(cat "$TMP/from-options.log")"

note "lmutil report --verify accepts the log"
expect_status 0 "$LMUTIL" report --verify "$LOG"
expect_grep "^ok: $(wc -l <"$LOG") records in 1 file chain from the anchor" "$TMP/out"
expect_status 0 "$LMUTIL" report --verify --json "$LOG"
expect_grep '"ok": *true' "$TMP/out"

note "lmutil report: use, denials by kind, users"
expect_status 0 "$LMUTIL" report --format json "$LOG"
python3 - "$TMP/out" "$(id -un)" <<'PY' || fail "lmutil report: $(cat "$TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
rows = {r["feature"]: r for r in d["usage"]}
stats, plot = rows["stats"], rows["plot"]
assert stats["issued"] == 2 and stats["peak"] == 2, stats
assert stats["denied_no_seat"] == 1 and stats["denied_policy"] == 0, stats
assert plot["denied_policy"] == 1 and plot["denied_no_seat"] == 0, plot
assert 0 < stats["average"] <= 2 and 0 < stats["utilisation_pct"] <= 100, stats
assert stats["checkouts"] >= 3 and plot["checkouts"] >= 4, (stats, plot)
users = {(u["user"], u["feature"]): u for u in d["users"]}
me = users[(sys.argv[2], "stats")]
assert me["seat_hours"] > 0 and me["denials"] == 1, me
PY
expect_status 0 "$LMUTIL" report --by day --feature plot "$LOG"
expect_grep "^$(date -u +%Y-%m-%d) *plot  *1 *1 " "$TMP/out"
grep -q ' stats ' "$TMP/out" && fail "--feature plot shows stats"
expect_status 0 "$LMUTIL" report --format csv --by hour "$LOG"
expect_grep '^period_start,period_end,feature,issued,peak,average' "$TMP/out"
expect_grep '"stats",2,2,' "$TMP/out"
