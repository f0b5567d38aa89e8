#!/bin/sh
# Options files collected from public sources (tests/data/options,
# SOURCES.md) served by a real lmd, unchanged, and doing what their comments
# or their pages say.  Each is loaded by lmreread into the same server; the
# clients are the real library as simulated people on simulated hosts
# (LM_TEST_USER, LM_TEST_HOST: test-hooks builds).
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

DATA=$TESTS_SRCDIR/data/options
single_server "FEATURE compile acme 1.0 permanent 4" \
	"FEATURE MATLAB acme 17 permanent 10" \
	"FEATURE MATLAB_Distrib_Comp_Engine acme 17 permanent 16" \
	"FEATURE SIMULINK acme 17 permanent 10" \
	"FEATURE f1 acme 1.0 permanent 10" \
	"INCREMENT hfss acme 29.0 2026-12-31 2" \
	"INCREMENT hfss acme 29.0 2027-01-31 2" \
	"INCREMENT hfss acme 29.0 2027-03-31 2" \
	"FEATURE ansys acme 29.0 permanent 10"
cp "$DATA/flexnet_simple_example.opt" "$TMP/site.opt"
single_lmd lmd --options "$TMP/site.opt"

# as USER HOST FEATURE VERSION [lmutil checkout options]: one checkout.
as()
{
	_u=$1 _h=$2 _f=$3 _v=$4
	shift 4
	LM_TEST_USER=$_u LM_TEST_HOST=$_h "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
		--json "$_f" --version "$_v" "$@"
}
granted() { expect_status 0 as "$@" --hold 0; }
refused()
{
	_why=$1
	shift
	run as "$@" --hold 0
	grep -q 'LMC_EDENIED' "$TMP/out" || fail "$*: not refused by the policy: $(cat "$TMP/out")"
	grep -q "$_why" "$TMP/out" || fail "$*: the refusal does not name '$_why': $(cat "$TMP/out")"
}
# holder NAME USER HOST FEATURE VERSION: holds a seat in the background.
holder()
{
	(LM_TEST_USER=$2 LM_TEST_HOST=$3 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
		--json "$4" --version "$5" --hold 60 >"$TMP/hold.$1" 2>&1) &
	echo $! >"$TMP/hold.$1.pid"
	at_exit "kill $! 2>/dev/null"
	wait_log "$TMP/hold.$1" '"event":"(granted|denied)"'
	grep -q '"event":"granted"' "$TMP/hold.$1" || fail "holder $1 was refused: $(cat "$TMP/hold.$1")"
}
release() { kill "$(cat "$TMP/hold.$1.pid")"; wait "$(cat "$TMP/hold.$1.pid")" 2>/dev/null; }
serve()
{
	cp "$DATA/$1" "$TMP/site.opt"
	expect_status 0 "$LMUTIL" lmreread -c "$S"
}

note "FlexNet's simple example: 1 compile seat for robert, 3 for host mainline, none for lori"
refused 'EXCLUDE compile USER lori (site.opt line 3)' lori ws1 compile 1.0
# The four seats are all reserved: anyone else, elsewhere, is refused.
refused 'RESERVE' dave ws1 compile 1.0
holder robert robert ws1 compile 1.0
refused 'RESERVE' robert ws1 compile 1.0 # his one seat is taken
holder m1 anna mainline compile 1.0
holder m2 ben mainline compile 1.0
holder m3 carl mainline compile 1.0
run as dora mainline compile 1.0 --hold 0
grep -q 'LMC_ENOSEATS' "$TMP/out" || fail "the fifth compile seat: $(cat "$TMP/out")"
for h in robert m1 m2 m3; do release $h; done

note "ArcGIS's keyword pages: bob alone on f1's INCLUDE list, frank excluded, jan capped at 5"
serve esri_license_manager_examples.opt
granted bob ws1 f1 1.0
refused 'not on the INCLUDE list of f1' jan ws1 f1 1.0
refused 'EXCLUDE f1 USER frank' frank ws1 f1 1.0

note "MathWorks checker groups: the engine for ratcrab_users only, MATLAB for the wildcats hosts"
serve mathworks_checker_groups.opt
granted jestzer ws1 MATLAB_Distrib_Comp_Engine 17
refused 'INCLUDE MATLAB_Distrib_Comp_Engine GROUP ratcrab_users' someone ws1 MATLAB_Distrib_Comp_Engine 17
# The host group names addresses (a client on loopback is in neither);
# INCLUDEALL lets the group in everywhere.
granted jestzer ws1 MATLAB 17
refused 'INCLUDE MATLAB HOST_GROUP wildcats' someone ws1 MATLAB 17
refused 'INCLUDEALL' someone ws1 SIMULINK 17
granted funky_monkey ws1 SIMULINK 17

note "The Ansys SOP: hfss for TeamA (case-insensitive), TeamB excluded, user9 excluded"
serve ansys_group_sop.opt
granted USER1 ws1 hfss 29.0
refused 'EXCLUDE hfss GROUP TeamB' user4 ws1 hfss 29.0
refused 'EXCLUDE hfss USER user9' user9 ws1 hfss 29.0
refused 'INCLUDEALL GROUP TeamA' bob ws1 ansys 29.0
# MAX_OVERDRAFT caps OVERDRAFT seats now: no "no effect" warning.
if grep -q 'site.opt:12: MAX_OVERDRAFT' "$TMP/lmd.log"; then
	fail "MAX_OVERDRAFT still warned about"
fi
