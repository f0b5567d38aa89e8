# Shared helpers for the integration tests (POSIX sh).
#
# Source it first thing:    . "$TESTS_SRCDIR/integration/lib.sh"
#
# The harness (make check) exports LMUTIL, LMVENDOR and TESTS_SRCDIR, and
# reads a test's exit status as: 0 pass, 1 fail, 77 skip.  Sourcing this
# file creates a scratch directory $TMP that is removed when the test exits
# (set LM_KEEP_TMP=1 to keep it for a post-mortem).
#
#   fail MSG...            print "FAIL: MSG" on stderr and exit 1
#   skip MSG...            print "SKIP: MSG" and exit 77
#   note MSG...            print a progress line with the seconds since the
#                          test began (it ends up in the .log: where a slow
#                          test spends its time)
#   need_cmd CMD...        skip the test unless every CMD is on PATH
#   at_exit "CMD"          run CMD (a shell string) when the test exits, most
#                          recently registered first, e.g. at_exit "kill $pid"
#   run CMD [ARG...]       run a command with stdout in $TMP/out, stderr in
#                          $TMP/err and its exit status in $status; never
#                          fails by itself
#   expect_status N CMD... run and fail (showing both outputs) unless the
#                          command exits with status N
#   expect_grep RE FILE    fail unless FILE has a line matching RE (grep -E)
#   last_word FILE         print the last word of the last line of FILE
#   make_machine DIR [setting=value...]
#                          lay out a fake machine for the lock code probes
#                          (see make_machine below)
#
# The helpers work under `set -eu` as well as without; the choice is the
# test's.  Names starting with _ belong to this file.

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

skip()
{
	echo "SKIP: $*"
	exit 77
}

_lib_started=$(date +%s%N)

note()
{
	_nt_ms=$((($(date +%s%N) - _lib_started) / 1000000))
	printf -- '-- [%d.%03d s] %s\n' $((_nt_ms / 1000)) $((_nt_ms % 1000)) "$*"
}

need_cmd()
{
	for _need in "$@"; do
		command -v "$_need" >/dev/null 2>&1 || skip "$_need is not installed"
	done
}

_lib_at_exit=
at_exit()
{
	_lib_at_exit="$1; $_lib_at_exit"
}

_lib_exit()
{
	_lib_status=$?
	# Cleanup commands may fail (a process already gone): that must not
	# change the verdict.
	set +e
	eval "$_lib_at_exit" >/dev/null 2>&1
	if [ -n "${LM_KEEP_TMP:-}" ]; then
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$_lib_status"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lmd-it.XXXXXX") || fail "cannot create a scratch directory"
trap _lib_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

status=0
run()
{
	status=0
	"$@" >"$TMP/out" 2>"$TMP/err" || status=$?
}

expect_status()
{
	_want=$1
	shift
	run "$@"
	if [ "$status" -ne "$_want" ]; then
		echo "command: $*" >&2
		echo "--- stdout" >&2
		cat "$TMP/out" >&2
		echo "--- stderr" >&2
		cat "$TMP/err" >&2
		fail "exit status $status, expected $_want"
	fi
}

expect_grep()
{
	grep -Eq -- "$1" "$2" || {
		cat "$2" >&2
		fail "no line matching '$1' in $2"
	}
}

last_word()
{
	tail -n 1 "$1" | awk '{ print $NF }'
}

# make_machine DIR [setting=value...]
#
# Recreates DIR (removing what was there) as the files core/machine.c
# reads, in the layout of tests/unit/helpers.c: th_make_machine(), with the
# same default machine as th_machine_default().  Settings override the
# defaults; an empty value leaves that criterion unreadable:
#   machine_id product_uuid hostname disk_uuid cpu_model
#   mac0 mac1 mac2 mac3       physical interfaces eth0..eth3 (mac2, mac3 unset)
# A virtual interface lo (no device link) is always present.
# Example: make_machine "$TMP/m" hostname=renamed product_uuid=
make_machine()
{
	_mm_dir=$1
	shift
	_mm_machine_id=4f1c2b9a8e7d4c3b9a1f0e2d3c4b5a69
	_mm_product_uuid=6A1B2C3D-4E5F-6789-ABCD-EF0123456789
	_mm_mac0=52:54:00:12:34:56
	_mm_mac1=52:54:00:ab:cd:ef
	_mm_mac2=
	_mm_mac3=
	_mm_hostname=build-07.example.com
	_mm_disk_uuid=2f8e1c3a-5b7d-4e9f-8a1b-3c5d7e9f1a2b
	_mm_cpu_model='Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz'
	for _mm_kv in "$@"; do
		case $_mm_kv in
		machine_id=* | product_uuid=* | mac[0-3]=* | hostname=* | disk_uuid=* | cpu_model=*) ;;
		*) fail "make_machine: unknown setting '$_mm_kv'" ;;
		esac
		# The name was checked above; the value is never evaluated.
		eval "_mm_${_mm_kv%%=*}=\${_mm_kv#*=}"
	done

	rm -rf "$_mm_dir"
	mkdir -p "$_mm_dir" || fail "make_machine: cannot create $_mm_dir"
	if [ -n "$_mm_machine_id" ]; then
		mkdir -p "$_mm_dir/etc"
		printf '%s\n' "$_mm_machine_id" >"$_mm_dir/etc/machine-id"
	fi
	if [ -n "$_mm_product_uuid" ]; then
		mkdir -p "$_mm_dir/sys/class/dmi/id"
		printf '%s\n' "$_mm_product_uuid" >"$_mm_dir/sys/class/dmi/id/product_uuid"
	fi
	for _mm_i in 0 1 2 3; do
		eval "_mm_mac=\$_mm_mac$_mm_i"
		[ -n "$_mm_mac" ] || continue
		mkdir -p "$_mm_dir/sys/class/net/eth$_mm_i/device"
		printf '%s\n' "$_mm_mac" >"$_mm_dir/sys/class/net/eth$_mm_i/address"
		echo DRIVER=e1000 >"$_mm_dir/sys/class/net/eth$_mm_i/device/uevent"
	done
	# A virtual interface: never part of the lock code.
	mkdir -p "$_mm_dir/sys/class/net/lo"
	echo 00:00:00:00:00:00 >"$_mm_dir/sys/class/net/lo/address"
	if [ -n "$_mm_hostname" ]; then
		mkdir -p "$_mm_dir/proc/sys/kernel"
		printf '%s\n' "$_mm_hostname" >"$_mm_dir/proc/sys/kernel/hostname"
	fi
	if [ -n "$_mm_disk_uuid" ]; then
		mkdir -p "$_mm_dir/proc/self" "$_mm_dir/dev/disk/by-uuid"
		printf '%s\n' "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw" \
			"23 22 0:5 / /proc rw - proc proc rw" >"$_mm_dir/proc/self/mountinfo"
		ln -s ../../sda1 "$_mm_dir/dev/disk/by-uuid/$_mm_disk_uuid"
		# Another disk's filesystem, not mounted at /: must be ignored.
		ln -s ../../sdb1 "$_mm_dir/dev/disk/by-uuid/0000-other"
	fi
	if [ -n "$_mm_cpu_model" ]; then
		mkdir -p "$_mm_dir/proc"
		for _mm_i in 0 1; do
			printf 'processor\t: %s\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n' "$_mm_i"
			printf 'model\t\t: 85\nmodel name\t: %s\ncpu MHz\t\t: 2100.000\n\n' \
				"$_mm_cpu_model"
		done >"$_mm_dir/proc/cpuinfo"
	fi
}
