#!/bin/sh
# The command line of lmutil and lmvendor, as a script or a monitor meets
# it, against a real lmd: every subcommand prints its own usage on stdout for
# --help and -h and exits 0, refuses a bad option on stderr with a non-zero
# status, and with --json prints one JSON document (parsed here, key by key),
# or an error object with the stable LMC_E* code when it fails.  The JSON
# comes from libjansson, which the tools link and lmd and liblmc do not.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

# check_json FILE PYTHON: parses FILE (one JSON document) as d and runs
# the Python assertions; fails showing the document when one does not hold.
check_json()
{
	python3 -c "import json, sys
d = json.load(open(sys.argv[1]))
$2" "$1" || fail "JSON of $1 is wrong: $(cat "$1")"
}

# expect_error_json CODE: $TMP/out is exactly the error object for CODE,
# whose number matches core/error.h, and stderr says it in prose too.
expect_error_json()
{
	check_json "$TMP/out" "
assert list(d) == ['error'], d
e = d['error']
assert sorted(e) == ['code', 'message', 'number'], e
assert e['code'] == '$1', e
assert isinstance(e['number'], int) and e['number'] < 0, e
assert e['message'], e"
	num=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["error"]["number"])' "$TMP/out")
	grep -Eq "^[[:space:]]*$1 = $num," "$LM_TOP_SRCDIR/core/error.h" ||
		fail "$1 is not $num in core/error.h"
	[ -s "$TMP/err" ] || fail "the failure was not said on stderr"
}

single_server "FEATURE stats acme 29.0 permanent 4"
export LM_HOSTID_ROOT="$TMP/m1"
start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --data "$TMP/data" \
	--listen 127.0.0.1 --heartbeat 200 --session-timeout 1500 --peer-port "$(free_port)"
unset LM_HOSTID_ROOT
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'

note "every lmutil subcommand: --help and -h on stdout, a bad option on stderr"
"$LMUTIL" --help >"$TMP/lmutil-help.txt" || fail "lmutil --help failed"
commands=$(sed -n 's/^  \([a-z]*\)  .*/\1/p' "$TMP/lmutil-help.txt")
[ "$(echo "$commands" | wc -w)" -ge 9 ] || fail "lmutil --help lists: $commands"
for cmd in $commands; do
	for flag in --help -h; do
		expect_status 0 "$LMUTIL" "$cmd" "$flag"
		expect_grep "^usage: lmutil $cmd" "$TMP/out"
		[ -s "$TMP/err" ] && fail "lmutil $cmd $flag wrote to stderr: $(cat "$TMP/err")"
	done
	run "$LMUTIL" "$cmd" --no-such-option
	[ "$status" -ne 0 ] || fail "lmutil $cmd accepted --no-such-option"
	expect_grep "usage: lmutil $cmd" "$TMP/err"
	[ -s "$TMP/out" ] && fail "lmutil $cmd --no-such-option wrote to stdout: $(cat "$TMP/out")"
done
# FlexLM's lmremove -h names a handle; with nothing to name, it is help.
expect_status 2 "$LMUTIL" lmremove -c "$S" -h stats
expect_grep '^usage: lmutil lmremove' "$TMP/err"

note "every lmvendor subcommand: --help and -h on stdout, a bad option on stderr"
"$LMVENDOR" --help >"$TMP/lmvendor-help.txt" || fail "lmvendor --help failed"
commands=$(sed -n 's/^  \([a-z][a-z]*\) .*/\1/p; s/^  \([a-z][a-z]*\)$/\1/p' "$TMP/lmvendor-help.txt")
[ "$(echo "$commands" | wc -w)" -ge 5 ] || fail "lmvendor --help lists: $commands"
for cmd in $commands; do
	for flag in --help -h; do
		expect_status 0 "$LMVENDOR" "$cmd" "$flag"
		expect_grep "^usage: lmvendor $cmd" "$TMP/out"
		# Its own usage, not every command's.
		[ "$(grep -c '^usage:' "$TMP/out")" -eq 1 ] || fail "lmvendor $cmd $flag: $(cat "$TMP/out")"
		grep -q "^usage: lmvendor COMMAND" "$TMP/out" && fail "lmvendor $cmd $flag printed the whole usage"
	done
	expect_status 2 "$LMVENDOR" "$cmd" --no-such-option
	expect_grep "^lmvendor: $cmd: unknown option --no-such-option" "$TMP/err"
	[ -s "$TMP/out" ] && fail "lmvendor $cmd --no-such-option wrote to stdout: $(cat "$TMP/out")"
