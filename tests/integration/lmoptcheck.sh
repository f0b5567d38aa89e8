#!/bin/sh
# lmutil lmoptcheck reads options files as lmd will: every real file in
# tests/data/options loads with no error (warnings allowed), and broken
# files are refused with each error named by file and line.
. "$TESTS_SRCDIR/integration/lib.sh"

DATA=$TESTS_SRCDIR/data/options

M=$TMP/machine
make_machine "$M"
expect_status 0 "$LMUTIL" lmhostid --root "$M"
here=$(last_word "$TMP/out")

# One license naming the features of every collected file (signatures are
# not needed to check an options file).
cat >"$TMP/vendor.lic" <<LIC
SERVER licserv $here 27000
VENDOR acme
FEATURE compile acme 1.0 permanent 4
FEATURE MATLAB acme 17 permanent 10
FEATURE SIMULINK acme 17 permanent 10
FEATURE MATLAB_Distrib_Comp_Engine acme 17 permanent 16
INCREMENT hfss acme 29.0 2026-12-31 2
INCREMENT hfss acme 29.0 2027-01-31 2
INCREMENT hfss acme 29.0 2027-03-31 2
FEATURE ansys acme 29.0 permanent 10
FEATURE f1 acme 1.0 permanent 10
FEATURE stats acme 29.0 permanent 4
FEATURE solver acme 2.0 permanent 2
FEATURE 66800REVIT_F acme 1.0 permanent 5
FEATURE 41100ACD_2002_0F acme 1.0 permanent 10
LIC

check() { "$LMUTIL" lmoptcheck "$@"; }

note "every collected options file loads with no error, with and without the license"
n=0
for f in "$DATA"/*.opt; do
	expect_status 0 check -c "$TMP/vendor.lic" "$f"
	expect_grep ': 0 errors, .*policy sha256 [0-9a-f]{64}$' "$TMP/out"
	expect_status 0 check "$f"
	expect_status 0 check -c "$TMP/vendor.lic" --json "$f"
	expect_grep '"ok":true' "$TMP/out"
	if command -v python3 >/dev/null; then
		python3 -m json.tool "$TMP/out" >/dev/null || fail "$f: --json is not JSON"
	fi
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n collected options files"

note "what the checks say about the real files"
expect_status 0 check -c "$TMP/vendor.lic" "$DATA/mathworks_MLM_installer.opt"
expect_grep 'mathworks_MLM_installer.opt:37: warning: feature <Toolbox_Name> is in no FEATURE' "$TMP/out"
expect_grep 'mathworks_MLM_installer.opt:[0-9]+: warning: MATLAB:ASSET_INFO=220668 selects no license line: lmd license lines carry no ASSET_INFO' "$TMP/out"
expect_status 0 check -c "$TMP/vendor.lic" "$DATA/ansys_group_sop.opt"
expect_grep 'warning: EXCLUDE_BORROW has no effect yet' "$TMP/out"
expect_status 0 check -c "$TMP/vendor.lic" --json "$DATA/revenera_keyword_pages.opt"
expect_grep '"keyword":"MAX_BORROW_HOURS","text":"MAX_BORROW_HOURS f1 24","no_effect_yet":true' "$TMP/out"

note "broken files: each error named with its file and line"
B=$DATA/broken
expect_status 1 check -c "$TMP/vendor.lic" "$B/unknown_keyword.opt"
expect_grep "unknown_keyword.opt:4: error: unknown keyword 'EXLCUDE': did you mean EXCLUDE?" "$TMP/out"
expect_status 1 check "$B/undefined_group.opt"
expect_grep 'undefined_group.opt:4: error: GROUP TeamB is not defined: add a line' "$TMP/out"
expect_grep 'undefined_group.opt:6: error: Pacific is a HOST_GROUP, not a GROUP' "$TMP/out"
expect_status 1 check -c "$TMP/vendor.lic" "$B/reserve_over_count.opt"
expect_grep 'reserve_over_count.opt:3: error: RESERVE 2 stats USER bob: with the RESERVE lines before it, 5 seats of stats 29.0 would be reserved, the license has 4' "$TMP/out"
expect_grep 'reserve_over_count.opt:4: error: RESERVE 9 solver USER carol reserves 9 seats but solver 2.0 has 2' "$TMP/out"
expect_status 0 check "$B/reserve_over_count.opt"
expect_status 1 check "$B/bad_wildcards.opt"
expect_grep 'bad_wildcards.opt:1: error: INTERNET 192.168.\* is not an IPv4 address pattern' "$TMP/out"
expect_grep 'bad_wildcards.opt:2: error: INTERNET 10.0.0.256' "$TMP/out"
expect_grep 'bad_wildcards.opt:3: error: HOST_GROUP lab: 10.1.\*.x' "$TMP/out"
expect_status 1 check --json "$B/bad_syntax.opt"
expect_grep '"ok":false,"errors":8' "$TMP/out"
expect_status 1 check "$B/bad_syntax.opt"
for l in 1 2 3 4 5 6 7 8; do
	expect_grep "bad_syntax.opt:$l: error: " "$TMP/out"
done

note "hostile input: a clear error, no crash"
printf 'INCLUDE stats USER alice\nINCLUDE stats USER b\000b\n' >"$TMP/nul.opt"
expect_status 1 check "$TMP/nul.opt"
expect_grep 'nul.opt:2: error: a NUL byte' "$TMP/out"
head -c 65536 /dev/urandom >"$TMP/garbage.opt"
expect_status 1 check "$TMP/garbage.opt"
# Random bytes: the first bad one may be a NUL, another control byte or a
# lone carriage return.
expect_grep 'garbage.opt:[0-9]+: error: (a NUL byte|control byte|a carriage return)' "$TMP/out"
awk 'BEGIN { for (i = 0; i < 100000; i++) print "GROUP big user" i }' >"$TMP/huge.opt"
expect_status 1 check "$TMP/huge.opt"
expect_grep 'huge.opt:20001: error: the file has more than 20000 lines' "$TMP/out"
long=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "x" }')
printf 'INCLUDE stats USER %s\n' "$long" >"$TMP/longname.opt"
expect_status 1 check "$TMP/longname.opt"
expect_grep 'longname.opt:1: error: USER .* is 300 characters long, at most 255' "$TMP/out"
awk 'BEGIN { printf "GROUP g"; for (i = 0; i < 1000; i++) printf " user%d", i; print "" }' \
	>"$TMP/longline.opt"
expect_status 1 check "$TMP/longline.opt"
expect_grep 'longline.opt:1: error: this line is longer than 4000 characters' "$TMP/out"
expect_status 1 check "$TMP/no-such-file.opt"
expect_grep 'error: cannot read' "$TMP/out"
expect_status 2 check
