#!/bin/sh
# lmutil lmhostid on fake machines: the code it prints, its JSON, and
# --explain deciding whether a license bound to a code would be accepted
# after the machine changed.
. "$TESTS_SRCDIR/integration/lib.sh"

[ -x "${LMUTIL:-}" ] || skip "LMUTIL is not set to the built lmutil"
need_cmd python3

# A code: groups of 4 Crockford symbols joined by hyphens.
is_code()
{
	printf '%s\n' "$1" | grep -Eq '^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{1,4})+$'
}

M=$TMP/machine
make_machine "$M"

note "the lock code is the last word of the last line"
expect_status 0 "$LMUTIL" lmhostid --root "$M"
code=$(last_word "$TMP/out")
is_code "$code" || fail "last word '$code' is not a lock code"
# Six criteria: 3 + 6*4 symbols and the check symbol, 7 groups.
[ ${#code} -eq 34 ] || fail "code $code should record all six criteria"

note "the code is stable, and LM_HOSTID_ROOT is the same as --root"
expect_status 0 "$LMUTIL" lmhostid --root "$M"
[ "$(last_word "$TMP/out")" = "$code" ] || fail "second run gave another code"
if "$LMUTIL" --version | grep -q "test hooks"; then
	expect_status 0 env LM_HOSTID_ROOT="$M" "$LMUTIL" lmhostid
	[ "$(last_word "$TMP/out")" = "$code" ] || fail "LM_HOSTID_ROOT gave another code"
else
	expect_status 0 env LM_HOSTID_ROOT="$M" "$LMUTIL" lmhostid
	[ "$(last_word "$TMP/out")" != "$code" ] || fail "a release build honoured LM_HOSTID_ROOT"
fi

note "--json is one object with the code and every criterion"
expect_status 0 "$LMUTIL" lmhostid --root "$M" --json
python3 -c 'import json, sys; json.load(sys.stdin)' <"$TMP/out" || fail "--json is not JSON"
cat >"$TMP/check.py" <<'PY'
import json, re, sys
d = json.load(sys.stdin)
assert d["lockcode"] == sys.argv[1], d["lockcode"]
names = [c["name"] for c in d["criteria"]]
assert names == ["machine_id", "product_uuid", "mac", "hostname", "disk", "cpu"], names
for c in d["criteria"]:
    assert c["used"] is True, c
    assert re.fullmatch("[0-9a-f]{5}", c["digest"]), c
    assert c["source"], c
by = {c["name"]: c for c in d["criteria"]}
assert by["hostname"]["value"] == "build-07.example.com"
assert by["mac"]["value"] == "52:54:00:12:34:56,52:54:00:ab:cd:ef"
assert by["disk"]["value"] == "2f8e1c3a-5b7d-4e9f-8a1b-3c5d7e9f1a2b"
PY
python3 "$TMP/check.py" "$code" <"$TMP/out" || fail "--json content"

note "a criterion that cannot be read is reported, not fatal"
make_machine "$TMP/nodmi" product_uuid=
expect_status 0 "$LMUTIL" lmhostid --root "$TMP/nodmi" --json
python3 -c '
import json, sys
d = json.load(sys.stdin)
c = [c for c in d["criteria"] if c["name"] == "product_uuid"][0]
assert c["used"] is False and c["value"] is None and c["digest"] is None, c
assert c["source"].startswith("unreadable: "), c
' <"$TMP/out" || fail "product_uuid should be unused and say why"

note "--explain on the same machine: accepted"
expect_status 0 "$LMUTIL" lmhostid --root "$M" --explain "$code"
expect_grep '^Accepted' "$TMP/out"
[ "$(grep -c ' match$' "$TMP/out")" -eq 6 ] || fail "expected six matching criteria"

note "--explain accepts the code as people type it"
typed=$(printf '%s' "$code" | tr -d - | tr 'A-Z' 'a-z')
expect_status 0 "$LMUTIL" lmhostid --root "$M" --explain "$typed"

note "one criterion changed: still accepted, and named"
make_machine "$M" hostname=build-08.example.com
expect_status 0 "$LMUTIL" lmhostid --root "$M" --explain "$code"
expect_grep '^  hostname +differs: here build-08\.example\.com' "$TMP/out"
note "... but not with --tolerance 0"
expect_status 1 "$LMUTIL" lmhostid --root "$M" --explain "$code" --tolerance 0
expect_grep '^Refused' "$TMP/out"

note "two changed and one missing: refused"
make_machine "$M" hostname=build-08.example.com mac1=52:54:00:99:99:99 disk_uuid=
expect_status 1 "$LMUTIL" lmhostid --root "$M" --explain "$code"
expect_grep '^  disk +missing here' "$TMP/out"
expect_grep '^  mac +differs' "$TMP/out"
expect_grep '^Refused' "$TMP/out"
newcode=$(last_word "$TMP/out")
is_code "$newcode" || fail "a refusal should end with this machine's code, got '$newcode'"
expect_status 0 "$LMUTIL" lmhostid --root "$M" --explain "$code" --tolerance 3

note "--explain --json says the same"
expect_status 1 "$LMUTIL" lmhostid --root "$M" --explain "$code" --json
cat >"$TMP/check.py" <<'PY'
import json, sys
d = json.load(sys.stdin)
assert d["code"] == sys.argv[1] and d["accepted"] is False, d
assert (d["licensed"], d["matched"], d["allowed_misses"]) == (6, 3, 2), d
results = {c["name"]: c["result"] for c in d["criteria"]}
assert results == {"machine_id": "match", "product_uuid": "match", "mac": "differs",
                   "hostname": "differs", "disk": "missing", "cpu": "match"}, results
PY
python3 "$TMP/check.py" "$code" <"$TMP/out" || fail "--explain --json content"

note "a mistyped code: exit 2 and the reason"
c2=$(printf '%s' "$code" | cut -c2)
if [ "$c2" = 7 ]; then r=8; else r=7; fi
typo=$(printf '%s' "$code" | sed "s/^\(.\)./\1$r/")
[ "$typo" != "$code" ] || fail "could not make a typo"
expect_status 2 "$LMUTIL" lmhostid --root "$M" --explain "$typo"
expect_grep '^lmhostid: .*check symbol' "$TMP/err"
expect_status 2 "$LMUTIL" lmhostid --explain "LUCK-CODE"
expect_grep "^lmhostid: 'U'" "$TMP/err"

note "a machine where nothing is readable"
mkdir "$TMP/empty"
expect_status 1 "$LMUTIL" lmhostid --root "$TMP/empty"
expect_grep '^lmhostid: ' "$TMP/err"
expect_status 1 "$LMUTIL" lmhostid --root "$TMP/empty" --explain "$code"
[ "$(grep -c 'missing here' "$TMP/out")" -eq 6 ] || fail "all six should be missing"

note "usage errors"
expect_status 2 "$LMUTIL" lmhostid --no-such-option
expect_grep '^usage: lmutil lmhostid' "$TMP/err"
expect_status 2 "$LMUTIL" lmhostid stray-argument
expect_status 2 "$LMUTIL" lmhostid --tolerance 1
expect_status 2 "$LMUTIL" lmhostid --explain "$code" --tolerance many
expect_status 0 "$LMUTIL" lmhostid --help
expect_grep '^usage: lmutil lmhostid' "$TMP/out"

note "lmutil dispatch"
expect_status 0 "$LMUTIL" --help
expect_grep '^  lmhostid ' "$TMP/out"
expect_status 0 "$LMUTIL" --version
expect_grep '^lmutil \(lmd\) [0-9]' "$TMP/out"
expect_status 2 "$LMUTIL" no-such-command
expect_grep 'unknown command' "$TMP/err"
expect_status 2 "$LMUTIL"

exit 0
