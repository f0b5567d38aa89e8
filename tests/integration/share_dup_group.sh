#!/bin/sh
# DUP_GROUP through a real lmd and real clients: with DUP_GROUP=U, alice on
# two hosts shares the one seat of a count-1 feature and bob is denied;
# lmstat lists both of alice's checkouts under the one seat, marked
# shared, in FlexLM's layout; when one of them checks in the other keeps
# the seat, and when both are gone bob gets it.  With DUP_GROUP=UHD the
# same user on another host needs a seat of their own.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 1 DUP_GROUP=U" \
	"FEATURE plot acme 1.0 permanent 1 DUP_GROUP=UHD"
single_lmd lmd

# hold NAME USER HOST FEATURE: a client holding one seat in the background.
hold() { hold_as "$1" "$2" "$3" "$4"; }

note "alice on two hosts shares one seat of stats (DUP_GROUP=U)"
hold a1 alice ws1 stats
expect_grep '"event":"granted"' "$TMP/a1.json"
hold a2 alice ws2 stats
grep -q '"event":"granted"' "$TMP/a2.json" || fail "alice's second checkout was denied: $(cat "$TMP/a2.json")"
[ "$(in_use stats)" = 1 ] || fail "two seats in use for one sharing user"

note "bob finds the seat taken"
(LM_TEST_USER=bob LM_TEST_HOST=ws3 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json stats --hold 0 >"$TMP/bob.json" 2>&1) && fail "bob was granted a seat in use"
expect_grep '"event":"denied"' "$TMP/bob.json"

note "lmstat lists both of alice's checkouts under the one seat, marked shared"
expect_status 0 "$LMUTIL" lmstat -c "$S" -f stats
cp "$TMP/out" "$TMP/lmstat.txt"
python3 - "$TMP/lmstat.txt" "$port" <<'PY' || fail "lmstat does not show the sharing: $(cat "$TMP/lmstat.txt")"
import re, sys
text, port = open(sys.argv[1]).read(), sys.argv[2]
assert "Users of stats:  (Total of 1 license issued;  Total of 1 license in use)" in text, text
holders = re.findall(r"^    alice (ws\d) :0 \(v29\.0\) \(127\.0\.0\.1/%s \d+\), start \w{3} \d+/\d+ \d+:\d{2} \(shared: 2\)$" % port, text, re.M)
assert sorted(holders) == ["ws1", "ws2"], holders
PY

expect_status 0 "$LMUTIL" lmstat -c "$S" -a --lmd
[ "$(grep -c '^    alice ws[12] :0, 1 seat since .*, shared by 2$' "$TMP/out")" = 2 ] ||
	fail "lmstat --lmd does not show the sharing: $(cat "$TMP/out")"
"$LMUTIL" lmstat -c "$S" -f stats --json >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat --json does not show the sharing: $(cat "$TMP/stat.json")"
import json, sys
f = json.load(open(sys.argv[1]))["features"][0]
assert f["in_use"] == 1 and [h["sharers"] for h in f["holders"]] == [2, 2], f
PY

note "one of alice's checkouts goes: the other keeps the seat"
kill -TERM "$pid_a1"
wait "$pid_a1" 2>/dev/null
expect_grep '"event":"released"' "$TMP/a1.json"
[ "$(in_use stats)" = 1 ] || fail "the shared seat was returned while alice still holds it"
(LM_TEST_USER=bob LM_TEST_HOST=ws3 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json stats --hold 0 >"$TMP/bob.json" 2>&1) && fail "bob was granted alice's shared seat"
expect_status 0 "$LMUTIL" lmstat -c "$S" -f stats
grep -q "(shared" "$TMP/out" && fail "a lone holder is marked shared: $(cat "$TMP/out")"

note "when alice's last checkout goes, bob gets the seat"
kill -TERM "$pid_a2"
wait "$pid_a2" 2>/dev/null
[ "$(in_use stats)" = 0 ] || fail "the seat was not returned by the last sharer"
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json stats --hold 0
expect_grep '"event":"granted"' "$TMP/out"

note "DUP_GROUP=UHD: alice on another host needs a seat of her own"
hold p1 alice ws1 plot
expect_grep '"event":"granted"' "$TMP/p1.json"
(LM_TEST_USER=alice LM_TEST_HOST=ws2 DISPLAY=:0 exec "$LMUTIL" checkout -c "$S" \
	--pubkey "$TMP/vendor.pub" --json plot --hold 0 >"$TMP/p2.json" 2>&1) &&
	fail "alice on another host shared a DUP_GROUP=UHD seat"
expect_grep '"event":"denied"' "$TMP/p2.json"
hold p3 alice ws1 plot
expect_grep '"event":"granted"' "$TMP/p3.json"
[ "$(in_use plot)" = 1 ] || fail "alice at the same display took a second plot seat"
