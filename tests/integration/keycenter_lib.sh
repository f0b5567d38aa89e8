# What every key-center test starts with: the test library and the
# server helpers, the built lmvendor, and in $TMP (the current directory)
# a fresh vendor key pair that LMVENDOR_KEY names and the path of an
# empty store that LMVENDOR_STORE names.  Sets $V to lmvendor.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"

[ -x "${LMVENDOR:-}" ] || skip "LMVENDOR is not set to the built lmvendor"
need_cmd python3
V=$LMVENDOR
cd "$TMP" || fail "cannot enter $TMP"
export LMVENDOR_STORE="$TMP/center.mdb" LMVENDOR_KEY="$TMP/vendor.pem"
make_vendor
