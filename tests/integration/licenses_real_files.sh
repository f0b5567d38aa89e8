#!/bin/sh
# License files collected from public sources (tests/data/licenses,
# SOURCES.md: MathWorks, Dassault, Intel/Altera, Macrovision, Ansys, Arm,
# Autodesk, Cadence, Esri, IBM Rational and Telelogic, Mentor, PTC, Siemens,
# Xilinx), their FlexLM signatures stripped: each is signed with a test
# key by lmvendor, every license line of it verifies, and the signed file
# keeps what the grammar reads (TS_OK, VENDOR_STRING, HOSTID=DEMO,
# USE_SERVER).  Their SERVER lines name FlexLM host ids, so the test points
# them at a simulated machine; @HOST_CODE@ stands for a node-locked host id
# lmd cannot check (a dongle in the original) and becomes that machine's
# lock code.  Node-locked lines keep their Ethernet and INTERNET= host ids.
# Three counted ones (3DEXCITE's, renewed, Arm's and Siemens') are then
# served by a real lmd and a seat checked out; MathWorks' lines, as
# published with USER_BASED and DUP_GROUP=U, are served: one named user, who
# may run twice on one seat; Siemens' NX PACKAGE, enabled by a FEATURE line
# of ours, serves one of its components.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks

DATA=$TESTS_SRCDIR/data/licenses
make_vendor
code=$(make_server_machine 1)
port=$(free_port)
S=$port@127.0.0.1

# localize FILE OUT: the SERVER lines and node-locked host ids of FILE
# pointed at machine m1.
localize()
{
	sed -e "s/@HOST_CODE@/$code/g" \
		-e "s/^SERVER [^ ]*.*/SERVER 127.0.0.1 $code $port/" "$1" >"$2"
}

