#!/bin/sh
# lmutil report's charts and HTML page from the report log of a real lmd
# with real checkouts: --chart FILE.png draws a 900x400 PNG in the
# features' colours, FILE.svg names the features and draws the licensed
# count as a dashed line, --chart-kind denials draws the day's denials
# (no seat free in red), users the top users; --format html is one page
# with the tables and the three charts as PNG data, nothing fetched from
# elsewhere.  Bad arguments are refused with a sentence and exit 2.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

single_server "FEATURE stats acme 29.0 permanent 3" "FEATURE plot acme 1.0 permanent 1"
printf 'EXCLUDE plot USER mallory\n' >"$TMP/acme.opt"
LOG=$TMP/usage.log
single_lmd lmd --options "$TMP/acme.opt" --report-log "$LOG"

co()
{
	_co_user=$1
	shift
	LM_TEST_USER=$_co_user "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@"
}
hold()
{
	(LM_TEST_USER=$1 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$2" \
		--version "$3" --count "$4" --hold 60 >"$TMP/hold.$1" 2>&1) &
	at_exit "kill $! 2>/dev/null"
	wait_log "$TMP/hold.$1" '"event":"granted"'
}

note "ann holds 2 of 3 stats, bob the only plot; cy is refused for want of a seat,"
note "mallory by the options file"
hold ann stats 29.0 2
hold bob plot 1.0 1
expect_status 0 co dan stats --version 29.0 --count 1 --hold 1
expect_status 1 co cy stats --version 29.0 --count 2 --hold 0
expect_status 1 co mallory plot --version 1.0 --hold 0
wait_log "$LOG" '"code":"LMC_EDENIED"' 10
sleep 1
expect_status 0 "$LMUTIL" report --verify "$LOG"

# PNG FILE WIDTH HEIGHT [R,G,B...]: FILE is a PNG of that size holding
# pixels of each colour given.
png_check()
{
	python3 - "$@" <<'PY'
import struct, sys, zlib
path, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
colours = [tuple(int(c) for c in a.split(",")) for a in sys.argv[4:]]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG: %r" % data[:8]
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0], kind
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert ihdr[:2] == (width, height), ihdr
depth, ctype = ihdr[2], ihdr[3]
assert depth == 8 and ctype in (2, 6), ihdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), width * bpp
rows, prev = [], bytearray(stride)
for y in range(height):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
seen = set()
for line in rows:
    for x in range(0, stride, bpp):
        seen.add(tuple(line[x:x + 3]))
for c in colours:
    assert c in seen, "no pixel of colour %s in %s" % (c, path)
assert len(seen) > 20, "%s is nearly blank: %d colours" % (path, len(seen))
PY
}

note "--chart use.png: 900x400, the two features in their colours; nothing on stdout"
"$LMUTIL" report "$LOG" --chart "$TMP/use.png" >"$TMP/out" || fail "report --chart: exit $?"
[ -s "$TMP/out" ] && fail "--chart alone printed the summary too: $(cat "$TMP/out")"
# stats (the most seat-hours) takes the first colour, plot the second.
png_check "$TMP/use.png" 900 400 31,119,180 255,127,14 || fail "use.png is not the chart"
if command -v file >/dev/null 2>&1; then
	file "$TMP/use.png" | grep -q 'PNG image data, 900 x 400' ||
		fail "file(1) does not see a 900x400 PNG: $(file "$TMP/use.png")"
fi

note "--chart use.svg: names the features and draws the licensed count dashed"
"$LMUTIL" report "$LOG" --chart "$TMP/use.svg" || fail "report --chart svg: exit $?"
python3 - "$TMP/use.svg" <<'PY' || fail "use.svg: $(head -c 600 "$TMP/use.svg")"
import re, sys
import xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
root = ET.fromstring(text)
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg" and root.get("width").startswith("900"), root.attrib
desc = root.find(ns + "desc").text
assert "stats: 3 licensed" in desc and "plot: 1 licensed" in desc, desc
assert root.find(ns + "title").text == "Seats in use", root.find(ns + "title").text
# The licensed counts are the dashed strokes, one per feature.
dashed = [p for p in root.iter(ns + "path") if "stroke-dasharray" in (p.get("style") or "") + str(p.attrib)]
assert len(dashed) >= 2, "dashed lines: %d" % len(dashed)
PY