done

note "lmremove --json: the leader's answer"
co_bg() { (exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json "$@") & }
co_bg stats --count 2 --hold 30 >"$TMP/holder.json" 2>"$TMP/holder.err"
holder=$!
at_exit "kill $holder"
wait_log "$TMP/holder.json" '"event":"granted"'
expect_status 0 "$LMUTIL" lmremove -c "$S" --json stats "$(id -un)" "$(hostname)"
check_json "$TMP/out" "
assert list(d) == ['address', 'ok', 'message', 'affected'], d
assert d['address'] == '$S' and d['ok'] is True, d
assert d['affected'] == 2 and d['message'] == 'removed 2 seats', d"
# The holder hears it (liblmc then checks the seats out again).
wait_log "$TMP/holder.json" '"event":"lost"'
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

note "lmremove --json of a seat nobody holds: the server's refusal as an error object"
expect_status 1 "$LMUTIL" lmremove -c "$S" --json stats nobody nowhere
expect_error_json LMC_ENOHANDLE
expect_grep '^lmremove: .*no seat matches' "$TMP/err"

note "lmreread --json: every server's answer"
expect_status 0 "$LMUTIL" lmreread -c "$S" --json
check_json "$TMP/out" "
assert list(d) == ['servers'], d
(s,) = d['servers']
assert list(s) == ['address', 'ok', 'message', 'affected'], s
assert s['address'] == '$S' and s['ok'] is True and s['affected'] == 1, s"

note "lmreplace --json: a single server is no triad"
expect_status 2 "$LMUTIL" lmreplace -c "$S" --node 1 --json
expect_error_json LMC_EINVAL
expect_grep '^lmreplace: .*a triad has three' "$TMP/err"

note "failures before any server is asked are error objects too"
expect_status 2 "$LMUTIL" lmstat --json
expect_error_json LMC_EINVAL
dead=$(free_port)
expect_status 1 "$LMUTIL" lmdown -c "$dead@127.0.0.1" --json
check_json "$TMP/out" "
(s,) = d['servers']
assert s['ok'] is False and s['error']['code'] == 'LMC_ENOSERVER', s
assert 'message' not in s and s['error']['number'] == -14, s"
# lmstat keeps its document, and says why it is empty.
expect_status 1 "$LMUTIL" lmstat -c "$dead@127.0.0.1" --json
check_json "$TMP/out" "
assert d['servers'] == [{'address': '$dead@127.0.0.1', 'role': 'down'}], d
assert d['features'] == [] and d['error']['code'] == 'LMC_ENOSERVER', d"
expect_status 1 "$LMUTIL" lmoptcheck -c "$TMP/missing.lic" "$TMP/none.opt" --json
expect_error_json LMC_EIO
expect_grep "^$TMP/missing.lic" "$TMP/err"
expect_status 2 "$LMUTIL" lmhostid --explain not-a-code --json
expect_error_json LMC_EBADCODE
expect_status 2 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/missing.pub" --json stats
expect_error_json LMC_EIO

note "text that is not UTF-8 comes out as U+FFFD, in valid JSON"
bad_name=$(printf 'opt\377ions.opt')
printf 'GROUP g ann\n' >"$TMP/$bad_name"
expect_status 0 "$LMUTIL" lmoptcheck --json "$TMP/$bad_name"
check_json "$TMP/out" "assert d['file'].endswith('opt\ufffdions.opt'), d['file']"

note "lmvendor --json: keygen, sign, authcode, issue"
cd "$TMP" || fail "cannot enter $TMP"
expect_status 0 "$LMVENDOR" keygen --json k.pem k.pub
check_json "$TMP/out" "assert d == {'private_key': 'k.pem', 'public_key': 'k.pub'}, d"
expect_status 0 "$LMVENDOR" sign --key k.pem --json template.lic
check_json "$TMP/out" "
assert list(d) == ['file', 'lines', 'output', 'license'], d
assert d['file'] == 'template.lic' and d['lines'] == 1 and d['output'] is None, d
assert d['license'].count('SIGN=') == 1, d"
expect_status 0 "$LMVENDOR" sign --key k.pem -o signed.lic --json template.lic
check_json "$TMP/out" "assert d['output'] == 'signed.lic' and d['license'] == open('signed.lic').read(), d"
expect_status 0 "$LMVENDOR" verify --pubkey k.pub --json signed.lic
check_json "$TMP/out" "assert d['valid'] is True and len(d['lines']) == 1, d"
expect_status 0 "$LMVENDOR" authcode --json
check_json "$TMP/out" "
import re
assert list(d) == ['authcode'], d
assert re.fullmatch(r'[0-9A-Z]{4}(-[0-9A-Z]{4}){3}-[0-9A-Z]', d['authcode']), d"
code=$(make_server_machine 2)
expect_status 0 "$LMVENDOR" issue --key k.pem --feature plot --vendor acme --version 2.0 \
	--count 5 --expiry 2030-12-31 --server "host2:$code:27000" --json -o issued.lic
