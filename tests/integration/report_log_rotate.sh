#!/bin/sh
# lmd --report-log-rotate daily: the report log starts a new file at the
# first record of a new UTC day (the records' time, moved here by the test
# clock hook), each file holding one day; the chain runs on across the
# files, so `lmutil report --verify LOG.* LOG` accepts them and one edit in
# a rotated file is still found; a restart reads the day of the last
# record and does not rotate within that day; lmutil report sums all files.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 4"
LOG=$TMP/usage.log
# The clock starts at noon UTC of tomorrow, far from midnight whenever the
# test runs; each day later is one more day of skew.
noon_skew=$(python3 -c 'import time; t = time.time(); print(int((t // 86400 + 1) * 86400 + 43200 - t))')
day=$(python3 -c "import time; print(time.strftime('%Y-%m-%d', time.gmtime(time.time() + $noon_skew)))")
echo "$noon_skew" >"$TMP/skew"
serve()
{
	LM_TEST_CLOCK_SKEW_FILE="$TMP/skew" single_lmd lmd --report-log "$LOG" \
		--report-log-rotate daily
}
serve
# --timeout: right after a restart lmd may still answer "starting; retry".
co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json stats --version 29.0 --hold 0 --timeout 10000; }
# DAYS: the clock moves on to noon, DAYS days after the first.
move_to_day()
{
	echo $((noon_skew + 86400 * $1)) >"$TMP/skew"
	sleep 0.3 # lmd reads the skew file every 100 ms
}
records() { grep -c '"event":"checkin"' "$@" | awk -F: '{ n += $NF } END { print n }'; }

note "day 0: two checkouts, one file"
expect_status 0 co
expect_status 0 co
wait_log "$LOG" '"event":"checkin"' 10
ls "$LOG".* >/dev/null 2>&1 && fail "rotated within the first day: $(ls "$LOG".*)"

note "day 1: the first checkout starts a new file"
move_to_day 1
expect_status 0 co
sleep 0.5
[ "$(ls "$LOG".* 2>/dev/null | wc -l)" -eq 1 ] || fail "not one rotated file: $(ls "$TMP")"
rotated=$(ls "$LOG".*)
python3 - "$rotated" "$LOG" "$day" <<'PY' || fail "the files do not hold one day each"
import datetime, json, sys
old = [json.loads(l) for l in open(sys.argv[1])]
new = [json.loads(l) for l in open(sys.argv[2])]
day0 = datetime.date.fromisoformat(sys.argv[3])
assert {r["time"][:10] for r in old} == {str(day0)}, [r["time"] for r in old]
assert {r["time"][:10] for r in new} == {str(day0 + datetime.timedelta(days=1))}, [r["time"] for r in new]
assert new[0]["seq"] == old[-1]["seq"] + 1, (old[-1], new[0])
assert sys.argv[1].endswith(".%012d" % old[0]["seq"]), sys.argv[1]
PY

note "a restart on day 1 continues the file; day 3 (day 2 had no commands) rotates again"
kill_lmd lmd
serve
expect_status 0 co
sleep 0.5
[ "$(ls "$LOG".* | wc -l)" -eq 1 ] || fail "a restart within the day rotated: $(ls "$LOG".*)"
move_to_day 3
expect_status 0 co
sleep 0.5
[ "$(ls "$LOG".* | wc -l)" -eq 2 ] || fail "day 3 did not rotate: $(ls "$LOG".*)"
kill_lmd lmd

note "--verify across the rotated files, and one edit in the first is found"
# shellcheck disable=SC2046 # LOG.* in name order is chain order
expect_status 0 "$LMUTIL" report --verify $(ls "$LOG".*) "$LOG"
expect_grep '^ok: [0-9]+ records in 3 files' "$TMP/out"
expect_status 1 "$LMUTIL" report --verify "$LOG"
expect_status 0 "$LMUTIL" report --format json $(ls "$LOG".*) "$LOG"
python3 -c "
import json, sys
d = json.load(open('$TMP/out'))
assert d['usage'][0]['checkouts'] == 5, d['usage']
" || fail "lmutil report over the files: $(cat "$TMP/out")"
first=$(ls "$LOG".* | head -n 1)
sed -i '0,/"event":"checkin"/s/"event":"checkin"/"event":"checkin" /' "$first"
expect_status 1 "$LMUTIL" report --verify $(ls "$LOG".*) "$LOG"
expect_grep "$(basename "$first"):[0-9]+: " "$TMP/out"

note "--report-log-rotate knows daily only"
expect_status 2 "$LMD" --report-log "$LOG" --report-log-rotate hourly -c "$TMP/server.lic"
expect_grep 'only daily is known' "$TMP/err"
exit 0
