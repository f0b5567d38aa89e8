#!/bin/sh
# lmutil report's arithmetic on a log whose answers are known: a feature of
# 4 seats over two hours, with holders whose use adds up by hand; denials
# of each kind; --from/--to cut the range; --feature and --by pick rows;
# --options sums the use per GROUP; a record lmd did not write is counted
# as such, not misread.
. "$TESTS_SRCDIR/integration/lib.sh"

# The log, chained as lmd chains it (core/report_chain.h).
python3 - "$TMP/usage.log" <<'PY'
import hashlib, sys
t0 = 1796040000  # 2026-11-30T12:00:00Z
def stamp(s):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + s)) + ".000000Z"
recs = [
    (0, '"event":"license","lines":2,"license_sha256":"%s"' % ("0" * 64)),
    (0, '"event":"issued","feature":"stats","version":"1.0","count":4,"expiry":"2027-01-31"'),
    (0, '"event":"issued","feature":"plot","version":"1.0","count":1,"expiry":"permanent"'),
    # ann: 2 seats from 0:00 to 1:30; bob: 1 seat from 0:30 to 1:00,
    # then 2 seats from 1:00 (a session that expires at 2:00).
    (0, '"event":"checkout","user":"ann","feature":"stats","count":2,"handle":1'),
    (1800, '"event":"checkout","user":"bob","feature":"stats","count":1,"handle":2'),
    (1800, '"event":"denied","user":"cy","feature":"stats","count":2,"code":"LMC_ENOSEATS","reason":"all 4 seats of stats 1.0 in use"'),
    (2400, '"event":"denied","user":"cy","feature":"stats","count":1,"code":"LMC_EDENIED","reason":"denied: EXCLUDE stats USER cy (o line 1)"'),
    (3000, '"event":"denied","user":"cy","feature":"plot","count":1,"code":"LMC_EVERSION","reason":"only older versions"'),
    (3600, '"event":"checkin","user":"bob","feature":"stats","count":1,"handle":2,"since":"%s"' % stamp(1800)),
    (3600, '"event":"checkout","user":"bob","feature":"stats","count":2,"handle":3'),
    (5400, '"event":"checkin","user":"ann","feature":"stats","count":2,"handle":1,"since":"%s"' % stamp(0)),
    (7200, '"event":"expired","user":"bob","feature":"stats","count":2,"handle":3,"since":"%s"' % stamp(3600)),
]
prev = "0" * 64
with open(sys.argv[1], "w") as f:
    for i, (s, body) in enumerate(recs):
        line = '{"seq":%d,"index":%d,"time":"%s",%s,"prev":"%s"}' % (i + 1, i + 1, stamp(s), body, prev)
        prev = hashlib.sha256(line.encode()).hexdigest()
        f.write(line + "\n")
PY
expect_status 0 "$LMUTIL" report --verify "$TMP/usage.log"

# check ARGS... -- PYTHON: runs lmutil report --format json ARGS and checks
# the document (d) with the Python assertions that follow.
check()
{
	"$LMUTIL" report --format json "$@" "$TMP/usage.log" >"$TMP/out.json" ||
		fail "lmutil report $*: exit $?"
	python3 -c "
import json
d = json.load(open('$TMP/out.json'))
rows = {(r['feature'], r['start']): r for r in d['usage']}
users = {(u['user'], u['feature']): u for u in d['users']}
$CHECK" || fail "lmutil report $*: $(cat "$TMP/out.json")"
}

note "the whole range: peak 4 (0:30-1:30 is 2+1, then 2+2), average over 2 h"
# Seat-hours: ann 2 x 1.5 = 3; bob 1 x 0.5 + 2 x 1 = 2.5; total 5.5 over 2 h.
CHECK='
s = rows[("stats", "2026-11-30T12:00:00Z")]
assert s["end"] == "2026-11-30T14:00:00Z", s
assert s["peak"] == 4 and s["issued"] == 4 and s["checkouts"] == 3, s
assert abs(s["average"] - 2.75) < 1e-9 and abs(s["utilisation_pct"] - 68.75) < 1e-9, s
assert (s["denied_no_seat"], s["denied_policy"], s["denied_other"]) == (1, 1, 0), s
p = rows[("plot", "2026-11-30T12:00:00Z")]
assert p["denied_other"] == 1 and p["peak"] == 0, p
assert abs(users[("ann", "stats")]["seat_hours"] - 3) < 1e-9, users
assert abs(users[("bob", "stats")]["seat_hours"] - 2.5) < 1e-9, users
assert users[("cy", "stats")]["denials"] == 2, users
assert {f["name"]: f["expiry"] for f in d["features"]} == {"stats": "2027-01-31", "plot": "permanent"}, d
assert d["bad_records"] == 0 and d["gaps"] == 0, d
'
check

