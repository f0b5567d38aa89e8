#!/bin/sh
# lmutil lmavail against a real lmd: the free seats of each feature (issued
# less held less idle reserved), exit status 0 when every feature named has
# N free, 1 when one has fewer, 2 for usage errors, 3 when no server
# answers; and the count it gives is what a checkout finds.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 5" "FEATURE plot acme 1.0 2027-12-31 1"
printf 'RESERVE 2 stats USER carol\n' >"$TMP/acme.opt"
single_lmd lmd --options "$TMP/acme.opt"

# hold NAME USER [COUNT]: USER holds COUNT seats of stats in the background.
hold()
{
	(LM_TEST_USER=$2 LM_TEST_HOST=ws-$2 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json stats --version 29.0 --count "${3:-1}" \
		--hold 60 >"$TMP/$1" 2>&1) &
	at_exit "kill $! 2>/dev/null"
}

hold alice alice 2
wait_log "$TMP/alice" '"event":"granted"'

note "5 issued, alice holds 2, carol's 2 are reserved: 1 free"
expect_status 0 "$LMUTIL" lmavail -c "$S" stats
[ "$(cat "$TMP/out")" = "stats 1 free of 5 (2 in use, 2 reserved)" ] ||
	fail "lmavail stats: $(cat "$TMP/out")"
expect_status 1 "$LMUTIL" lmavail -c "$S" stats:2
expect_grep "^stats 1 free of 5 \(2 in use, 2 reserved\), fewer than the 2 wanted$" "$TMP/out"
expect_status 0 "$LMUTIL" lmavail -c "$S" stats plot:1
expect_grep "^plot 1 free of 1 \(0 in use, 0 reserved\)$" "$TMP/out"
expect_status 1 "$LMUTIL" lmavail -c "$S" plot stats:3
expect_status 1 "$LMUTIL" lmavail -c "$S" nosuch
expect_grep "^nosuch 0 free: not served$" "$TMP/out"

note "--json: one object per feature and the verdict"
expect_status 1 "$LMUTIL" lmavail -c "$S" --json stats:2 plot
python3 - "$TMP/out" <<'PY' || fail "lmavail --json: $(cat "$TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["enough"] is False, d
assert d["features"] == [
    {"name": "stats", "served": True, "wanted": 2, "free": 1, "issued": 5, "in_use": 2,
     "reserved": 2, "enough": False},
    {"name": "plot", "served": True, "wanted": 1, "free": 1, "issued": 1, "in_use": 0,
     "reserved": 0, "enough": True}], d
PY

note "carol takes a reserved seat: still 1 free; bob takes it: 0, and dave is refused"
hold carol carol
wait_log "$TMP/carol" '"event":"granted"'
expect_status 0 "$LMUTIL" lmavail -c "$S" stats
expect_grep "^stats 1 free of 5 \(3 in use, 1 reserved\)$" "$TMP/out"
hold bob bob
wait_log "$TMP/bob" '"event":"granted"'
expect_status 1 "$LMUTIL" lmavail -c "$S" stats
expect_grep "^stats 0 free of 5 \(4 in use, 1 reserved\), fewer than the 1 wanted$" "$TMP/out"
run env LM_TEST_USER=dave LM_TEST_HOST=ws-dave "$LMUTIL" checkout -c "$S" \
	--pubkey "$TMP/vendor.pub" --json stats --version 29.0 --timeout 3000
[ "$status" != 0 ] || fail "dave got a seat lmavail did not count: $(cat "$TMP/out")"
expect_grep '"event":"denied"' "$TMP/out"

note "the README's Slurm recipe feeds sacctmgr what lmavail counts"
python3 - "$LM_TOP_SRCDIR/README.md" "$TMP/feed.sh" <<'PY' || fail "no Slurm recipe in the README"
import re, sys
text = open(sys.argv[1]).read()
part = text.split("### Slurm's remote licenses from `lmavail`", 1)[1]
recipe = re.findall(r"```sh\n(.*?)```", part, re.S)[1]
assert "sacctmgr -i update resource" in recipe, recipe
open(sys.argv[2], "w").write(recipe)
PY
mkdir "$TMP/bin"
printf '#!/bin/sh\necho "$*" >>"%s"\n' "$TMP/sacctmgr.txt" >"$TMP/bin/sacctmgr"
chmod +x "$TMP/bin/sacctmgr" "$TMP/feed.sh"
sed -i "s/-c 27000@lic1,27000@lic2,27000@lic3/-c $S/" "$TMP/feed.sh"
PATH="$TMP/bin:$(dirname "$LMUTIL"):$PATH" sh "$TMP/feed.sh" || fail "the recipe failed"
# stats: 5 issued, 0 free (4 held, carol's other reserved seat idle); solver is not served.
[ "$(cat "$TMP/sacctmgr.txt")" = "-i update resource stats server=lmd set lastconsumed=5" ] ||
	fail "the recipe told sacctmgr: $(cat "$TMP/sacctmgr.txt")"

note "usage errors are 2, no server is 3"
expect_status 2 "$LMUTIL" lmavail -c "$S"
expect_grep "name at least one FEATURE" "$TMP/err"
for arg in stats:0 stats:x stats: :2; do
	expect_status 2 "$LMUTIL" lmavail -c "$S" "$arg"
done
expect_status 2 "$LMUTIL" lmavail -c "$S" -Z stats
expect_status 2 "$LMUTIL" lmavail -c "$S" -t 0 stats
expect_status 0 "$LMUTIL" lmavail --help
expect_grep "^usage: lmutil lmavail " "$TMP/out"
dead=$(free_port)
expect_status 3 "$LMUTIL" lmavail -c "$dead@127.0.0.1" -t 2 stats
expect_grep "no server of $dead@127.0.0.1 answered" "$TMP/err"
expect_status 3 "$LMUTIL" lmavail -c "$dead@127.0.0.1" --json stats
expect_grep '"code":"LMC_ENOSERVER"' "$TMP/out"
