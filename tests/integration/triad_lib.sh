# Helpers for the tests of redundant servers: three real lmd processes on
# loopback, each a simulated machine (source after lib.sh and server_lib.sh).
#
#   triad_setup SEATS            vendor keys, machines m1..m3, free client and
#                                replication ports, $TMP/triad.lic serving
#                                SEATS seats of "stats"; sets $S (the three
#                                servers, "p1@127.0.0.1,p2@...,p3@...")
#   triad_start N [ARGS...]      start the server of SERVER line N as
#                                simulated machine $TMP/m$N (or $machineN)
#                                serving $TMP/triad.lic (or $licenseN) with
#                                data in $TMP/d$N; $TRIAD_ARGS are added to
#                                every start
#   triad_kill N [SIGNAL]        kill -9 (or SIGNAL) server N and reap it
#   triad_pid N                  print server N's pid
#   wait_leader [SECONDS]        wait until a server leads and serves; print
#                                its SERVER line number
#   wait_converged [SECONDS]     wait until every server that answers has
#                                applied the same index with the same pool
#                                digest, and a leader leads them
#   triad_stat                   lmstat --json of $S on stdout
#   in_use                       seats of "stats" in use, as the leader says
#   wait_in_use N [SECONDS]
#   now_us                       wall-clock microseconds (the t_us of events)
#   granted_after_both A B LATER the events of `lmutil checkout --json` in
#                                files A and B (two checkouts sharing one
#                                seat) and LATER: LATER was granted only
#                                after A and B had both let the seat go

triad_setup()
{
	make_vendor
	for _ts_n in 1 2 3; do
		eval "code$_ts_n=\$(make_server_machine $_ts_n)"
		eval "port$_ts_n=\$(free_port)"
		eval "peer$_ts_n=\$(free_port)"
	done
	S="$port1@127.0.0.1,$port2@127.0.0.1,$port3@127.0.0.1"
	PEERS="$peer1,$peer2,$peer3"
	cat >"$TMP/triad.tmpl" <<LIC
SERVER 127.0.0.1 $code1 $port1
SERVER 127.0.0.1 $code2 $port2
SERVER 127.0.0.1 $code3 $port3
VENDOR acme
FEATURE stats acme 29.0 permanent $1
LIC
	sign_license "$TMP/triad.tmpl" "$TMP/triad.lic"
}

triad_start()
{
	_tr_n=$1
	shift
	eval "_tr_machine=\${machine$_tr_n:-\$TMP/m$_tr_n}"
	eval "_tr_license=\${license$_tr_n:-\$TMP/triad.lic}"
	# shellcheck disable=SC2086 # TRIAD_ARGS holds several options
	LM_HOSTID_ROOT="$_tr_machine" start_lmd "lmd$_tr_n" -c "$_tr_license" \
		--pubkey "$TMP/vendor.pub" --data "$TMP/d$_tr_n" --listen 127.0.0.1 \
		--node "$_tr_n" --peer-port "$PEERS" ${TRIAD_ARGS:-} "$@"
	eval "wait_port \$port$_tr_n"
}

triad_kill()
{
	kill_lmd "lmd$1" "${2:-KILL}"
}

triad_pid()
{
	cat "$TMP/lmd$1.pid"
}

triad_stat()
{
	"$LMUTIL" lmstat -c "$S" -a --json 2>/dev/null
}

# Reads lmstat --json on stdin and answers $1: "leader" (the leader's SERVER
# line, or nothing), "converged" (yes when every server that answers is at
# the leader's applied index with its digest), "in_use".
_triad_py()
{
	python3 -c '
import json, sys
what = sys.argv[1]
try:
    st = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
servers = st["servers"]
leaders = [i + 1 for i, s in enumerate(servers) if s["role"] == "leader"]
if what == "leader":
    print(leaders[0] if len(leaders) == 1 else "")
elif what == "converged":
    up = [s for s in servers if s["role"] != "down"]
    ok = len(leaders) == 1 and all(
        s.get("voter") and s["applied_index"] == up[0]["applied_index"]
        and s.get("digest") == up[0].get("digest") for s in up)
    print("yes" if ok else "no")
elif what == "in_use":
    f = [f for f in st["features"] if f["name"] == "stats"]
    print(f[0]["in_use"] if f else "")
' "$1"
}

wait_leader()
{
	_wl_end=$(($(date +%s) + ${1:-20}))
	while :; do
		_wl_l=$(triad_stat | _triad_py leader)
		if [ -n "$_wl_l" ]; then
			echo "$_wl_l"
			return 0
		fi
		[ "$(date +%s)" -lt "$_wl_end" ] || fail "no leader within ${1:-20} s: $(triad_stat)"
		sleep 0.1
	done
}

wait_converged()
{
	_wc_end=$(($(date +%s) + ${1:-30}))
	until [ "$(triad_stat | _triad_py converged)" = yes ]; do
		[ "$(date +%s)" -lt "$_wc_end" ] ||
			fail "the servers did not converge within ${1:-30} s: $(triad_stat)"
		sleep 0.2
	done
}

in_use()
{
	triad_stat | _triad_py in_use
}

wait_in_use()
{
	_wi_end=$(($(date +%s) + ${2:-20}))
	until [ "$(in_use)" = "$1" ]; do
		[ "$(date +%s)" -lt "$_wi_end" ] || fail "in_use is $(in_use), expected $1"
		sleep 0.1
	done
}

now_us()
{
	python3 -c 'import time; print(int(time.time() * 1e6))'
}

granted_after_both()
{
	python3 - "$@" <<'PY'
import json, sys
spans = []
for path in sys.argv[1:]:
    start = end = None
    for line in open(path):
        e = json.loads(line)
        if e["event"] == "granted" and start is None:
            start = e["t_us"]
        if e["event"] in ("releasing", "released", "lost") and end is None:
            end = e["t_us"]
    assert start is not None and end is not None, path
    spans.append((start, end))
assert spans[2][0] >= max(spans[0][1], spans[1][1]), spans
PY
}
