#!/bin/sh
# OVERDRAFT, VENDOR_STRING and expiry warnings through real servers and
# clients: a 1-seat line with OVERDRAFT=1 lends a second seat, flagged as
# overdraft in the client (lmc_license_info through `lmutil checkout`),
# lmstat (JSON, lmd and FlexLM text), the leader's log and the report
# log; a third is denied saying so.  The lent seat survives a kill -9 of
# the leader, still flagged, and the triad still lends no more than one.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

triad_setup 1
expiry=$(date -u -d '+10 days' +%Y-%m-%d)
sed "s/^FEATURE stats acme 29.0 permanent 1\$/FEATURE stats acme 29.0 $expiry 1 OVERDRAFT=1 VENDOR_STRING=\"site=lab seats=1\"/" \
	"$TMP/triad.tmpl" >"$TMP/overdraft.tmpl"
grep -q OVERDRAFT "$TMP/overdraft.tmpl" || fail "the template was not rewritten"
sign_license "$TMP/overdraft.tmpl" "$TMP/triad.lic"
TRIAD_ARGS="--heartbeat 300 --session-timeout 6000"
for n in 1 2 3; do
	triad_start $n --report-log "$TMP/report$n.log"
done
leader=$(wait_leader)
wait_converged

hold()
{
	(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --hold 600 \
		--timeout 20000 stats >"$TMP/$1.json" 2>"$TMP/$1.err") &
	eval "pid_$1=$!"
	at_exit "kill -9 $! 2>/dev/null"
	wait_log "$TMP/$1.json" '"granted"'
}

# A field of the license object of the granted event of client $1.
granted()
{
	python3 - "$TMP/$1.json" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "granted":
        v = e["license"][sys.argv[2]]
        print(str(v).lower() if isinstance(v, bool) else v)
        break
PY
}

note "a seat within the count, then one lent"
hold a
[ "$(granted a overdraft)" = 0 ] || fail "the first seat is flagged overdraft: $(cat "$TMP/a.json")"
[ "$(granted a vendor_string)" = "site=lab seats=1" ] ||
	fail "VENDOR_STRING did not reach the application: $(cat "$TMP/a.json")"
[ "$(granted a expiry)" = "$expiry" ] || fail "wrong expiry: $(cat "$TMP/a.json")"
[ "$(granted a days_left)" = 10 ] || fail "wrong days left: $(cat "$TMP/a.json")"
[ "$(granted a expires_soon)" = true ] || fail "no expiry warning: $(cat "$TMP/a.json")"
hold b
[ "$(granted b overdraft)" = 1 ] || fail "the second seat is not flagged overdraft: $(cat "$TMP/b.json")"

note "a third seat is denied"
expect_status 1 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" stats
expect_grep 'all 1 seats of stats 29.0 in use, and its 1 overdraft seats' "$TMP/out"

check_lmstat()
{
	triad_stat >"$TMP/stat.json"
	python3 - "$TMP/stat.json" <<'PY' || fail "lmstat --json: $(cat "$TMP/stat.json")"
import json, sys
f = [f for f in json.load(open(sys.argv[1]))["features"] if f["name"] == "stats"][0]
assert (f["issued"], f["in_use"], f["overdraft"]) == (1, 2, 1), f
assert f["expires_in_days"] == 10, f
assert sorted(h["overdraft"] for h in f["holders"]) == [0, 1], f["holders"]
PY
	"$LMUTIL" lmstat -c "$S" -a >"$TMP/flexlm.txt"
	expect_grep 'Users of stats:  \(Total of 1 license issued;  Total of 2 licenses in use\)' \
		"$TMP/flexlm.txt"
	[ "$(grep -c '(overdraft: 1)' "$TMP/flexlm.txt")" = 1 ] ||
		fail "lmstat does not flag the one overdraft seat: $(cat "$TMP/flexlm.txt")"
	"$LMUTIL" lmstat -c "$S" -a --lmd >"$TMP/lmd.txt"
	expect_grep "stats 29.0: 2 of 1 seats in use, 1 overdraft beyond them, expires $expiry \\(expires in 10 days\\)" \
		"$TMP/lmd.txt"
	expect_grep ', 1 overdraft$' "$TMP/lmd.txt"
}
check_lmstat
expect_grep 'checkout .*feature=stats .*overdraft=1$' "$TMP/lmd$leader.log"
# lmd warns at its periodic sweep once the license set is applied: wait for it.
wait_log "$TMP/lmd$leader.log" \
	"warning license: FEATURE stats 29.0 \\(1 seat\\) expires on $expiry, in 10 days"
wait_log "$TMP/report$leader.log" '"overdraft":1'

note "kill -9 of the leader (server $leader) with the lent seat held"
old=$leader
triad_kill "$old"
leader=$(wait_leader)
note "server $leader leads"
triad_start "$old"
wait_converged
check_lmstat
expect_status 1 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" stats
expect_grep 'and its 1 overdraft seats' "$TMP/out"
for c in a b; do
	grep -q '"lost"' "$TMP/$c.json" && fail "client $c lost its seat: $(cat "$TMP/$c.json")"
done

note "the lent seat returned: the next one is lent again, the count being taken"
kill -TERM "$pid_b"
wait_log "$TMP/b.json" '"released"'
wait_in_use 1
hold c
[ "$(granted c overdraft)" = 1 ] || fail "the seat past the count is not lent: $(cat "$TMP/c.json")"
kill -TERM "$pid_a"
wait_log "$TMP/a.json" '"released"'
wait_in_use 1
wait_converged
