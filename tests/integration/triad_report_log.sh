#!/bin/sh
# The report log of a triad: every server writes its log from the applied
# commands, so the three logs are the same bytes, record for record and
# link for link, even for a server killed and restarted in the middle
# (it skips the commands it had logged when raft replays them) and across
# a change of leader.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 2
TRIAD_ARGS="--heartbeat 300 --session-timeout 6000"
for n in 1 2 3; do
	triad_start $n --report-log "$TMP/r$n.log"
done
wait_converged

co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }
# Waits until the three logs have as many lines, and compares them.
same_logs()
{
	_sl_end=$(($(date +%s) + 20))
	while :; do
		_sl_n1=$(wc -l <"$TMP/r1.log")
		if [ "$_sl_n1" -gt 0 ] && [ "$_sl_n1" = "$(wc -l <"$TMP/r2.log")" ] &&
			[ "$_sl_n1" = "$(wc -l <"$TMP/r3.log")" ]; then
			break
		fi
		[ "$(date +%s)" -lt "$_sl_end" ] ||
			fail "the logs did not catch up: $(wc -l "$TMP"/r?.log)"
		sleep 0.2
	done
	cmp "$TMP/r1.log" "$TMP/r2.log" || fail "server 2's log differs from server 1's"
	cmp "$TMP/r1.log" "$TMP/r3.log" || fail "server 3's log differs from server 1's"
}

note "checkouts, a denial, checkins: three identical logs"
expect_status 0 co stats --count 2 --hold 0
expect_status 1 co stats --count 3 --hold 0
expect_status 0 co stats --hold 0
wait_converged
same_logs
expect_grep '"event":"denied".*"code":"LMC_ENOSEATS"' "$TMP/r1.log"

note "a follower killed and restarted writes nothing twice"
leader=$(wait_leader)
follower=$((leader % 3 + 1))
triad_kill "$follower"
expect_status 0 co stats --hold 0
triad_start "$follower" --report-log "$TMP/r$follower.log"
wait_converged
expect_status 0 co stats --count 2 --hold 0
wait_converged
same_logs

note "a new leader goes on with the same log, and records that it took over"
triad_kill "$leader"
new_leader=$(wait_leader)
expect_status 0 co stats --hold 0
triad_start "$leader" --report-log "$TMP/r$leader.log"
wait_converged
same_logs
python3 - "$TMP/r1.log" "$leader" "$new_leader" <<'PY' || fail "leadership records: $(grep leader "$TMP/r1.log")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
leaders = [r for r in recs if r["event"] == "leader"]
assert [r["node"] for r in leaders][-2:] == [int(sys.argv[2]), int(sys.argv[3])], leaders
assert leaders[-1]["term"] > leaders[-2]["term"], leaders
PY
for n in 1 2 3; do
	expect_status 0 "$LMUTIL" report --verify "$TMP/r$n.log"
done
outs=$(grep -c '"event":"checkout"' "$TMP/r1.log")
[ "$outs" = 5 ] || fail "$outs checkouts in the log, expected 5: $(cat "$TMP/r1.log")"