note "--chart-kind denials: a red bar (no seat free) and an orange one (policy)"
"$LMUTIL" report "$LOG" --chart "$TMP/denials.png" --chart-kind denials ||
	fail "report --chart-kind denials: exit $?"
png_check "$TMP/denials.png" 900 400 204,38,38 242,154,26 || fail "denials.png is not the chart"

note "--chart-kind users: ann, bob and dan's bars"
"$LMUTIL" report "$LOG" --chart "$TMP/users.svg" --chart-kind users ||
	fail "report --chart-kind users: exit $?"
grep -q '<title>Top users</title>' "$TMP/users.svg" || fail "users.svg has no title"
"$LMUTIL" report "$LOG" --chart "$TMP/users.png" --chart-kind users || fail "users.png: exit $?"
png_check "$TMP/users.png" 900 400 31,119,180 255,127,14 || fail "users.png is not the chart"

note "--chart with --format text: the chart and the summary"
"$LMUTIL" report "$LOG" --chart "$TMP/both.png" --format text >"$TMP/out" || fail "exit $?"
expect_grep 'stats' "$TMP/out"
[ -s "$TMP/both.png" ] || fail "no chart beside --format text"

note "--format html: the tables and three embedded charts, nothing fetched"
"$LMUTIL" report "$LOG" --format html >"$TMP/report.html" || fail "--format html: exit $?"
python3 - "$TMP/report.html" <<'PY' || fail "the HTML report: $(head -c 800 "$TMP/report.html")"
import base64, sys
from html.parser import HTMLParser

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.table, self.row, self.images, self.links = {}, None, None, [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = self.tables.setdefault(a.get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
            self.table.append(self.row)
        elif tag in ("td", "th") and self.row is not None:
            self.row.append("")
        elif tag == "img":
            self.images.append(a["src"])
        if tag in ("script", "link", "iframe") or any(k in ("src", "href") and not v.startswith("data:") for k, v in attrs):
            self.links.append((tag, attrs))
    def handle_endtag(self, tag):
        if tag == "table":
            self.table = self.row = None
    def handle_data(self, data):
        if self.row:
            self.row[-1] += data

p = Page()
p.feed(open(sys.argv[1]).read())
assert not p.links, "refers to other files: %s" % p.links
assert len(p.images) == 3, len(p.images)
for src in p.images:
    assert src.startswith("data:image/png;base64,"), src[:40]
    png = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[16:24] == bytes.fromhex("0000038400000190"), png[:24]
strip = lambda rows: [[c.strip() for c in r] for r in rows]
usage = {r[1]: r for r in strip(p.tables["usage"][1:])}
assert usage["stats"][2] == "3" and usage["stats"][3] == "3", usage  # issued 3, peak 3
assert usage["stats"][7] == "1" and usage["plot"][8] == "1", usage  # no seat; policy
users = {(r[0], r[1]): r for r in strip(p.tables["users"][1:])}
assert ("ann", "stats") in users and ("bob", "plot") in users, users
assert users[("cy", "stats")][4] == "1", users
PY

note "bad arguments: a sentence and exit 2"
expect_status 2 "$LMUTIL" report "$LOG" --chart "$TMP/x.png" --chart-kind pie
expect_grep 'chart-kind is use, denials or users, not pie' "$TMP/err"
expect_status 2 "$LMUTIL" report "$LOG" --chart "$TMP/x.jpg"
expect_grep 'name a .png or a .svg file' "$TMP/err"
expect_status 2 "$LMUTIL" report "$LOG" --chart "$TMP/no/such/dir/x.png"
expect_grep 'x.png: cannot write it: No such file or directory' "$TMP/err"
expect_status 2 "$LMUTIL" report "$LOG" --chart-kind users
expect_grep 'chart-kind wants --chart' "$TMP/err"
expect_status 2 "$LMUTIL" report "$LOG" --format pdf
expect_grep 'text, csv, json or html, not pdf' "$TMP/err"
[ -e "$TMP/x.png" ] && fail "a refused chart was written anyway"
exit 0
