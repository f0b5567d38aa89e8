#!/bin/sh
# The key center's administration: API tokens listed (never their
# secrets) and revoked, a revoked token refused at once by a running
# `lmvendor serve`; an authorization code tried too often is refused with
# 429 whatever the token or address; the partner of record of an order,
# changed with its history kept and shown in the inventory.  Bad values are
# refused and change nothing.
. "$TESTS_SRCDIR/integration/keycenter_lib.sh"
need_cmd curl

# field NAME: the text of "NAME" in $TMP/out, a one-line JSON document
# (python3 would take seconds to start on a loaded machine).
field()
{
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$TMP/out"
}

# has TEXT...: each TEXT is in $TMP/out, the compact JSON of --json.
has()
{
	for _t in "$@"; do
		grep -qF -- "$_t" "$TMP/out" || fail "no $_t in: $(cat "$TMP/out")"
	done
}

# call METHOD PATH [TOKEN] [BODY-FILE]: the answer's body in $TMP/answer,
# its headers in $TMP/headers, its status in $code.
call()
{
	set -- "$1" "$2" "${3:-}" "${4:-}"
	code=$(curl -sS -D "$TMP/headers" -o "$TMP/answer" -w '%{http_code}' -X "$1" \
		${3:+-H "Authorization: Bearer $3"} ${4:+--data-binary "@$4"} \
		"http://127.0.0.1:$port$2") || fail "curl $1 $2 failed"
}

expect_code()
{
	[ "$code" = "$1" ] || fail "HTTP $code, expected $1: $(cat "$TMP/answer")"
}

# unchanged: fails when the store differs from $TMP/before (dump, no audit).
unchanged()
{
	"$V" dump | grep -v '^audit/' >after || fail "lmvendor dump failed"
	cmp -s before after || fail "$1 changed the store: $(diff before after)"
}

expect_status 0 "$V" site add --vendor acme --number S1 --company "Admin Corp"
expect_status 0 "$V" order add --site S1 --order 10 --partner "Resell One" \
	--line "stats 29.0 concurrent 50"
expect_status 0 "$V" authcode generate --site S1 --entitlement E1 --count 5 --json
CODE=$(field code)
expect_status 0 "$V" token create --role vendor --name ops --json
VENDOR_TOKEN=$(field token) VENDOR_ID=$(field id)
expect_status 0 "$V" token create --role customer --site S1 --name "Ann Lee" --json
S1_TOKEN=$(field token) S1_ID=$(field id)

note "token list: id, role, site, created; never the token"
expect_status 0 "$V" token list --json
today=$(date -u +%Y-%m-%d)
has "{\"id\":\"$VENDOR_ID\",\"role\":\"vendor\",\"site\":null,\"member\":null,\"name\":\"ops\",\"created\":\"$today\",\"last_used\":null,\"revoked\":null}" \
	"{\"id\":\"$S1_ID\",\"role\":\"customer\",\"site\":\"S1\",\"member\":null,\"name\":\"Ann Lee\",\"created\":\"$today\",\"last_used\":null,\"revoked\":null}"
[ "$(grep -o '"id"' out | wc -l)" = 2 ] || fail "token list: $(cat out)"
grep -q "${S1_TOKEN#lmk_}" out && fail "token list printed a token"
expect_status 0 "$V" token list --site S1
expect_grep "^$S1_ID +customer +S1 " out
grep -q "$VENDOR_ID" out && fail "token list --site S1 shows the vendor's token"

