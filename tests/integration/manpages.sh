#!/bin/sh
# The man pages render without a warning, and they keep up with the
# programs: every option `lmd --help` lists is in lmd(8), every command of
# `lmutil --help` and `lmvendor --help` in lmutil(1) and lmvendor(1), and
# the example of lmd-options(5) loads as the page says it does.
. "$TESTS_SRCDIR/integration/lib.sh"
need_cmd groff
man="$LM_TOP_SRCDIR/man"

for page in lmd.8 lmutil.1 lmvendor.1 lmc.3 lmd-license.5 lmd-options.5; do
	[ -f "$man/$page" ] || fail "man/$page is missing"
	groff -man -ww -z -Tutf8 "$man/$page" >"$TMP/groff.out" 2>&1 ||
		fail "groff failed on $page: $(cat "$TMP/groff.out")"
	[ -s "$TMP/groff.out" ] && fail "groff warns about $page: $(cat "$TMP/groff.out")"
	# The rendered page, with groff's own hyphens for \-.
	groff -man -Tascii -P-cbou "$man/$page" 2>/dev/null | tr -s ' \n' '  ' >"$TMP/$page.txt"
done

"$LMD" --help >"$TMP/lmd-help.txt"
for opt in $(grep -o -- '--[a-z][a-z-]*' "$TMP/lmd-help.txt" | sort -u); do
	grep -q -- "$opt" "$TMP/lmd.8.txt" || fail "lmd --help lists $opt, lmd(8) does not"
done
"$LMD" --version | grep -Eq '^lmd \(lmd\) [0-9]+\.[0-9]+' || fail "lmd --version: $("$LMD" --version 2>&1)"

"$LMUTIL" --help >"$TMP/lmutil-help.txt"
for cmd in $(sed -n 's/^  \([a-z]*\)  .*/\1/p' "$TMP/lmutil-help.txt"); do
	grep -q "$cmd" "$TMP/lmutil.1.txt" || fail "lmutil has $cmd, lmutil(1) does not"
done
"$LMVENDOR" --help >"$TMP/lmvendor-help.txt"
for cmd in $(sed -n 's/^  \([a-z]*\)\( .*\)\{0,1\}$/\1/p' "$TMP/lmvendor-help.txt"); do
	grep -q "$cmd" "$TMP/lmvendor.1.txt" || fail "lmvendor has $cmd, lmvendor(1) does not"
done
# The options file of lmd-options(5)'s EXAMPLE (its first .EX block), and
# what the page shows lmoptcheck saying about it.
sed -n '/^\.SH EXAMPLE/,/^\.SH/p' "$man/lmd-options.5" | sed -n '1,/^\.EE/p' |
	sed -e '1,/^\.EX/d' -e '/^\.EE/d' >"$TMP/acme.opt"
grep -q '^RESERVE ' "$TMP/acme.opt" || fail "no options file in lmd-options(5)'s EXAMPLE"
shown=$(sed -n 's/^acme\.opt: \(.*\); policy sha256 \.\.\.$/\1/p' "$man/lmd-options.5")
[ -n "$shown" ] || fail "lmd-options(5) shows no lmoptcheck summary"
# Signatures aside, as lmoptcheck reads a license.
printf 'SERVER licserv 11D7-XZMS-PN6V-MWY5-6AQB 27000\nVENDOR acme\nFEATURE stats acme 29.0 permanent 4\n' \
	>"$TMP/acme.lic"
(cd "$TMP" && "$LMUTIL" lmoptcheck -c acme.lic acme.opt) >"$TMP/optcheck.out" 2>&1 ||
	fail "lmd-options(5)'s example does not load: $(cat "$TMP/optcheck.out")"
grep -q "^acme\.opt: $shown; policy sha256 [0-9a-f]\{64\}\$" "$TMP/optcheck.out" ||
	fail "lmd-options(5) shows '$shown', lmoptcheck says: $(cat "$TMP/optcheck.out")"

# Every function of lmc.h is in lmc(3).
for fn in $(cat "$LM_TOP_SRCDIR/client/lmc.h" "$LM_TOP_SRCDIR/core/error.h" | grep -o 'lmc_[a-z_]*(' | tr -d '(' | sort -u); do
	grep -q "$fn" "$TMP/lmc.3.txt" || fail "lmc.h declares $fn, lmc(3) does not"
done
exit 0
