# Sourced by ./quickstart and ./check: installs the Debian packages the
# project needs when they are missing.
#
# lm_install_deps PACKAGE... : as root, apt-get installs what is missing;
# otherwise prints the exact apt-get line to run and returns 1.

LM_BUILD_DEPS="build-essential autoconf automake libtool pkg-config \
libuv1-dev libssl-dev libprotobuf-c-dev protobuf-c-compiler liblmdb-dev libraft-dev \
libsystemd-dev libjansson-dev libmicrohttpd-dev libcairo2-dev"
LM_TEST_DEPS="libcmocka-dev python3 python3-pytest openssl curl procps iproute2 groff-base \
python3-prometheus-client chromium"
# ./check builds, lints and installs the Debian packages.
LM_PACKAGE_DEPS="debhelper dh-python lintian fakeroot systemd"

lm_missing_packages() {
	local p missing=
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing="$missing $p"
		fi
	done
	echo "$missing"
}

lm_install_deps() {
	local missing
	missing=$(lm_missing_packages "$@")
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "These Debian packages are missing. Install them with:" >&2
		echo "  sudo apt-get install -y$missing" >&2
		return 1
	fi
	echo "Installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
}

# lm_bootstrap: generates ./configure when it is missing or older than its
# inputs (a fresh clone has none).
lm_bootstrap() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		autoreconf -fi
	fi
}