note "a running serve: last use noted, a revoked token is 401 on its next request"
port=$(free_port)
"$V" serve --listen "127.0.0.1:$port" --plain-http --code-rate 4 >serve.log 2>&1 &
at_exit "kill -9 $! 2>/dev/null"
wait_log serve.log 'serving the key center'
call GET /v1/sites/S1/inventory "$S1_TOKEN"
expect_code 200
expect_status 0 "$V" token list --json
has "\"id\":\"$S1_ID\",\"role\":\"customer\",\"site\":\"S1\",\"member\":null,\"name\":\"Ann Lee\",\"created\":\"$today\",\"last_used\":\"${today}T"
expect_status 0 "$V" token revoke "$S1_ID" --json
has "\"revoked\":\"$today\""
call GET /v1/sites/S1/inventory "$S1_TOKEN"
expect_code 401
expect_grep 'the token is not valid: unknown, revoked or mistyped' "$TMP/answer"
call GET /v1/sites/S1/inventory "$VENDOR_TOKEN"
expect_code 200
expect_status 0 "$V" token revoke "$S1_ID"
expect_grep 'was already revoked' out
note "token revoke refuses bad ids and changes nothing"
"$V" dump | grep -v '^audit/' >before
expect_status 2 "$V" token revoke 'zz$(reboot)'
expect_grep "is not a token id" err
expect_status 2 "$V" token revoke "$(printf '%0300d' 1)"
expect_grep "is not a token id" err
expect_status 1 "$V" token revoke 0123456789abcdef --json
has '"code":"LMC_EINVAL"'
expect_status 2 "$V" token revoke
expect_status 2 "$V" token list --role vendor
unchanged "a refused token command"

note "a code tried more than --code-rate times a minute: 429, whoever asks"
call GET "/v1/codes/$CODE" "$VENDOR_TOKEN"
expect_code 200
printf '{"auth":"%s","locks":["nope"]}' "$CODE" >bad.json
call POST /v1/activate "" bad.json
expect_code 400
call POST /v1/activate "" bad.json
expect_code 400
call GET "/v1/codes/$CODE" "$VENDOR_TOKEN"
expect_code 200
call GET "/v1/codes/$CODE" "$VENDOR_TOKEN"
expect_code 429
expect_grep "^Retry-After: [0-9]+" "$TMP/headers"
expect_grep "authorization code $CODE was tried too often" "$TMP/answer"
call POST /v1/activate "" bad.json
expect_code 429
call GET /v1/ping
expect_code 200
expect_status 2 "$V" serve --listen 127.0.0.1:1 --plain-http --code-rate 0
expect_grep 'code-rate' err
expect_status 2 "$V" serve --listen 127.0.0.1:1 --plain-http --code-rate 12x
expect_status 0 "$V" audit
expect_grep " anonymous POST /v1/activate 429 LMC_ELIMIT auth=$CODE" out

note "partner of record: set at order time, changed, history kept, in the inventory"
expect_status 0 "$V" order partner 10 --json
has '"partner":"Resell One","changed":false,"history":[{"partner":"Resell One","since":"' '"until":null}]}'
expect_status 0 "$V" order partner 10 --partner "Resell Two" --json
has "\"partner\":\"Resell Two\",\"changed\":true," \
	"{\"partner\":\"Resell One\",\"since\":\"$today\",\"until\":\"$today\"},{\"partner\":\"Resell Two\",\"since\":\"$today\",\"until\":null}]}"
expect_status 0 "$V" order partner 10 --partner "Resell Two" --json
has '"changed":false' '"until":null}]}'
[ "$(grep -o '"since"' out | wc -l)" = 2 ] || fail "$(cat out)"
expect_status 0 "$V" order partner 10
expect_grep '^order 10, site S1: partner of record Resell Two$' out
expect_grep '^  Resell One from .* until ' out
expect_status 0 "$V" inventory --site S1 --json
has '"bought":50,"partner":"Resell Two"'
expect_status 0 "$V" inventory --site S1
expect_grep '^E1 stats 29.0 concurrent \(order 10, partner Resell Two\)' out
note "order partner refuses bad values and changes nothing"
"$V" dump | grep -v '^audit/' >before
expect_status 1 "$V" order partner 99 --partner X
expect_grep 'no order 99; nothing was changed' err
expect_status 2 "$V" order partner 10 --partner "$(printf 'x%.0s' $(seq 300))"
expect_status 2 "$V" order partner 10 --partner "$(printf 'evil\001name')"
expect_status 2 "$V" order partner 10 --partner 'say "hi"'
expect_status 2 "$V" order partner '../10' --partner X
expect_status 2 "$V" order partner
unchanged "a refused order partner"

