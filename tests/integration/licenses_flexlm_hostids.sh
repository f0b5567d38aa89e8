#!/bin/sh
# Node-locked lines written the FlexLM way: HOSTID= an Ethernet address,
# HOSTNAME=, INTERNET= with wildcards, USER=, ID=, and quoted lists where
# any one host id is enough.  lmutil lmhostid prints this machine's ids in
# those forms; lmdiag and liblmc (through lmutil checkout) accept the lines
# that name the simulated machine and refuse the others, saying why.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

M=$TMP/machine
make_machine "$M"
mkdir -p "$M/proc/net"
# The routing trie as the kernel prints it: the machine answers on
# 10.20.30.40 besides loopback.
cat >"$M/proc/net/fib_trie" <<'TRIE'
Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 10.20.30.0/24 2 0 2
           |-- 10.20.30.0
              /24 link UNICAST
           |-- 10.20.30.40
              /32 host LOCAL
TRIE
export LM_HOSTID_ROOT=$M
me=$(id -un)

note "lmhostid prints the FlexLM host ids of the simulated machine"
expect_status 0 "$LMUTIL" lmhostid -ether
expect_grep '^The host ID of this machine is ""525400123456 525400abcdef""$' "$TMP/out"
expect_grep '^Only use ONE from the list of hostids\.$' "$TMP/out"
expect_status 0 "$LMUTIL" lmhostid -internet -n
expect_grep '^INTERNET=10\.20\.30\.40$' "$TMP/out"
expect_status 0 "$LMUTIL" lmhostid -hostname
expect_grep '^The host ID of this machine is "HOSTNAME=build-07\.example\.com"$' "$TMP/out"
expect_status 0 "$LMUTIL" lmhostid -flexlm -n
expect_grep "^525400123456 525400abcdef HOSTNAME=build-07.example.com INTERNET=10.20.30.40 USER=$me DISPLAY=" "$TMP/out"
expect_status 2 "$LMUTIL" lmhostid -ether -internet
expect_grep 'give one of' "$TMP/err"

expect_status 0 "$LMVENDOR" keygen "$TMP/v.pem" "$TMP/v.pub"
cat >"$TMP/template.lic" <<LIC
FEATURE by_ether acme 1.0 permanent uncounted HOSTID=525400ABCDEF
FEATURE by_host acme 1.0 permanent 0 HOSTID=HOSTNAME=build-07
FEATURE by_ip acme 1.0 permanent uncounted HOSTID=INTERNET=10.20.*.*
FEATURE by_user acme 1.0 permanent uncounted HOSTID=USER=$me
FEATURE by_id acme 1.0 permanent uncounted HOSTID=ID=1234-5678
FEATURE by_list acme 1.0 permanent uncounted HOSTID="001122334455 HOSTNAME=lab9 INTERNET=10.20.30.40"
FEATURE other_ether acme 1.0 permanent uncounted HOSTID=001122334455
FEATURE other_ip acme 1.0 permanent uncounted HOSTID=INTERNET=10.21.*.*
FEATURE other_list acme 1.0 permanent uncounted HOSTID="001122334455 HOSTNAME=lab9 USER=nobody-else"
LIC
expect_status 0 "$LMVENDOR" sign --key "$TMP/v.pem" "$TMP/template.lic"
cp "$TMP/out" "$TMP/signed.lic"
# The signature covers the normalised host ids.
expect_grep 'HOSTID=525400abcdef' "$TMP/signed.lic"
expect_grep 'HOSTID=ID=12345678' "$TMP/signed.lic"

diag() { "$LMUTIL" lmdiag -c "$TMP/signed.lic" --pubkey "$TMP/v.pub" "$@"; }
co() { "$LMUTIL" checkout -c "$TMP/signed.lic" --pubkey "$TMP/v.pub" --hold 0 "$@"; }

for f in by_ether by_host by_ip by_user by_id by_list; do
	note "$f names this machine"
	expect_status 0 diag "$f"
	expect_grep "Feature $f: usable" "$TMP/out"
	expect_status 0 co "$f"
done
expect_status 0 diag by_id
expect_grep 'usable on any machine \(HOSTID=ID=12345678\)' "$TMP/out"
expect_status 0 diag by_list
expect_grep 'usable on this machine \(HOSTID INTERNET=10.20.30.40\)' "$TMP/out"

for f in other_ether other_ip other_list; do
	note "$f names another machine"
	expect_status 1 diag "$f"
	expect_grep 'bound to another machine: HOSTID=.* names none of this machine' "$TMP/out"
	expect_status 1 co "$f"
	expect_grep 'LMC_EWRONGHOST' "$TMP/out"
done

note "an edited host id breaks the signature"
sed 's/HOSTID=001122334455 /HOSTID=525400123456 /' "$TMP/signed.lic" >"$TMP/edited.lic"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/edited.lic" --pubkey "$TMP/v.pub" other_ether
expect_grep 'signature' "$TMP/out"

note "host id forms lmd cannot check are refused by name, with what to write instead"
for bad in "FLEXID=9-12345678:dongle" "COMPOSITE=0015c5f1a2b3:composite" \
	"1a2b3c4d:8-digit host id" "INTERNET=10.300.*.*:not an IPv4 address pattern"; do
	printf 'FEATURE f acme 1.0 permanent uncounted HOSTID=%s\n' "${bad%%:*}" >"$TMP/bad.lic"
	expect_status 1 "$LMVENDOR" sign --key "$TMP/v.pem" "$TMP/bad.lic"
	expect_grep "bad.lic:1: HOSTID .*${bad#*:}" "$TMP/err"
	case $bad in
	INTERNET=*) ;;
	*) expect_grep 'lock the line with HOSTID=<lock code> \(`lmutil lmhostid`' "$TMP/err" ;;
	esac
done
