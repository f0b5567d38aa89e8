#!/bin/sh
# Named users and hosts (USER_BASED, NAMED_USERS, HOST_BASED) with a real
# lmd and real clients: the list fills first come, first served; a user on
# it counts once from any number of hosts; the next one is refused with
# LMC_EDENIED naming the list; lmstat and `lmutil named-user list` show it;
# removal is refused before the hold (saying when it becomes possible, in
# UTC) and while the user holds seats, and works after it (the clock jumps
# with LM_TEST_CLOCK_SKEW_FILE); the list survives a restart; an options
# file INCLUDEing more users than the license names is refused.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 5 USER_BASED=2" \
	"FEATURE cad acme 1.0 permanent 3 HOST_BASED" "FEATURE plot acme 1.0 permanent 4 NAMED_USERS=1"
echo 0 >"$TMP/skew"
echo "# no rules yet" >"$TMP/acme.opt"
start_named()
{
	LM_TEST_CLOCK_SKEW_FILE="$TMP/skew" single_lmd lmd --named-user-hold 24h \
		--options "$TMP/acme.opt" "$@"
}
start_named

# co USER HOST FEATURE [ARGS...]
co()
{
	LM_TEST_USER=$1 LM_TEST_HOST=$2 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
		--json "$3" --hold 0
}
hold()
{
	(LM_TEST_USER=$1 LM_TEST_HOST=$2 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json "$3" --hold 60 >"$TMP/hold.$1" 2>&1) &
	echo $! >"$TMP/hold.$1.pid"
	at_exit "kill $! 2>/dev/null"
	wait_log "$TMP/hold.$1" '"event":"granted"'
}
release() { kill "$(cat "$TMP/hold.$1.pid")"; wait "$(cat "$TMP/hold.$1.pid")" 2>/dev/null; }
denied()
{
	run co "$@"
	[ "$status" -ne 0 ] || fail "$1 on $2 was granted $3: $(cat "$TMP/out")"
	expect_grep 'LMC_EDENIED' "$TMP/out"
}

note "first come, first served: alice from two hosts counts once, bob fills the list"
expect_status 0 co alice h1 stats
expect_status 0 co alice h2 stats
expect_status 0 co bob h1 stats
denied carol h1 stats
expect_grep 'stats: all 2 named users assigned \(alice, bob\); user carol is not one of them' \
	"$TMP/out"
note "a named user still gets in from a new host"
expect_status 0 co bob h9 stats

note "HOST_BASED (bare: as many hosts as seats) counts hosts, whoever runs there"
expect_status 0 co alice ws1 cad
expect_status 0 co bob ws1 cad
expect_status 0 co carol ws2 cad
expect_status 0 co carol ws3 cad
denied carol ws4 cad
expect_grep 'cad: all 3 named hosts assigned \(ws1, ws2, ws3\)' "$TMP/out"

note "lmstat shows the lists, in FlexLM's layout, lmd's and JSON"
expect_status 0 "$LMUTIL" lmstat -c "$S" -a
expect_grep '^  named users: 2 of 2: alice, bob$' "$TMP/out"
expect_grep '^  named hosts: 3 of 3: ws1, ws2, ws3$' "$TMP/out"
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd
expect_grep '^    named users: 2 of 2: alice, bob$' "$TMP/out"
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --json
python3 - "$TMP/out" <<'PY' || fail "lmstat --json does not show the named users"
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["name"]: x for x in d["features"]}
n = f["stats"]["named"]
assert n["kind"] == "users" and n["max"] == 2 and n["count"] == 2, n
assert [x["name"] for x in n["names"]] == ["alice", "bob"], n
assert all(x["removable"] - x["added"] == 86400 for x in n["names"]), n
assert f["plot"]["named"] == {"kind": "users", "max": 1, "count": 0, "names": []}, f["plot"]
assert "named" not in f.get("other", {})
PY
expect_status 0 "$LMUTIL" named-user list -c "$S" stats
expect_grep '^stats: 2 of 2 named users$' "$TMP/out"
expect_grep '^  bob  added [0-9-]+ [0-9:]+ UTC, removable from [0-9-]+ [0-9:]+ UTC$' "$TMP/out"
expect_status 1 "$LMUTIL" named-user list -c "$S" nosuch

note "removal before the hold is refused, saying from when (UTC)"
expect_status 1 "$LMUTIL" named-user remove -c "$S" stats bob
expect_grep 'user bob was named for stats on .* UTC; it can be removed from .* UTC \(lmd --named-user-hold 86400s\)' \
	"$TMP/err"
expect_status 1 "$LMUTIL" named-user remove -c "$S" stats nobody
expect_grep 'nobody is not a named user or host of stats' "$TMP/err"

note "the list survives a restart (the raft log replays it)"
kill_lmd lmd TERM
start_named
denied carol h1 stats
expect_grep 'all 2 named users assigned \(alice, bob\)' "$TMP/out"

note "25 hours later: bob, holding no seat, is removed; alice, holding one, is not"
hold alice h1 stats
echo 90000 >"$TMP/skew"
expect_status 1 "$LMUTIL" named-user remove -c "$S" stats alice
expect_grep 'user alice holds 1 seat of stats; the name can be removed once they are returned' \
	"$TMP/err"
expect_status 0 "$LMUTIL" named-user remove -c "$S" stats bob
expect_grep '^named-user: .*: removed user bob \(named on .* UTC\) from the named users of stats$' \
	"$TMP/out"
release alice
expect_status 0 co carol h1 stats
denied bob h1 stats
expect_grep 'all 2 named users assigned \(alice, carol\)' "$TMP/out"

note "NAMED_USERS=1 (lmd's spelling) is USER_BASED=1"
expect_status 0 co dave h1 plot
denied erin h1 plot

note "an options file INCLUDEing more users than USER_BASED allows is refused, at lmreread too"
cat >"$TMP/acme.opt" <<'OPT'
GROUP team alice bob
INCLUDE stats GROUP team
INCLUDE stats USER carol
OPT
expect_status 1 "$LMUTIL" lmoptcheck -c "$TMP/server.lic" "$TMP/acme.opt"
expect_grep 'acme.opt:3: error: INCLUDE stats USER carol: the license limits stats to 2 named users, and this line makes 3 included users; include at most 2' \
	"$TMP/out"
expect_status 1 "$LMUTIL" lmreread -c "$S"
expect_grep 'the license limits stats to 2 named users' "$TMP/err"

note "with INCLUDE lines, FlexLM's way: only the included users may use it"
printf 'INCLUDE stats USER alice\nINCLUDE stats USER carol\n' >"$TMP/acme.opt"
expect_status 0 "$LMUTIL" lmreread -c "$S"
expect_status 0 co alice h1 stats
denied bob h1 stats
expect_grep 'INCLUDE' "$TMP/out"