note "site members: the vendor adds an admin, others request access, an admin approves"
expect_status 0 "$V" site add --number S2 --company "Other Corp"
expect_status 0 "$V" member add --site S1 --email ann@admin.example --name "Ann Lee" \
	--rights admin --json
has '"rights":"admin","state":"active",' '"approved_by":"vendor"'
expect_status 0 "$V" member request --site S1 --email bo@admin.example --name "Bo Chen" --json
has '"rights":"member","state":"pending",' '"approved_by":null'
expect_status 0 "$V" member add --site S2 --email cy@other.example --rights admin
expect_status 1 "$V" token create --role customer --site S1 --member bo@admin.example
expect_grep 'bo@admin.example is not an active member of site S1' err
"$V" dump | grep -v '^audit/' >before
expect_status 1 "$V" member approve --site S1 --email bo@admin.example --by cy@other.example
expect_grep 'cy@other.example is not an admin of site S1: only a site admin approves access' err
expect_status 1 "$V" member approve --site S1 --email bo@admin.example --by bo@admin.example
expect_status 1 "$V" member request --site S1 --email bo@admin.example
expect_grep 'has asked for access already' err
expect_status 1 "$V" member approve --site S1 --email ann@admin.example --by ann@admin.example
expect_grep 'is a member already' err
expect_status 1 "$V" member add --site S9 --email x@y.example
expect_grep 'no site S9; nothing was changed' err
expect_status 2 "$V" member request --site S1 --email 'bob<script>@x.example'
expect_grep 'is not an e-mail address' err
expect_status 2 "$V" member request --site S1 --email "$(printf 'a%.0s' $(seq 200))@x.example"
expect_status 2 "$V" member request --site S1 --email bo2@admin.example --rights root
expect_status 2 "$V" member request --site S1 --email bo2@admin.example --by ann@admin.example
expect_status 2 "$V" member approve --site S1 --email bo@admin.example
expect_status 2 "$V" member list
unchanged "a refused member command"
expect_status 0 "$V" member approve --site S1 --email bo@admin.example --by ann@admin.example \
	--json