note "--by hour: 12:00 holds 2, then 3 (average 2.5); 13:00 holds 4, then 2 (average 3)"
CHECK='
a, b = rows[("stats", "2026-11-30T12:00:00Z")], rows[("stats", "2026-11-30T13:00:00Z")]
assert a["end"] == "2026-11-30T13:00:00Z" and b["end"] == "2026-11-30T14:00:00Z", (a, b)
assert (a["peak"], a["average"]) == (3, 2.5), a
assert (b["peak"], b["average"]) == (4, 3.0), b
assert a["denied_no_seat"] == 1 and b["denied_no_seat"] == 0, (a, b)
'
check --by hour --feature stats
grep -q '"plot"' "$TMP/out.json" && fail "--feature stats shows plot"

note "--from and --to cut the range: 12:30 to 13:30 holds 3, then 4"
CHECK='
s = rows[("stats", "2026-11-30T12:30:00Z")]
assert s["end"] == "2026-11-30T13:30:00Z" and s["peak"] == 4 and s["average"] == 3.5, s
assert abs(users[("ann", "stats")]["seat_hours"] - 2) < 1e-9, users
assert abs(users[("bob", "stats")]["seat_hours"] - 1.5) < 1e-9, users
assert s["checkouts"] == 2 and s["denied_no_seat"] == 1 and s["denied_policy"] == 1, s
'
check --from 2026-11-30T12:30 --to 2026-11-30T13:30

note "text and CSV say the same"
expect_status 0 "$LMUTIL" report --by hour --feature stats "$TMP/usage.log"
expect_grep '^2026-11-30T12  *stats  *4  *3  *2.50  *62.5  *2  *1  *1  *0$' "$TMP/out"
expect_grep '^ann  *stats  *3.00  *1  *0$' "$TMP/out"
expect_grep '^stats expires 2027-01-31$' "$TMP/out"
expect_status 0 "$LMUTIL" report --format csv "$TMP/usage.log"
expect_grep '^2026-11-30T12:00:00Z,2026-11-30T14:00:00Z,"stats",4,4,2.7500,68.75,3,1,1,0$' "$TMP/out"
expect_grep '^"bob","stats",2.5000,2,0$' "$TMP/out"

note "--options: the use per GROUP of an options file"
printf 'GROUP staff ann BOB\nGROUP others cy\nHOST_GROUP lab ws1\nGROUPCASEINSENSITIVE ON\n' >"$TMP/site.opt"
CHECK='
groups = {(g["group"], g["feature"]): g for g in d["groups"]}
assert set(groups) == {("staff", "stats"), ("others", "stats"), ("others", "plot")}, groups
staff = groups[("staff", "stats")]
assert abs(staff["seat_hours"] - 5.5) < 1e-9 and staff["checkouts"] == 3, staff
assert groups[("others", "stats")]["denials"] == 2, groups
assert groups[("others", "plot")]["denials"] == 1, groups
'
check --options "$TMP/site.opt"
expect_status 0 "$LMUTIL" report --options "$TMP/site.opt" "$TMP/usage.log"
expect_grep '^staff  *stats  *5.50  *3  *0$' "$TMP/out"
echo 'NOSUCHKEYWORD x' >"$TMP/bad.opt"
expect_status 2 "$LMUTIL" report --options "$TMP/bad.opt" "$TMP/usage.log"

note "a line that is not a record is counted, not misread"
echo '{"event":"checkout","nested":{"a":1}}' >>"$TMP/usage.log"
check_bad='assert d["bad_records"] == 1, d'
CHECK=$check_bad
check
expect_status 2 "$LMUTIL" report --by week "$TMP/usage.log"
expect_status 2 "$LMUTIL" report --from yesterday "$TMP/usage.log"
