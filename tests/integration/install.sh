#!/bin/sh
# `make install DESTDIR=...` lays out what a user and an application developer
# need: the three programs, lmc.h, liblmc.so with its soname, lmc.pc and the
# man pages.  Then the README's example (examples/checkout.c, the very bytes
# the README shows) is built against the installed files through pkg-config,
# once against liblmc.so and once against liblmc.a (--static), and both take
# and return a seat from the installed lmd.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks
need_cmd pkg-config cc readelf

note "the README shows examples/checkout.c verbatim"
python3 - "$LM_TOP_SRCDIR/README.md" "$LM_TOP_SRCDIR/examples/checkout.c" <<'PY' ||
import sys
readme, example = open(sys.argv[1]).read(), open(sys.argv[2]).read()
marker = "<!-- example: examples/checkout.c -->\n```c\n"
start = readme.index(marker) + len(marker)
sys.exit(0 if readme[start:readme.index("```\n", start)] == example else 1)
PY
	fail "README.md's example differs from examples/checkout.c"

note "make install DESTDIR=\$TMP/root"
root=$TMP/root
# A make of its own: not the test harness's job server.
(unset MAKEFLAGS MFLAGS MAKELEVEL
	make -C "$LM_TOP_BUILDDIR" install DESTDIR="$root" >"$TMP/install.log" 2>&1) ||
	fail "make install failed: $(tail -n 20 "$TMP/install.log")"
pc=$(find "$root" -name lmc.pc)
[ -n "$pc" ] || fail "no lmc.pc installed: $(cd "$root" && find . -type f)"
libdir=$(dirname "$(dirname "$pc")")
prefix=$(dirname "$libdir")
for f in sbin/lmd bin/lmutil bin/lmvendor include/lmc.h share/man/man8/lmd.8 \
	share/man/man1/lmutil.1 share/man/man1/lmvendor.1 share/man/man3/lmc.3 \
	share/man/man5/lmd-license.5 share/man/man5/lmd-options.5; do
	[ -e "$prefix/$f" ] || fail "make install did not install $f"
done
[ -f "$libdir/liblmc.a" ] || fail "no liblmc.a in $libdir"
readelf -d "$libdir/liblmc.so" | grep -q 'SONAME.*\[liblmc\.so\.0\]' ||
	fail "liblmc.so has no soname liblmc.so.0: $(readelf -d "$libdir/liblmc.so")"
# Only the public API is exported.
nm -D --defined-only "$libdir/liblmc.so" | awk '$2 == "T" { print $3 }' >"$TMP/exports"
grep -v '^lmc_' "$TMP/exports" && fail "liblmc.so exports more than lmc_*"
grep -qx lmc_checkout "$TMP/exports" || fail "liblmc.so does not export lmc_checkout"

# As if installed under $prefix: lmc.pc's own prefix is the configured one.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pc() { pkg-config --define-variable=prefix="$prefix" "$@" lmc; }
pc --exists || fail "pkg-config does not find lmc: $(pc --print-errors --exists 2>&1)"
[ "$(pc --modversion)" = "$("$LMD" --version | awk '{ print $NF }')" ] ||
	fail "lmc.pc's version $(pc --modversion) is not lmd's"
cflags=$(pc --cflags)
libs=$(pc --libs)
static_libs=$(pc --static --libs | sed 's/-llmc\b/-l:liblmc.a/')
note "shared: $cflags $libs; static: $static_libs"

# An ASan build's library needs the sanitizer runtime in the program too.
# shellcheck disable=SC2086 # flags are lists
cc $LM_SAN_FLAGS -Wall -Werror $cflags "$LM_TOP_SRCDIR/examples/checkout.c" $libs \
	-o "$TMP/checkout-shared" 2>"$TMP/cc.err" || fail "shared build: $(cat "$TMP/cc.err")"
# shellcheck disable=SC2086
cc $LM_SAN_FLAGS -Wall -Werror $cflags "$LM_TOP_SRCDIR/examples/checkout.c" $static_libs \
	-o "$TMP/checkout-static" 2>"$TMP/cc.err" || fail "static build: $(cat "$TMP/cc.err")"
LD_LIBRARY_PATH=$libdir ldd "$TMP/checkout-shared" | grep -q "liblmc.so.0 => $libdir" ||
	fail "the shared build does not use the installed liblmc: $(ldd "$TMP/checkout-shared")"
ldd "$TMP/checkout-static" | grep -q liblmc && fail "the static build needs liblmc.so"

note "both take a seat from the installed lmd"
LMD=$prefix/sbin/lmd
single_server "FEATURE stats acme 29.0 permanent 1"
LM_HOSTID_ROOT="$TMP/m1" start_lmd lmd -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" \
	--data "$TMP/data" --listen 127.0.0.1 --port "$port"
wait_port "$port"
for build in shared static; do
	LD_LIBRARY_PATH=$libdir expect_status 0 "$TMP/checkout-$build" "$TMP/vendor.pub" "$S" \
		stats 29.0
	expect_grep '^granted stats 29.0, handle [0-9]+$' "$TMP/out"
done
[ "$(in_use)" = 0 ] || fail "a seat is still in use"
note "and say why when they cannot"
LD_LIBRARY_PATH=$libdir expect_status 1 "$TMP/checkout-shared" "$TMP/vendor.pub" "$S" plot 1.0
expect_grep 'LMC_ENOFEATURE' "$TMP/err"
LD_LIBRARY_PATH=$libdir expect_status 1 "$TMP/checkout-static" "$TMP/nokey.pub" "$S" stats 29.0
grep -q 'no context' "$TMP/err" && fail "lmc_open's failure said 'no context': $(cat "$TMP/err")"
expect_grep 'nokey.pub' "$TMP/err"
exit 0
