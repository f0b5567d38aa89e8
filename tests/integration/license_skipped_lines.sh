#!/bin/sh
# A license line that cannot be read, or whose signature does not verify, is
# left out and the other lines are served, as FlexLM does: lmd says which in
# its log, in lmstat (--lmd and JSON) and in lmreread's answer; lmdiag lists
# them; an application reading the file for node-locked lines uses the
# good ones and, asked for a left-out feature, says why.  And two FlexLM
# spellings real files use: a SERVER line with no port, a feature named
# with '/' (Esri's ARC/INFO).
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE plot acme 2.0 permanent 2" "FEATURE stats acme 29.0 permanent 3" \
	"FEATURE draw acme 1.0 permanent 1"
cp "$TMP/server.lic" "$TMP/good.lic"
# The served copy: stats's count edited (its signature no longer holds), a
# line with a date no one can read, another vendor's line.
sed 's/^FEATURE stats acme 29.0 permanent 3/FEATURE stats acme 29.0 permanent 30/' \
	"$TMP/good.lic" >"$TMP/server.lic"
printf 'FEATURE broken acme 1.0 31-foo-2030 3 SIGN=00\nFEATURE alien other 1.0 permanent 1\n' \
	>>"$TMP/server.lic"
stats_line=$(grep -n '^FEATURE stats' "$TMP/server.lic" | cut -d: -f1)
broken_line=$(grep -n '^FEATURE broken' "$TMP/server.lic" | cut -d: -f1)
alien_line=$(grep -n '^FEATURE alien' "$TMP/server.lic" | cut -d: -f1)

note "lmd starts, serving the good lines, and logs each line left out"
single_lmd lmd
log=$TMP/lmd.log
expect_grep "server.lic:$stats_line: FEATURE stats left out, not served: signature does not verify" "$log"
expect_grep "server.lic:$broken_line: FEATURE broken left out, not served: .*date" "$log"
expect_grep "server.lic:$alien_line: FEATURE alien left out, not served: .*vendor 'other'" "$log"
expect_grep "serving 2 license lines" "$log"

co() { "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"; }
expect_status 0 co plot --hold 0
expect_status 0 co draw --hold 0
expect_status 1 co stats --hold 0
expect_grep 'LMC_ENOFEATURE' "$TMP/out"

note "lmstat --lmd and its JSON list the lines left out"
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd
expect_grep "license line $stats_line left out \(FEATURE stats\): signature does not verify" "$TMP/out"
expect_grep "license line $broken_line left out \(FEATURE broken\)" "$TMP/out"
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd --json
python3 - "$TMP/out" "$stats_line" "$broken_line" "$alien_line" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
skipped = [s for srv in d["servers"] for s in srv.get("skipped_lines", [])]
lines = [s["line"] for s in skipped]
assert lines == [int(x) for x in sys.argv[2:5]], skipped
assert [s["what"] for s in skipped] == ["FEATURE stats", "FEATURE broken", "FEATURE alien"], skipped
assert all(s["reason"] for s in skipped), skipped
PY
	fail "lmstat --json does not list the lines left out: $(cat "$TMP/out")"

note "lmreread of the repaired file serves every line and lists none"
cp "$TMP/good.lic" "$TMP/server.lic"
expect_status 0 "$LMUTIL" lmreread -c "$S"
expect_grep 'reloaded 3 license lines' "$TMP/out"
grep -q 'left out' "$TMP/out" && fail "a clean reread reported lines left out: $(cat "$TMP/out")"
n=0
until co stats --hold 0 >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "stats is not served after the reread"
	sleep 0.1
done
expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd
grep -q 'left out' "$TMP/out" && fail "lmstat still lists lines left out: $(cat "$TMP/out")"

note "lmreread of a file with a bad line says so in its answer"
printf 'FEATURE broken acme 1.0 31-foo-2030 3 SIGN=00\n' >>"$TMP/server.lic"
expect_status 0 "$LMUTIL" lmreread -c "$S"
expect_grep "reloaded 3 license lines; 1 line left out \(line $broken_line: FEATURE broken: " "$TMP/out"

note "lmreread of a file with no line that can be served is refused, the set unchanged"
{
	grep -E '^(SERVER|VENDOR)' "$TMP/good.lic"
	echo 'FEATURE broken acme 1.0 31-foo-2030 3 SIGN=00'
} >"$TMP/server.lic"
expect_status 1 "$LMUTIL" lmreread -c "$S"
expect_grep 'no license line of the file can be read' "$TMP/err"
expect_status 0 co plot --hold 0

note "lmdiag lists the lines left out and exits 1"
cp "$TMP/good.lic" "$TMP/diag.lic"
printf 'FEATURE broken acme 1.0 31-foo-2030 3 SIGN=00\n' >>"$TMP/diag.lic"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/diag.lic" --pubkey "$TMP/vendor.pub" --root "$TMP/m1"
expect_grep 'Lines left out' "$TMP/out"
expect_grep "line $broken_line, FEATURE broken: " "$TMP/out"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/diag.lic" --pubkey "$TMP/vendor.pub" --root "$TMP/m1" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["skipped_lines"]; assert len(s)==1 and s[0]["what"]=="FEATURE broken" and s[0]["code"]=="LMC_ESYNTAX", s' "$TMP/out" ||
	fail "lmdiag --json does not list the line left out: $(cat "$TMP/out")"

note "an application reading node-locked lines uses the good ones and explains the bad"
cat >"$TMP/local.tmpl" <<LIC
VENDOR acme
FEATURE viewer acme 1.0 permanent uncounted HOSTID=ANY
LIC
sign_license "$TMP/local.tmpl" "$TMP/local.lic"
printf 'FEATURE editor acme 1.0 permanent uncounted HOSTID=ANY BOGUS_WORD=1 SIGN=00\n' >>"$TMP/local.lic"
expect_status 0 "$LMUTIL" checkout -c "$TMP/local.lic" --pubkey "$TMP/vendor.pub" --json viewer --hold 0
expect_status 1 "$LMUTIL" checkout -c "$TMP/local.lic" --pubkey "$TMP/vendor.pub" --json editor --hold 0
expect_grep 'LMC_ENOFEATURE' "$TMP/out"
expect_grep 'local.lic:[0-9]+: FEATURE editor was left out, it cannot be read: .*BOGUS_WORD' "$TMP/out"

note "a SERVER line with no port and a feature named ARC/INFO are served"
kill_lmd lmd
code=$(make_server_machine 1)
cat >"$TMP/esri.tmpl" <<LIC
SERVER 127.0.0.1 $code
VENDOR acme
FEATURE ARC/INFO acme 10.0 permanent 2
LIC
sign_license "$TMP/esri.tmpl" "$TMP/esri.lic"
grep -q "^SERVER 127.0.0.1 $code 27000" "$TMP/esri.lic" ||
	fail "the signed file does not say the default port: $(cat "$TMP/esri.lic")"
port2=$(free_port)
LM_HOSTID_ROOT="$TMP/m1" start_lmd esri -c "$TMP/esri.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/esri.data" --listen 127.0.0.1 --port "$port2" --peer-port "$(free_port)"
wait_port "$port2"
wait_log "$TMP/esri.log" ' license serving 1 license lines'
expect_status 0 "$LMUTIL" checkout -c "$port2@127.0.0.1" --pubkey "$TMP/vendor.pub" --json \
	ARC/INFO --version 10.0 --hold 0
expect_grep '"granted"' "$TMP/out"
expect_status 0 "$LMUTIL" lmstat -c "$port2@127.0.0.1" -a
expect_grep '^Users of ARC/INFO: ' "$TMP/out"
exit 0