check_json "$TMP/out" "
import datetime
assert list(d) == ['feature', 'vendor', 'version', 'expiry', 'count', 'auth', 'issued',
                   'output', 'license'], d
assert (d['feature'], d['vendor'], d['version'], d['count']) == ('plot', 'acme', '2.0', 5), d
assert d['expiry'] == '2030-12-31' and d['output'] == 'issued.lic', d
assert d['issued'] == datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d'), d
assert ('AUTH=' + d['auth']) in d['license'] and d['license'] == open('issued.lic').read(), d"
expect_status 0 "$LMVENDOR" verify --pubkey k.pub issued.lic

note "lmvendor issue: dates that make a license useless are refused; what was signed is said"
expect_status 2 "$LMVENDOR" issue --key k.pem --feature plot --vendor acme --version 2.0 \
	--count 5 --expiry 2001-01-31 --server "host2:$code:27000" -o past.lic
expect_grep 'the expiry 2001-01-31 is already past' "$TMP/err"
[ ! -e past.lic ] || fail "a refused issue wrote its output"
expect_status 2 "$LMVENDOR" issue --key k.pem --feature plot --vendor acme --version 2.0 \
	--count 5 --start 2031-01-01 --expiry 2030-12-31 --server "host2:$code:27000" -o before.lic
expect_grep 'the expiry 2030-12-31 comes before the START 2031-01-01' "$TMP/err"
expect_status 0 "$LMVENDOR" issue --key k.pem --feature plot --vendor acme --version 2.0 \
	--count 5 --expiry 2001-01-31 --force --server "host2:$code:27000" -o forced.lic
expect_grep '^lmvendor: signed plot 2.0 for vendor acme: 5 seats, expires 2001-01-31' "$TMP/err"
expect_status 0 "$LMVENDOR" issue --key k.pem --feature plot --vendor acme --version 2.0 \
	--count 1 --server "host2:$code:27000" -o forever.lic
expect_grep '1 seat, permanent \(no --expiry given\), served by lmd' "$TMP/err"

note "lmvendor --json failures: the error object, and verify's own document"
expect_status 1 "$LMVENDOR" sign --key missing.pem --json template.lic
expect_error_json LMC_EIO
expect_grep '^lmvendor: cannot open key file missing.pem' "$TMP/err"
expect_status 1 "$LMVENDOR" keygen --json k.pem k.pub
expect_error_json LMC_EINVAL
expect_status 2 "$LMVENDOR" issue --json --key k.pem --feature f --vendor acme --version 1
expect_error_json LMC_EINVAL
sed 's/ 4 / 5 /' signed.lic >edited.lic
expect_status 1 "$LMVENDOR" verify --pubkey k.pub --json edited.lic
check_json "$TMP/out" "assert d['valid'] is False and d['lines'][0]['reason'].startswith('bad signature'), d"

note "lmdown --json: every server's answer, and lmd stops"
expect_status 0 "$LMUTIL" lmdown -c "$S" --json
check_json "$TMP/out" "
(s,) = d['servers']
assert list(s) == ['address', 'ok', 'message'] and s['ok'] is True, s"
n=0
while kill -0 "$(cat "$TMP/lmd.pid")" 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "lmd still running after lmdown --json"
	sleep 0.1
done

note "libjansson is linked by the tools only"
if command -v ldd >/dev/null 2>&1; then
	for tool in "$LMUTIL" "$LMVENDOR"; do
		ldd "$tool" | grep -q 'libjansson' || fail "$tool does not link libjansson"
	done
	for lib in "$LMD" "$LMC_LIBRARY"; do
		ldd "$lib" >"$TMP/ldd.txt" || fail "ldd $lib failed"
		expect_grep 'libc\.so' "$TMP/ldd.txt"
		grep -q 'libjansson' "$TMP/ldd.txt" && fail "$lib links libjansson"
	done
else
	note "ldd not installed: not checking what links libjansson"
fi
exit 0
