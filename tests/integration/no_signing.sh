#!/bin/sh
# The vendor's private key never touches a server or an application: liblmc
# contains no code that could sign anything or make a key, and lmd and lmutil
# none of the vendor's (vendor/sign.c, linked into lmvendor only).  nm lists
# every function a binary defines or calls; none of them may be a signing one.
#
# lmd signs with its own identity key (DATA/server-key, which it makes at its
# first start and uses to sign grants: core/server_key_file.c, lmd/requests.c):
# that needs OpenSSL's key-making and signing calls, never the vendor's code
# that signs a license line.
#
# lmutil does sign, with an admin key: `lmutil admin-keygen` makes one and
# LM_ADMIN_KEY signs admin requests with it (tools/lmutil_admin_key.c).  That
# needs OpenSSL's signing calls, which are no more than the `openssl` command
# on the same machine offers; what lmutil must not hold is the vendor's code
# that turns a key into a signed license line.
. "$TESTS_SRCDIR/integration/lib.sh"

[ -x "${LMD:-}" ] || skip "LMD is not set to the built lmd"
[ -x "${LMUTIL:-}" ] || skip "LMUTIL is not set to the built lmutil"
[ -x "${LMVENDOR:-}" ] || skip "LMVENDOR is not set to the built lmvendor"
need_cmd nm

# Ours (vendor/sign.h) and the OpenSSL calls that sign, make keys or read
# and write private keys.
SIGNING='lm_key_generate|lm_key_load_private|lm_sig_sign|lm_license_sign|EVP_DigestSign|EVP_PKEY_sign|EVP_PKEY_Q_keygen|EVP_PKEY_keygen|PEM_write.*PrivateKey|PEM_read.*PrivateKey'

# The program itself, also when libtool left a wrapper script in its place.
binary()
{
	if head -c 4 "$1" | grep -q ELF; then
		echo "$1"
	else
		echo "$(dirname "$1")/.libs/$(basename "$1")"
	fi
}

signing_symbols()
{
	nm "$1" 2>/dev/null | awk '{ print $NF }' | grep -E "^($SIGNING)(@.*)?$" | sort -u
}

note "lmvendor signs: the pattern finds its signing functions"
vendor=$(binary "$LMVENDOR")
signing_symbols "$vendor" >"$TMP/vendor"
grep -qx lm_license_sign "$TMP/vendor" || fail "no lm_license_sign in $vendor: is the pattern stale?"

builddir=$(cd "$(dirname "$LMD")/.." && pwd)
liblmc=
for f in "$builddir/client/.libs/liblmc.so" "$builddir/client/.libs/liblmc.a"; do
	[ -f "$f" ] && liblmc=$f && break
done
[ -n "$liblmc" ] || fail "liblmc not found below $builddir/client/.libs"

note "liblmc holds no signing code"
nm "$liblmc" >/dev/null 2>&1 || fail "nm cannot read $liblmc"
signing_symbols "$liblmc" >"$TMP/found"
[ ! -s "$TMP/found" ] || fail "$liblmc contains: $(tr '\n' ' ' <"$TMP/found")"

note "lmd holds none of the vendor's signing code, only its server key's"
f=$(binary "$LMD")
nm "$f" 2>/dev/null | awk '{ print $NF }' |
	grep -E '^(lm_key_generate|lm_key_load_private|lm_sig_sign|lm_license_sign)$' >"$TMP/found"
[ ! -s "$TMP/found" ] || fail "$f contains: $(tr '\n' ' ' <"$TMP/found")"
nm "$f" 2>/dev/null | grep -q ' T lm_server_key_file_open' ||
	fail "no lm_server_key_file_open in $f: is the check stale?"

note "lmutil holds none of the vendor's signing code, only the admin key's"
f=$(binary "$LMUTIL")
nm "$f" 2>/dev/null | awk '{ print $NF }' |
	grep -E '^(lm_key_generate|lm_key_load_private|lm_sig_sign|lm_license_sign)$' >"$TMP/found"
[ ! -s "$TMP/found" ] || fail "$f contains: $(tr '\n' ' ' <"$TMP/found")"
nm "$f" 2>/dev/null | grep -q ' T lm_admin_sign$' || fail "no lm_admin_sign in $f: is the check stale?"
