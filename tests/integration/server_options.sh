#!/bin/sh
# The administrator's options file, enforced by a real lmd for real
# clients: EXCLUDE, INCLUDE, MAX and RESERVE, each denial naming its rule
# (LMC_EDENIED, not "all seats in use"); the file named by --options or by
# the VENDOR line; lmreread reloads license and options together and
# refuses a broken file whole, listing its errors, with the old policy
# still in force.  Clients are told apart by LM_PROJECT (PROJECT rules) and
# DISPLAY, which the real library sends.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 3" "FEATURE plot acme 1.0 permanent 2"
cat >"$TMP/acme.opt" <<'OPT'
# Who may use what (FlexLM grammar).
EXCLUDE stats PROJECT blocked
RESERVE 1 stats PROJECT vip
MAX 1 stats PROJECT capped
INCLUDE plot DISPLAY :7
OPT

single_lmd lmd --options "$TMP/acme.opt"
expect_grep ' options policy acme.opt: 4 rules' "$TMP/lmd.log"

co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }
co_as() { _project=$1; shift; LM_PROJECT=$_project co "$@"; }
# A holder in the background; waits until it holds.
hold_as()
{
	(LM_PROJECT=$1 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json \
		stats --version 29.0 --hold 60 >"$TMP/hold.$2" 2>&1) &
	echo $! >"$TMP/hold.$2.pid"
	at_exit "kill $! 2>/dev/null"
	wait_log "$TMP/hold.$2" '"event":"granted"'
}
release() { kill "$(cat "$TMP/hold.$1.pid")"; wait "$(cat "$TMP/hold.$1.pid")" 2>/dev/null; }

denied_by()
{
	grep -q '"event":"denied"' "$TMP/out" || fail "$1: not denied: $(cat "$TMP/out")"
	grep -q 'LMC_EDENIED' "$TMP/out" || fail "$1: denied but not by policy: $(cat "$TMP/out")"
	grep -q "$2" "$TMP/out" || fail "$1: the denial does not name '$2': $(cat "$TMP/out")"
}

note "EXCLUDE: a denial naming the rule and its line"
run co_as blocked stats --version 29.0 --hold 0
denied_by "EXCLUDE" 'EXCLUDE stats PROJECT blocked (acme.opt line 2)'
expect_status 0 co_as other stats --version 29.0 --hold 0

note "lmstat names the policy in force (lmoptcheck's sha256) and each pool's rules"
expect_status 0 "$LMUTIL" lmoptcheck "$TMP/acme.opt"
sha=$(sed -n 's/.*policy sha256 \([0-9a-f]*\)$/\1/p' "$TMP/out")
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --json
python3 - "$TMP/out" "$sha" <<'PY' || fail "lmstat --json does not show the policy"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["servers"][0]
assert s["options"] == {"name": "acme.opt", "sha256": sys.argv[2]}, s
assert s["options_differ"] is False, s
rules = {f["name"]: f["rules"] for f in d["features"]}
assert rules["stats"] == ["EXCLUDE stats PROJECT blocked (acme.opt line 2)",
                          "RESERVE 1 stats PROJECT vip (acme.opt line 3)",
                          "MAX 1 stats PROJECT capped (acme.opt line 4)"], rules
assert rules["plot"] == ["INCLUDE plot DISPLAY :7 (acme.opt line 5)"], rules
PY
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd
expect_grep "^    options acme.opt \(sha256 $(echo "$sha" | cut -c1-16)\)$" "$TMP/out"
expect_grep '^    policy: RESERVE 1 stats PROJECT vip \(acme.opt line 3\)$' "$TMP/out"

note "MAX: the second seat of a capped project is refused"
hold_as capped c1
run co_as capped stats --version 29.0 --hold 0
denied_by "MAX" 'MAX 1 stats PROJECT capped'

note "RESERVE: the last seat is vip's, even free"
hold_as other o1
run co_as other stats --version 29.0 --hold 0
denied_by "RESERVE" 'RESERVE'
expect_status 0 co_as vip stats --version 29.0 --hold 0

note "INCLUDE: plot only for DISPLAY :7"
run env DISPLAY=:8 LM_PROJECT= "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json plot --hold 0
denied_by "INCLUDE" 'INCLUDE plot DISPLAY :7'
expect_status 0 env DISPLAY=:7 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json plot --hold 0

note "lmreread refuses a broken options file whole, listing its errors; the old policy stays"
cp "$TMP/acme.opt" "$TMP/acme.opt.good"
cat >>"$TMP/acme.opt" <<'OPT'
BOGUS stats
MAX 1 stats GROUP nosuchgroup
OPT
expect_status 1 "$LMUTIL" lmreread -c "$S"
expect_grep 'acme.opt:6: .*BOGUS' "$TMP/err"
expect_grep 'acme.opt:7: .*nosuchgroup' "$TMP/err"
expect_grep 'still serving the previous license' "$TMP/err"
run co_as blocked stats --version 29.0 --hold 0
denied_by "EXCLUDE after a refused reread" 'EXCLUDE stats PROJECT blocked'

note "lmreread serves an edited options file"
grep -v '^EXCLUDE' "$TMP/acme.opt.good" >"$TMP/acme.opt"
release c1
expect_status 0 "$LMUTIL" lmreread -c "$S"
expect_status 0 co_as blocked stats --version 29.0 --hold 0
release o1
kill_lmd lmd TERM

note "the VENDOR line's options file (relative to the license), without --options"
{
	grep -v '^VENDOR' "$TMP/template.lic"
	echo "VENDOR acme /opt/acme/bin/acme OPTIONS=acme.opt"
} >"$TMP/template2.lic"
sign_license "$TMP/template2.lic" "$TMP/server.lic"
printf 'EXCLUDE plot PROJECT blocked\n' >"$TMP/acme.opt"
single_lmd lmd2
run co_as blocked plot --hold 0
denied_by "VENDOR OPTIONS=" 'EXCLUDE plot PROJECT blocked (acme.opt line 1)'

note "NOLOG OUT and NOLOG DENIED spare lmd's log those events, not checkins"
printf 'EXCLUDE plot PROJECT blocked\nNOLOG OUT\nNOLOG DENIED\n' >"$TMP/acme.opt"
expect_status 0 "$LMUTIL" lmreread -c "$S"
lines=$(wc -l <"$TMP/lmd2.log")
expect_status 0 co_as quiet plot --hold 0
run co_as blocked plot --hold 0
denied_by "NOLOG DENIED" 'EXCLUDE plot PROJECT blocked (acme.opt line 1)'
tail -n +$((lines + 1)) "$TMP/lmd2.log" >"$TMP/since"
expect_grep ' checkin ' "$TMP/since"
if grep -Eq ' (checkout|denied) ' "$TMP/since"; then
	fail "NOLOG OUT/DENIED: lmd logged them: $(cat "$TMP/since")"
fi
kill_lmd lmd2 TERM

note "a broken options file stops lmd at start, naming the file and line"
printf 'INCLUDE stats USER\n' >"$TMP/acme.opt"
expect_status 1 env LM_HOSTID_ROOT="$TMP/m1" "$LMD" -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/data3" --listen 127.0.0.1 --peer-port "$(free_port)"
expect_grep 'acme.opt:1: ' "$TMP/err"