has '"state":"active",' '"approved_by":"ann@admin.example"'
expect_status 0 "$V" member list --site S1 --json
[ "$(grep -o '"email":"[^"]*","name":"[^"]*","rights":"[a-z]*","state":"[a-z]*"' out)" = \
	'"email":"ann@admin.example","name":"Ann Lee","rights":"admin","state":"active"
"email":"bo@admin.example","name":"Bo Chen","rights":"member","state":"active"' ] ||
	fail "member list: $(cat out)"
expect_status 0 "$V" token create --role customer --site S1 --member bo@admin.example --json
BO_TOKEN=$(field token)
call GET /v1/sites/S1/inventory "$BO_TOKEN"
expect_code 200
expect_status 0 "$V" token list --site S1 --json
has '"site":"S1","member":"bo@admin.example","name":"bo@admin.example"'

note "members online: POST /v1/members/request (no token, rate-limited) and /v1/members/approve"
expect_status 0 "$V" token create --role customer --site S1 --member ann@admin.example --json
ANN_TOKEN=$(field token)
expect_status 0 "$V" token create --role customer --site S2 --member cy@other.example --json
CY_TOKEN=$(field token)
printf '{"site":"S1","email":"dee@admin.example","name":"Dee Ray"}' >dee.json
call POST /v1/members/request "" dee.json
expect_code 200
grep -q '"email":"dee@admin.example","name":"Dee Ray","rights":"member","state":"pending"' \
	"$TMP/answer" || fail "request: $(cat "$TMP/answer")"
call POST /v1/members/request "" dee.json
expect_code 400
grep -q 'has asked for access already' "$TMP/answer" || fail "$(cat "$TMP/answer")"
printf '{"site":"S9","email":"dee@admin.example"}' >s9.json
call POST /v1/members/request "" s9.json
expect_code 404
printf '{"site":"S1","email":"dee<x>@admin.example"}' >badmail.json
call POST /v1/members/request "" badmail.json
expect_code 400
printf '{"site":"S1","email":"dee@admin.example","rights":"admin"}' >approve.json
call POST /v1/members/approve "" approve.json
expect_code 401
call POST /v1/members/approve "$BO_TOKEN" approve.json
expect_code 403
grep -q 'bo@admin.example is not an admin of site S1' "$TMP/answer" || fail "$(cat "$TMP/answer")"
call POST /v1/members/approve "$CY_TOKEN" approve.json
expect_code 403
call POST /v1/members/approve "$VENDOR_TOKEN" s9.json
expect_code 404
expect_status 0 "$V" member list --site S1
expect_grep '^dee@admin.example +member +pending ' out
call POST /v1/members/approve "$ANN_TOKEN" approve.json
expect_code 200
grep -q '"rights":"admin","state":"active",.*"approved_by":"ann@admin.example"' "$TMP/answer" ||
	fail "approve: $(cat "$TMP/answer")"
call POST /v1/members/approve "$ANN_TOKEN" approve.json
expect_code 400
expect_status 0 "$V" audit
expect_grep ' anonymous POST /v1/members/request 200 ok' out
expect_grep ' anonymous POST /v1/members/request 404 LMC_EINVAL' out
expect_grep ' customer:S1:[0-9a-f]+ POST /v1/members/approve 403 LMC_EDENIED' out
expect_grep ' customer:S1:[0-9a-f]+ POST /v1/members/approve 200 ok' out
# --request-rate (10 a minute) per address: this one has made 4 requests.
n=0
while [ $n -lt 10 ]; do
	n=$((n + 1))
	printf '{"site":"S2","email":"p%s@other.example"}' $n >p.json
	call POST /v1/members/request "" p.json
	[ "$code" = 429 ] && break
done
expect_code 429
# 6 more in the burst, one or two refilled while the test ran.
[ $n -ge 7 ] && [ $n -le 9 ] || fail "the request limit let $((n - 1)) more requests through"

grep -qi '^Retry-After: [1-9]' "$TMP/headers" || fail "no Retry-After: $(cat "$TMP/headers")"

note "proof of entitlement: text, and a real PDF drawn by cairo"
expect_status 0 "$V" order add --site S1 --order 11 --po PO-7 --bundle suite=plots,tables \
	--line "suite 2.0 authorized-user 3 end=perpetual"
expect_status 0 "$V" order proof 11
expect_grep '^Proof of entitlement$' out
expect_grep '^Site S1: Admin Corp$' out
expect_grep '^Order 11 of .*, purchase order PO-7$' out
expect_grep '^E2 +plots +2.0 +authorized-user +3 .* \(of bundle suite\)$' out
expect_grep '^E3 +tables ' out
expect_status 0 "$V" order proof 11 --pdf proof.pdf --json
has '"feature":"plots"' '"feature":"tables"' '"pdf":"proof.pdf"'
python3 - proof.pdf <<'PY' || fail "proof.pdf is not a one-page PDF of order 11"
import re, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF"), data[:20]
# The page objects and the title may sit in compressed object streams.
def inflate(raw):
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return b""
whole = data + b"".join(inflate(m.group(1)) for m in
                        re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S))
assert len(re.findall(rb"/Type\s*/Page\b", whole)) == 1, "pages"
assert b"Proof of entitlement, order 11, site S1" in whole, "title"
assert re.search(rb"\bTj\b|\bTJ\b", whole), "no text drawn"
PY
ls proof.pdf.tmp.* 2>/dev/null && fail "a temporary PDF was left behind"
expect_status 1 "$V" order proof 12 --pdf none.pdf
expect_grep 'no order 12' err
[ -e none.pdf ] && fail "a refused proof wrote a PDF"
expect_status 1 "$V" order proof 11 --pdf /nonexistent/dir/proof.pdf
expect_grep 'cannot write' err
expect_status 2 "$V" order proof '11;rm' --pdf x.pdf
expect_status 2 "$V" order proof 11 --pdf ''

note "outbox: welcome, authorization and renewal messages as .eml files to the right contacts"
mkdir outbox
expect_status 0 "$V" site add --number S3 --company "Mail Corp" --outbox outbox \
	--contact primary="Ann Lee <ann@mail.example>" \
	--contact technical="Tom Tech <tom@mail.example>" \
	--contact renewal="Rita Renew <rita@mail.example>" --json
