#!/bin/sh
# The report log is tamper-evident: rotated by size, its files chain into
# one, which `lmutil report --verify` accepts in order; an edited record,
# a deleted one, a file cut in the middle of a record, a missing or
# misplaced file are each refused, naming the first record that does not
# hold (FILE:LINE).
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 2"
LOG=$TMP/log/usage.log
mkdir "$TMP/log"
single_lmd lmd --report-log "$LOG" --report-log-max-bytes 4K

co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }
note "twenty checkouts: the log rotates past 4 KiB"
i=0
while [ $i -lt 20 ]; do
	expect_status 0 co stats --hold 0
	i=$((i + 1))
done
wait_log "$LOG" '"event":"session_close"' 10
kill_lmd lmd TERM
files=$(ls "$LOG".* | sort)
set -- $files
[ $# -ge 3 ] || fail "expected at least 3 rotated files, found: $files"
for f in $files "$LOG"; do
	[ "$(wc -c <"$f")" -le 4096 ] || fail "$f is larger than 4 KiB"
done
total=$(cat $files "$LOG" | wc -l)
expect_status 0 "$LMUTIL" report --verify $files "$LOG"
expect_grep "^ok: $total records in $(($# + 1)) files chain from the anchor" "$TMP/out"
expect_grep '"checkouts": *20' "$("$LMUTIL" report --format json $files "$LOG" >"$TMP/sum"; echo "$TMP/sum")"

# check_broken WHAT FILE:LINE FILES...: --verify refuses FILES at FILE:LINE.
check_broken()
{
	_cb_what=$1
	_cb_where=$2
	shift 2
	run "$LMUTIL" report --verify "$@"
	[ "$status" = 1 ] || fail "$_cb_what: --verify exited $status: $(cat "$TMP/out")"
	expect_grep "^$_cb_where: " "$TMP/out"
	"$LMUTIL" report --verify --json "$@" >"$TMP/json"
	python3 - "$TMP/json" "$_cb_where" <<'PY' || fail "$_cb_what: --json: $(cat "$TMP/json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and "%s:%d" % (d["file"], d["line"]) == sys.argv[2], d
PY
}

first=$1
cp "$first" "$TMP/orig"
note "an edited record (the first checkout): the next one names it"
sed '6s/"count":1/"count":9/' "$TMP/orig" >"$first"
cmp -s "$first" "$TMP/orig" && fail "the edit changed nothing"
check_broken "edit" "$first:7" $files "$LOG"
note "a deleted record"
sed '5d' "$TMP/orig" >"$first"
check_broken "deletion" "$first:5" $files "$LOG"
note "a record inserted"
sed '5p' "$TMP/orig" >"$first"
check_broken "insertion" "$first:6" $files "$LOG"
cp "$TMP/orig" "$first"

note "a file cut in the middle of a record"
cp "$LOG" "$TMP/live"
head -c $(($(wc -c <"$LOG") - 20)) "$TMP/live" >"$LOG"
check_broken "truncation" "$LOG:$(wc -l <"$TMP/live")" $files "$LOG"
cp "$TMP/live" "$LOG"

note "a rotated file left out, or the files out of order"
check_broken "missing file" "$3:1" "$1" "$3" "$LOG"
check_broken "order" "$2:1" "$2" "$1"
note "the last file alone chains from the record before it (--anchor)"
check_broken "no anchor" "$LOG:1" "$LOG"
last=$(eval "echo \${$#}")
anchor=$(tail -n 1 "$last" | tr -d '\n' | sha256sum | cut -c1-64)
expect_status 0 "$LMUTIL" report --verify --anchor "$anchor" "$LOG"

note "lmd continues the chain after a restart, in the rotated set"
single_lmd lmd2 --report-log "$LOG" --report-log-max-bytes 4K
wait_log "$TMP/lmd2.log" "report-log $LOG: "
expect_status 0 co stats --hold 0
wait_log "$LOG" '"event":"session_close"' 10
expect_status 0 "$LMUTIL" report --verify $(ls "$LOG".* | sort) "$LOG"

note "a log that cannot be written: lmd serves on, counts, and says what it lost"
kill_lmd lmd2 TERM
hport=$(free_port)
single_lmd lmd3 --report-log "$TMP/later/usage.log" --http "127.0.0.1:$hport"
expect_grep "report log $TMP/later/usage.log: cannot open it" "$TMP/lmd3.log"
expect_status 0 co stats --hold 0
python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1]).read().decode())' "http://127.0.0.1:$hport/metrics" \
	>"$TMP/metrics" || fail "no /metrics"
expect_grep '^lmd_report_log_errors_total [1-9]' "$TMP/metrics"
mkdir "$TMP/later"
expect_status 0 co stats --hold 0
wait_log "$TMP/later/usage.log" '"event":"session_close"' 10
expect_grep '^\{"seq":1,"index":[0-9]*,"time":"[^"]*","event":"lost","from_index":[0-9]*,"to_index":[0-9]*,' \
	"$TMP/later/usage.log"
expect_grep 'writing again' "$TMP/lmd3.log"
expect_status 0 "$LMUTIL" report --verify "$TMP/later/usage.log"
