#!/bin/sh
# The offline clock high-water mark (issue 16): liblmc remembers the latest
# time it saw (a small file, $LMC_CLOCK_FILE here) and refuses time-limited
# node-locked lines once the clock is more than an hour behind it, while
# perpetual lines keep working; removing the file resets the mark.  A mark
# in the future is what a clock set back looks like from here.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"

make_vendor
make_machine "$TMP/ws"
here=$("$LMUTIL" lmhostid --root "$TMP/ws" | tail -n 1 | awk '{ print $NF }')
later=$(date -u -d '+30 days' +%Y-%m-%d)
{
	echo "FEATURE dated acme 1.0 $later uncounted HOSTID=$here"
	echo "FEATURE forever acme 1.0 permanent uncounted HOSTID=$here"
} >"$TMP/ws.tpl"
sign_license "$TMP/ws.tpl" "$TMP/ws.lic"
export LMC_CLOCK_FILE="$TMP/clock-mark" LM_HOSTID_ROOT="$TMP/ws"
co() { "$LMUTIL" checkout -c "$TMP/ws.lic" --pubkey "$TMP/vendor.pub" --json --hold 0 "$1"; }

note "a dated node-locked line is used, and the mark records the time"
expect_status 0 co dated
[ -f "$TMP/clock-mark" ] || fail "no clock mark was written"
now=$(date +%s)
mark=$(cat "$TMP/clock-mark")
[ "$mark" -le "$now" ] && [ "$mark" -gt $((now - 60)) ] || fail "the mark is $mark, now is $now"

note "the clock two days behind the mark: dated lines refused, perpetual ones used"
echo $((now + 172800)) >"$TMP/clock-mark"
expect_status 1 co dated
expect_grep 'LMC_ECLOCK' "$TMP/out"
expect_grep 'clock set back: this machine.s clock is [0-9]+ s behind the latest time' "$TMP/out"
expect_status 0 co forever
[ "$(cat "$TMP/clock-mark")" = $((now + 172800)) ] || fail "a clock set back moved the mark"

note "half an hour behind is within tolerance"
echo $((now + 1800)) >"$TMP/clock-mark"
expect_status 0 co dated

note "removing the mark resets it"
echo $((now + 172800)) >"$TMP/clock-mark"
rm "$TMP/clock-mark"
expect_status 0 co dated