WELCOME=$(field message)
expect_status 0 "$V" order add --site S3 --order 30 --line "stats 29.0 concurrent 4 end=2030-01-31"
expect_status 0 "$V" authcode generate --site S3 --entitlement E4 --count 2 --outbox outbox --json
AUTHMSG=$(field message) MAILCODE=$(field code)
expect_status 0 "$V" order add --site S3 --order 31 --outbox outbox --json \
	--line "renew E4 end=2031-01-31"
RENEWMSG=$(field message)
python3 - "$WELCOME" "$AUTHMSG" "$RENEWMSG" "$MAILCODE" <<'PY' || fail "the outbox messages"
import email, email.policy, os, sys
welcome, auth, renew, code = sys.argv[1:]
def load(path):
    raw = open(path, "rb").read()
    assert b"\r\n\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), path + ": not CRLF"
    m = email.message_from_bytes(raw, policy=email.policy.strict)
    for h in ("From", "To", "Subject", "Date", "Message-ID"):
        assert m[h], (path, h)
    assert m["Message-ID"].startswith("<") and m["Message-ID"].endswith(">"), m["Message-ID"]
    return m
w, a, r = load(welcome), load(auth), load(renew)
assert "site S3" in w["Subject"] and "ann@mail.example" in w["To"], w["To"]
assert "rita@mail.example" not in w["To"], w["To"]
assert a["To"] == "Tom Tech <tom@mail.example>, Ann Lee <ann@mail.example>", a["To"]
assert code in a.get_content(), "the code is not in the authorization message"
assert r["To"] == "Rita Renew <rita@mail.example>", r["To"]
assert "entitlement E4: now until 2031-01-31" in r.get_content(), r.get_content()
assert len({w["Message-ID"], a["Message-ID"], r["Message-ID"]}) == 3
names = sorted(os.listdir("outbox"))
assert len(names) == 3 and all(n.endswith(".eml") and not n.startswith(".") for n in names), names
PY
note "outbox: a company and contacts not in ASCII, as RFC 2047 words and a quoted-printable body"
mkdir outbox8
expect_status 0 "$V" site add --number S8 --company "Müller GmbH" --outbox outbox8 \
	--contact primary="Jörg Müller <jm@mueller.example>" \
	--contact technical="Lee, Ann <ann@mueller.example>" \
	--contact administrative="Zoë Ångström-Øster, Verwaltung und Einkauf Süd <z@mueller.example>" --json
/usr/bin/python3 - "$(field message)" <<'PY' || fail "the non-ASCII message"
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
head = raw.split(b"\r\n\r\n")[0]
assert max(raw) < 0x80, "the message is not 7-bit clean"
assert b"=?UTF-8?B?" in head, head
assert all(len(line) <= 78 for line in head.split(b"\r\n")), head
m = email.message_from_bytes(raw, policy=email.policy.strict)
assert str(m["Subject"]) == "Welcome to the key center: site S8, Müller GmbH", str(m["Subject"])
to = [(a.display_name, a.addr_spec) for a in m["To"].addresses]
assert to == [("Jörg Müller", "jm@mueller.example"),
              ("Zoë Ångström-Øster, Verwaltung und Einkauf Süd", "z@mueller.example"),
              ("Lee, Ann", "ann@mueller.example")], to
assert m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8"
assert m["Content-Transfer-Encoding"] == "quoted-printable", m["Content-Transfer-Encoding"]
assert "Müller GmbH now has a site account" in m.get_content(), m.get_content()
PY
note "a bad outbox is refused before anything changes"
"$V" dump | grep -v '^audit/' >before
expect_status 1 "$V" site add --number S4 --company "No Mail" --outbox nowhere
expect_grep 'outbox nowhere is not a directory this user can write to; nothing was changed' err
touch afile
expect_status 1 "$V" authcode generate --site S3 --entitlement E4 --count 1 --outbox afile
expect_status 2 "$V" order add --site S3 --order 32 --outbox '' --line "renew E4 end=2032-01-31"
unchanged "a refused --outbox"
