#!/bin/sh
# The Python binding's tests (pytest, tests/python/test_*.py) against real
# lmd processes: `make check` runs this with LMD, LMUTIL, LMVENDOR,
# TESTS_SRCDIR and LMC_LIBRARY (the liblmc of this build) exported.
#
# A liblmc built with AddressSanitizer (./check) loads into an interpreter
# only when the ASan runtime was loaded first: it is preloaded here, with
# leak detection off for the interpreter (Python's own allocations outlive
# it by design).  lmd and the tools started by the tests get back the
# environment they had (lmdtest.child_env).
set -eu
: "${TESTS_SRCDIR:?the harness exports TESTS_SRCDIR}"
: "${LMC_LIBRARY:?the harness exports LMC_LIBRARY, the built liblmc.so.0}"

if [ ! -f "$LMC_LIBRARY" ]; then
	echo "SKIP: no shared liblmc at $LMC_LIBRARY (configured with --disable-shared?)"
	exit 77
fi

# The first interpreter that has pytest: a python3 earlier on PATH (a
# virtualenv, pyenv) may lack Debian's python3-pytest.
python=
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
	if "$candidate" -c 'import pytest' >/dev/null 2>&1; then
		python=$candidate
		break
	fi
done
if [ -z "$python" ]; then
	echo "SKIP: pytest is not installed (Debian: apt install python3-pytest)"
	exit 77
fi

export PYTHONPATH="$TESTS_SRCDIR/../python${PYTHONPATH:+:$PYTHONPATH}"
# Nothing is written into the source tree (read-only under distcheck).
export PYTHONDONTWRITEBYTECODE=1

export LMC_TEST_SAVED_LD_PRELOAD="${LD_PRELOAD-}"
export LMC_TEST_SAVED_ASAN_OPTIONS="${ASAN_OPTIONS-}"
# The runtime this very library links, whatever compiler built it.
asan=$(ldd "$LMC_LIBRARY" | awk '$1 ~ /^lib(clang_rt\.)?asan/ && $3 ~ /^\// { print $3; exit }')
if [ -n "$asan" ]; then
	echo "-- $LMC_LIBRARY uses AddressSanitizer: preloading $asan"
	export LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/lmd-py.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
echo "-- $("$python" --version) $("$python" -m pytest --version 2>&1)"
cd "$TESTS_SRCDIR/python"
"$python" -m pytest -q -p no:cacheprovider --basetemp="$scratch/pytest" .
