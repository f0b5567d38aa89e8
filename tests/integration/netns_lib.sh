# Helpers for tests that cut a real network: every server and client runs
# in a network namespace of its own, on a private bridge (source after
# lib.sh and server_lib.sh).  Nothing leaves the namespaces created here:
# the bridge lives in one of them too, and the addresses (10.99.0.0/24) are
# used only inside them.  Names are unique to the run, so tests may run in
# parallel.
#
#   need_netns             skip (77) unless this process can create network
#                          namespaces (root, iproute2); create the bridge
#                          and remove everything when the test exits
#   netns_host NAME N      a namespace for host NAME at 10.99.0.N on the
#                          bridge; sets ip_NAME
#   in_ns NAME CMD...      run CMD inside host NAME
#   island NAME...         these hosts reach one another and nobody else:
#                          their bridge ports move, in one step, to a second
#                          bridge (a symmetric partition)
#   cut_from A B...        packets from A to each B are dropped; B still
#                          reaches A (a one-way cut: blackhole routes on A's
#                          side)
#   heal                   every host back on one bridge, every cut removed
#   ns_triad_setup SEATS   vendor keys, machines m1..m3 and $TMP/triad.lic
#                          for servers s1..s3 at 10.99.0.1-3 port 27000;
#                          sets $S; lmstat (triad_lib.sh) then runs in host
#                          "ob" at 10.99.0.9
#   ns_triad_start N       start server N in host sN, as triad_start does
#
# Processes started in the namespaces are killed when the test exits, by the
# namespace they live in (ip netns pids) and then the namespaces removed.

need_netns()
{
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
	NETNS=lmt$$$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	ip netns add "${NETNS}br" 2>"$TMP/netns.err" ||
		skip "cannot create a network namespace here: $(cat "$TMP/netns.err")"
	_nn_hosts=br
	at_exit netns_cleanup
	ip -n "${NETNS}br" link set lo up
	for _nn_b in br0 br1; do
		ip -n "${NETNS}br" link add "$_nn_b" type bridge 2>"$TMP/netns.err" ||
			skip "cannot create a bridge in a network namespace: $(cat "$TMP/netns.err")"
		ip -n "${NETNS}br" link set "$_nn_b" up
	done
}

netns_cleanup()
{
	for _nc_h in $_nn_hosts; do
		# shellcheck disable=SC2046 # one pid per word
		kill -9 $(ip netns pids "$NETNS$_nc_h" 2>/dev/null) 2>/dev/null
	done
	for _nc_h in $_nn_hosts; do
		ip netns del "$NETNS$_nc_h" 2>/dev/null
	done
}

netns_host()
{
	_nh_ns=$NETNS$1
	ip netns add "$_nh_ns" || fail "ip netns add $_nh_ns"
	_nn_hosts="$_nn_hosts $1"
	# Both ends are created inside our namespaces: nothing appears, even
	# for a moment, in the namespace the test runs in.
	ip -n "${NETNS}br" link add "p$1" type veth peer name eth0 netns "$_nh_ns" ||
		fail "cannot create a veth pair for $1"
	ip -n "${NETNS}br" link set "p$1" master br0 up
	ip -n "$_nh_ns" link set lo up
	ip -n "$_nh_ns" addr add "10.99.0.$2/24" dev eth0
	ip -n "$_nh_ns" link set eth0 up
	eval "ip_$1=10.99.0.$2"
}

in_ns()
{
	_in_h=$1
	shift
	ip netns exec "$NETNS$_in_h" "$@"
}

island()
{
	for _is_h in "$@"; do
		echo "link set p$_is_h master br1"
	done | ip -n "${NETNS}br" -batch - || fail "cannot move $* apart"
}

cut_from()
{
	_cf_a=$1
	shift
	for _cf_b in "$@"; do
		eval "_cf_ip=\$ip_$_cf_b"
		echo "route add blackhole $_cf_ip/32"
	done | ip -n "$NETNS$_cf_a" -batch - || fail "cannot cut $_cf_a from $*"
}

heal()
{
	for _he_h in $_nn_hosts; do
		[ "$_he_h" = br ] && continue
		echo "link set p$_he_h master br0"
	done | ip -n "${NETNS}br" -batch - || fail "cannot heal the bridge"
	for _he_h in $_nn_hosts; do
		[ "$_he_h" = br ] || ip -n "$NETNS$_he_h" route flush type blackhole
	done
}

ns_triad_setup()
{
	make_vendor
	for _ns_n in 1 2 3; do
		eval "code$_ns_n=\$(make_server_machine $_ns_n)"
		netns_host "s$_ns_n" "$_ns_n"
	done
	netns_host ob 9
	S="27000@$ip_s1,27000@$ip_s2,27000@$ip_s3"
	cat >"$TMP/triad.tmpl" <<LIC
SERVER $ip_s1 $code1 27000
SERVER $ip_s2 $code2 27000
SERVER $ip_s3 $code3 27000
VENDOR acme
FEATURE stats acme 29.0 permanent $1
LIC
	sign_license "$TMP/triad.tmpl" "$TMP/triad.lic"
	# triad_lib.sh's lmstat helpers ask from host ob.
	LMUTIL_HOST=$LMUTIL
	cat >"$TMP/lmutil-ob" <<SH
#!/bin/sh
exec ip netns exec ${NETNS}ob "$LMUTIL_HOST" "\$@"
SH
	chmod +x "$TMP/lmutil-ob"
	LMUTIL=$TMP/lmutil-ob
}

ns_triad_start()
{
	eval "_nt_ip=\$ip_s$1"
	# shellcheck disable=SC2086 # TRIAD_ARGS holds several options
	LM_HOSTID_ROOT="$TMP/m$1" ip netns exec "${NETNS}s$1" "$LMD" -c "$TMP/triad.lic" \
		--pubkey "$TMP/vendor.pub" --data "$TMP/d$1" --listen "$_nt_ip" --node "$1" \
		${TRIAD_ARGS:-} >>"$TMP/lmd$1.log" 2>&1 &
	echo $! >"$TMP/lmd$1.pid"
	at_exit "kill -9 $! 2>/dev/null"
	in_ns ob python3 - "$_nt_ip" <<'PY' || fail "server $1 does not listen on $_nt_ip"
import socket, sys, time
deadline = time.time() + 20
while time.time() < deadline:
    try:
        socket.create_connection((sys.argv[1], 27000), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}