nfiles=0
for f in "$DATA"/*.lic; do
	name=$(basename "$f" .lic)
	note "$name: signs and verifies"
	localize "$f" "$TMP/$name.template"
	sign_license "$TMP/$name.template" "$TMP/$name.lic"
	expect_status 0 "$LMVENDOR" verify --pubkey "$TMP/vendor.pub" "$TMP/$name.lic"
	lines=$(grep -Ec '^(FEATURE|INCREMENT|PACKAGE) ' "$f")
	valid=$(grep -c ': valid$' "$TMP/out")
	[ "$lines" -gt 0 ] && [ "$valid" -eq "$lines" ] ||
		fail "$name: $valid of $lines license lines verify: $(cat "$TMP/out")"
	nfiles=$((nfiles + 1))
done
[ "$nfiles" -ge 19 ] || fail "only $nfiles license files in $DATA"

note "what the grammar reads is kept in the signed text"
expect_grep '^USE_SERVER$' "$TMP/3dexcite_deltagen.lic"
expect_grep 'HOSTID=DEMO' "$TMP/mathworks_r2017b.lic"
expect_grep 'VENDOR_STRING=83' "$TMP/mathworks_r2017b.lic"
expect_grep 'TS_OK' "$TMP/intel_fpga.lic"
expect_grep 'ISSUER="Altera "' "$TMP/altera_2011.lic"
expect_grep 'NOTICE="Licensed to  Sample corp"' "$TMP/flexnet_guide_examples.lic"
# PTC's year 0 means no expiry, as in FlexLM; its DAEMON line keeps the path.
expect_grep '^INCREMENT PROE_366 ptc_d 20.0 permanent 5 ' "$TMP/ptc_proe20.lic"
expect_grep '^VENDOR ptc_d /opt/ptc/flexlm/hp8k/obj/ptc_d$' "$TMP/ptc_proe20.lic"
expect_grep '^VENDOR ansyslmd PORT=1056$' "$TMP/ansys_simutech_mechanical.lic"
expect_grep 'COMPONENTS="86445ACD_2016_0F 86295ACD_2015_0F 86063ACD_2014_0F 85871ACD_2013_0F"' \
	"$TMP/autodesk_package_2017.lic"
expect_grep 'vendor_info="\|Rational ClearQuest\|1\.0 "' "$TMP/ibm_rational_clearquest.lic"
expect_grep 'user_info="cam_base module"' "$TMP/siemens_nx_ugslmd.lic"
# Esri's feature name has a '/'; its year 00 means no expiry.
expect_grep '^FEATURE ARC/INFO ESRI 8.01 permanent 1 vendor_info="?8CDZLST7BRCD3K17G105' \
	"$TMP/esri_arcinfo8.lic"
# SUPERSEDE as published (Ansys, IBM, PTC); IBM's OVERDRAFT=0 means none.
expect_grep 'ISSUER=SIEBEL SUPERSEDE' "$TMP/ansys_simutech_mechanical.lic"
expect_grep 'SUPERSEDE' "$TMP/ibm_rational_clearquest.lic"
grep -q 'OVERDRAFT' "$TMP/ibm_rational_clearquest.lic" && fail "OVERDRAFT=0 was kept as a grant"
[ "$(grep -c SUPERSEDE "$TMP/ptc_proe20.lic")" = 2 ] ||
	fail "PTC's SUPERSEDE lost: $(cat "$TMP/ptc_proe20.lic")"
# Siemens' NX bundle: 27 components in one list longer than 255 bytes,
# kept whole, and its cam_base line's SUPERSEDE and DUP_GROUP.
python3 - "$TMP/siemens_nx_ugslmd.lic" <<'PY' || fail "Siemens' bundle lost components: $(cat "$TMP/siemens_nx_ugslmd.lic")"
import re, sys
text = re.sub(r"\\\n\s*", "", open(sys.argv[1]).read())
m = re.search(r'^PACKAGE NX11110 ugslmd 26\.0 .*COMPONENTS="([^"]*)"', text, re.M)
names = m.group(1).split()
assert len(names) == 27 and len(m.group(1)) > 255, names
assert names[0] == "NX11110_3d_to_2d_flattener" and names[-1] == "NX11110_ugopen_menuscript"
assert re.search(r"^INCREMENT cam_base .*SUPERSEDE.*DUP_GROUP=UHD", text, re.M), text
PY
# A continuation right after the key (Xilinx's "5FD134253129\") still
# separates the key from the next keyword.
expect_grep 'VENDOR_STRING=Logic_Edition,software,permanent,' "$TMP/xilinx_ise_editions.lic"
# The positional keys are not kept: SIGN= is what counts.
grep -q '4C9D3348561BE9E3B' "$TMP/mathworks_r2017b.lic" && fail "a FlexLM key was kept"
# An edited keyword breaks the signature.
sed 's/VENDOR_STRING=83/VENDOR_STRING=84/' "$TMP/mathworks_r2017b.lic" >"$TMP/edited.lic"
expect_status 1 "$LMVENDOR" verify --pubkey "$TMP/vendor.pub" "$TMP/edited.lic"

note "Intel's lines, locked to an Ethernet address, are usable on that machine only"
make_machine "$TMP/intel" mac0=e4:a4:71:6b:48:d8
expect_status 0 "$LMUTIL" lmdiag -c "$TMP/intel_fpga.lic" --pubkey "$TMP/vendor.pub" \
	--root "$TMP/intel" quartus_pro
expect_grep 'usable on this machine \(HOSTID e4a4716b48d8\)' "$TMP/out"
expect_status 1 "$LMUTIL" lmdiag -c "$TMP/intel_fpga.lic" --pubkey "$TMP/vendor.pub" \
	--root "$TMP/m1" quartus_pro
expect_grep 'HOSTID="e4a4716b48d8" names none of this machine' "$TMP/out"

note "MathWorks' lines as published, renewed: USER_BASED names one user, DUP_GROUP=U lets them run twice"
sed 's/01-sep-2015/01-sep-2099/' "$TMP/mathworks_r2017b.template" >"$TMP/matlab.template"
sign_license "$TMP/matlab.template" "$TMP/server.lic"
expect_grep 'USER_BASED DUP_GROUP=U' "$TMP/server.lic"
single_lmd lmd_matlab
(LM_TEST_USER=alice LM_TEST_HOST=ws1 exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" \
	--json MATLAB --version 18 --hold 600 >"$TMP/alice1.json" 2>&1) &
alice1=$!
at_exit "kill -9 $alice1 2>/dev/null"
wait_log "$TMP/alice1.json" '"event":"granted"'
expect_status 0 env LM_TEST_USER=alice LM_TEST_HOST=ws2 "$LMUTIL" checkout -c "$S" \
	--pubkey "$TMP/vendor.pub" --json MATLAB --version 18 --hold 0
expect_status 1 env LM_TEST_USER=bob LM_TEST_HOST=ws3 "$LMUTIL" checkout -c "$S" \
	--pubkey "$TMP/vendor.pub" --json MATLAB --version 18 --hold 0
expect_grep 'LMC_ENOSEATS' "$TMP/out"
kill "$alice1"
n=0
until [ "$(in_use MATLAB)" = 0 ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "alice's seat was not returned"
	sleep 0.1
done
# The seat is free, but the one named user is alice.
expect_status 1 env LM_TEST_USER=bob LM_TEST_HOST=ws3 "$LMUTIL" checkout -c "$S" \
	--pubkey "$TMP/vendor.pub" --json MATLAB --version 18 --hold 0
expect_grep 'LMC_EDENIED' "$TMP/out"
expect_grep 'alice' "$TMP/out"
kill_lmd lmd_matlab

note "3DEXCITE's DeltaGen license, renewed to 2099, is served by lmd"
sed 's/31-jan-2018/31-jan-2099/' "$TMP/3dexcite_deltagen.template" >"$TMP/renewed.template"
sign_license "$TMP/renewed.template" "$TMP/server.lic"
single_lmd lmd
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json DeltaGen \
	--version 15.5 --hold 0
expect_grep '"event":"granted"' "$TMP/out"
[ "$(in_use DeltaGen)" = 0 ] || fail "the seat was not returned"
"$LMUTIL" lmstat -c "$S" -f DeltaGen --json >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat does not show the 4 DeltaGen seats: $(cat "$TMP/stat.json")"
import json, sys
f = json.load(open(sys.argv[1]))["features"][0]
sys.exit(0 if f["name"] == "DeltaGen" and f["issued"] == 4 else 1)
PY

note "PTC's node-locked line names its Ethernet address PTC's way, and it is read as one"
make_machine "$TMP/ptc" mac0=08:00:4e:22:ab:08
expect_status 0 "$LMUTIL" lmdiag -c "$TMP/ptc_proe20.lic" --pubkey "$TMP/vendor.pub" \
	--root "$TMP/ptc" PROE_44333
expect_grep 'usable on this machine \(HOSTID 08004e22ab08\)' "$TMP/out"

note "Arm's fromelf line, its NOTICE continued on an indented line, is served by lmd"
kill_lmd lmd
cp "$TMP/arm_fromelf_floating.lic" "$TMP/server.lic"
single_lmd lmd_arm
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json fromelf \
	--version 2.0 --hold 0
expect_grep '"event":"granted"' "$TMP/out"
expect_grep 'NOTICE="For support please contact +your supplier."' "$TMP/server.lic"

note "Siemens' floating cam_base license, permanent as published, is served by lmd"
kill_lmd lmd_arm
cp "$TMP/siemens_nx_ugslmd.lic" "$TMP/server.lic"
single_lmd lmd_siemens
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json cam_base \
	--version 26.0 --hold 0
expect_grep '"event":"granted"' "$TMP/out"
# DUP_GROUP=UHD: the same user at the same display holds one seat for two
# checkouts.
(LM_TEST_USER=alice LM_TEST_HOST=ws1 DISPLAY=:0 exec "$LMUTIL" checkout -c "$S" \
	--pubkey "$TMP/vendor.pub" --json cam_base --hold 600 >"$TMP/cam1.json" 2>&1) &
cam1=$!
at_exit "kill -9 $cam1 2>/dev/null"
wait_log "$TMP/cam1.json" '"event":"granted"'
(LM_TEST_USER=alice LM_TEST_HOST=ws1 DISPLAY=:0 exec "$LMUTIL" checkout -c "$S" \
	--pubkey "$TMP/vendor.pub" --json cam_base --hold 600 >"$TMP/cam2.json" 2>&1) &
cam2=$!
at_exit "kill -9 $cam2 2>/dev/null"
wait_log "$TMP/cam2.json" '"event":"granted"'
[ "$(in_use cam_base)" = 1 ] || fail "alice's two cam_base checkouts took two seats"
kill -TERM "$cam1" "$cam2"
wait "$cam1" "$cam2" 2>/dev/null
"$LMUTIL" lmstat -c "$S" -f cam_base --json >"$TMP/stat.json"
python3 - "$TMP/stat.json" <<'PY' || fail "lmstat does not show the 56 cam_base seats: $(cat "$TMP/stat.json")"
import json, sys
f = json.load(open(sys.argv[1]))["features"][0]
sys.exit(0 if f["name"] == "cam_base" and f["issued"] == 56 and f["in_use"] == 0 else 1)
PY

note "Siemens' NX bundle as published, enabled by a FEATURE NX11110 line of ours: a component is served"
kill_lmd lmd_siemens
{
	cat "$TMP/siemens_nx_ugslmd.template"
	echo "FEATURE NX11110 ugslmd 26.0 permanent 2"
} >"$TMP/nx_enabled.template"
sign_license "$TMP/nx_enabled.template" "$TMP/server.lic"
single_lmd lmd_nx
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json NX11110_drafting \
	--version 26.0 --hold 0
expect_grep '"event":"granted"' "$TMP/out"
