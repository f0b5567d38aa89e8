#!/bin/sh
# lmd --http's dashboard (/) loaded in headless Chromium after real
# checkouts: the page fetches /status.json by itself and shows the server
# and its role, the features with their use, the holders, the denials and
# the license about to expire, and the usage chart drawn in SVG from
# /status.json's minutes (lmd/http_usage.h) with each feature's seats in use
# and issued.  The screenshot stays in the build tree
# (tests/integration/http_dashboard.png) for a human to look at; with
# LM_DASHBOARD_PNG set it is also copied there (how the README's
# docs/dashboard.png is made).
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

chromium=
for candidate in chromium chromium-browser; do
	command -v "$candidate" >/dev/null 2>&1 && chromium=$candidate && break
done
[ -n "$chromium" ] || skip "chromium is not installed (Debian: apt install chromium)"
# Chromium's sandbox refuses to run as root: only then is it turned off.
# Each run gets its own profile, so that tests may run in parallel.
no_sandbox=
[ "$(id -u)" -ne 0 ] || no_sandbox=--no-sandbox
browse()
{
	timeout 60 "$chromium" --headless $no_sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$TMP/chromium" --virtual-time-budget=10000 "$@" 2>>"$TMP/chromium.err"
}
browse --dump-dom 'data:text/html,<p>alive</p>' | grep -q alive ||
	skip "chromium cannot run here: $(tail -n 3 "$TMP/chromium.err")"

soon=$(date -u -d '+20 days' +%Y-%m-%d)
single_server "FEATURE stats acme 29.0 permanent 3" "FEATURE plot acme 1.0 $soon 2" \
	"FEATURE solver acme 5.0 permanent 10"
printf 'RESERVE 1 stats USER carol\n' >"$TMP/acme.opt"
hport=$(free_port)
# The holders are on the page only when lmstat shows them to everyone
# (http_triad.sh checks they are not by default).
single_lmd lmd --options "$TMP/acme.opt" --http "$hport" --lmstat-details public
URL=http://127.0.0.1:$hport/

# USER HOST FEATURE VERSION COUNT: a holder in the background, until it holds.
hold()
{
	(LM_TEST_USER=$1 LM_TEST_HOST=$2 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
		--json "$3" --version "$4" --count "$5" --hold 120 >"$TMP/hold.$1" 2>&1) &
	at_exit "kill $! 2>/dev/null"
	wait_log "$TMP/hold.$1" '"event":"granted"'
}
hold alice ws7 stats 29.0 2
hold dave lab3 plot 1.0 1
hold erin ws12 solver 5.0 4
LM_TEST_USER=bob LM_TEST_HOST=ws9 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json \
	stats --version 29.0 --count 2 --hold 0 >"$TMP/bob" 2>&1 && fail "bob was not denied"
grep -q LMC_ENOSEATS "$TMP/bob" || fail "bob's denial: $(cat "$TMP/bob")"

note "the page, as Chromium renders it after its first fetch"
browse --dump-dom "$URL" >"$TMP/dom.html" || fail "chromium --dump-dom failed"
python3 - "$TMP/dom.html" "$port" <<'PY' || fail "the dashboard does not show the server's state"
import sys
from html.parser import HTMLParser

class Tables(HTMLParser):
    """The rows of each table (by id) and the text of each element by id."""
    def __init__(self):
        super().__init__()
        self.tables, self.ids, self.stack, self.table, self.row = {}, {}, [], None, None
        self.lines = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append(a.get("id"))
        if tag == "polyline":
            self.lines.append(a)
        if tag == "table":
            self.table = self.tables.setdefault(a.get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
            self.table.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.row.append("")
    def handle_endtag(self, tag):
        self.stack.pop()
        if tag == "table":
            self.table = self.row = None
    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.ids[i] = self.ids.get(i, "") + data
        if self.row:
            self.row[-1] += data

p = Tables()
p.feed(open(sys.argv[1]).read())
t, port = p.tables, sys.argv[2]
assert p.ids.get("error", "") == "", p.ids.get("error")
assert "vendor acme" in p.ids["who"] and "(serving)" in p.ids["who"], p.ids["who"]
assert "7 of 15 seats in use" in p.ids["summary"], p.ids["summary"]
assert [port + "@127.0.0.1", "leader", "this server"] in t["servers"], t["servers"]
features = {r[0]: r for r in t["features"][1:]}
assert features["stats"][1:] == ["29.0", "", "2", "3", "1", "permanent"], features
assert features["plot"][3:5] == ["1", "2"] and features["solver"][3:5] == ["4", "10"], features
holders = {r[2]: r for r in t["holders"][1:]}
assert set(holders) == {"alice", "dave", "erin"}, holders
assert holders["alice"][:2] == ["stats", "29.0"] and holders["alice"][3] == "ws7", holders
assert holders["alice"][5] == "2" and holders["erin"][5] == "4", holders
denials = {r[0]: r for r in t["denials"][1:]}
assert denials["LMC_ENOSEATS"][2] == "1", denials
assert [r[0] for r in t["expiring"][1:]] == ["plot"] and t["expiring"][1][3] == "20 days", t["expiring"]
# The usage chart: a line of seats in use per feature at the holders' peak,
# and a dashed one of the seats issued, at its top for stats (3 of 3).
use = {l["data-feature"]: l for l in p.lines if l.get("data-kind") == "in_use"}
issued = {l["data-feature"]: l for l in p.lines if l.get("data-kind") == "issued"}
assert set(use) == {"stats", "plot", "solver"} == set(issued), p.lines
assert (use["stats"]["data-peak"], use["plot"]["data-peak"], use["solver"]["data-peak"]) == ("2", "1", "4"), use
assert issued["stats"]["stroke-dasharray"], issued["stats"]
ys = lambda l: [float(pt.split(",")[1]) for pt in l["points"].split()]
# solver's 10 issued are the top of the chart (y 8); its 4 in use are lower.
assert min(ys(issued["solver"])) == 8.0 and min(ys(use["solver"])) > 8.0, (issued["solver"], use["solver"])
assert "solver (peak 4)" in p.ids["legend"] and "stats (peak 2)" in p.ids["legend"], p.ids["legend"]
PY

note "a screenshot, kept in the build tree"
shot=$LM_TOP_BUILDDIR/tests/integration/http_dashboard.png
rm -f "$shot"
browse --window-size=1100,760 --screenshot="$shot" "$URL" >/dev/null || fail "no screenshot"
python3 - "$shot" <<'PY' || fail "the screenshot is not a PNG"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
width, height = struct.unpack(">II", data[16:24])
assert (width, height) == (1100, 760), (width, height)
PY
if [ -n "${LM_DASHBOARD_PNG:-}" ]; then
	cp "$shot" "$LM_DASHBOARD_PNG" || fail "cannot copy the screenshot to $LM_DASHBOARD_PNG"
fi
