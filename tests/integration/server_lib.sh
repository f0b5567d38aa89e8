# Helpers for the tests that run real lmd processes (source after lib.sh).
#
# Every server runs as a simulated machine (LM_HOSTID_ROOT, honoured by the
# test-hooks build) so that its SERVER line's lock code is known to the
# test; ports are picked free by the kernel, so tests may run in parallel.
#
#   free_port                      print a free TCP port on 127.0.0.1
#   need_test_hooks                skip unless lmutil honours LM_HOSTID_ROOT
#   make_vendor                    vendor keys in $TMP/vendor.pem, $TMP/vendor.pub
#   make_server_machine N          fake machine $TMP/m$N; prints its lock code
#   sign_license TEMPLATE OUT      lmvendor sign TEMPLATE into OUT
#   single_server LINE...          vendor keys, machine m1, a free $port and
#                                  $S ("$port@127.0.0.1"), and $TMP/server.lic:
#                                  m1's SERVER line, VENDOR acme and LINE...
#   single_lmd NAME [ARGS...]      after single_server: start lmd NAME as m1
#                                  serving $TMP/server.lic with data in
#                                  $TMP/NAME.data and ARGS, and wait until it
#                                  serves
#   in_use [FEATURE]               seats of FEATURE (stats) in use, per lmstat
#   start_lmd NAME [ARGS...]       start $LMD in the background, logging to
#                                  $TMP/NAME.log; its pid goes to $TMP/NAME.pid
#                                  and it is killed when the test exits
#   wait_port PORT [SECONDS]       wait until something accepts on PORT
#   wait_log FILE REGEX [SECONDS]  wait until FILE has a line matching REGEX
#   wait_log_after SKIP FILE REGEX [SECONDS]
#                                  the same, past FILE's first SKIP lines
#   kill_lmd NAME [SIGNAL]         kill and reap (default SIGKILL)
#   hold_as NAME USER HOST ARGS... lmutil checkout ARGS as USER on HOST
#                                  (display :0) holding its seat in the
#                                  background: events in $TMP/NAME.json, pid
#                                  in $pid_NAME; returns once granted or denied
#   denied_as USER HOST ARGS...    lmutil checkout ARGS as USER on HOST must
#                                  be denied (events in $TMP/denied.json)

need_cmd python3
: "${LMD:?the harness exports LMD}"

# A free port below the kernel's ephemeral range: a port from that range is
# free now but can be taken by any outgoing connection's source port while
# a server is down, and its restart then cannot bind it.  A port is free
# only until someone binds it, so the ports handed out in this test are
# remembered ($TMP/ports_given) and never handed out twice (two SERVER lines
# of a triad on one port make the license unsignable).
free_port()
{
	python3 - "$TMP/ports_given" <<'PY'
import random, socket, sys
given_path = sys.argv[1]
try:
    given = set(int(p) for p in open(given_path).read().split())
except (OSError, ValueError):
    given = set()
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
def bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
port = None
for _ in range(1000):
    candidate = random.randint(10000, max(10001, low - 1))
    if candidate not in given and bindable(candidate):
        port = candidate
        break
while port is None or port in given:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
with open(given_path, "a") as f:
    f.write("%d\n" % port)
print(port)
PY
}

need_test_hooks()
{
	"$LMUTIL" --version | grep -q "test hooks" ||
		skip "needs a build configured with --enable-test-hooks (./check does that)"
}

make_vendor()
{
	"$LMVENDOR" keygen "$TMP/vendor.pem" "$TMP/vendor.pub" >/dev/null ||
		fail "lmvendor keygen failed"
}

make_server_machine()
{
	make_machine "$TMP/m$1" machine_id="$(printf '%032d' "$1")" hostname="server$1" \
		mac0="52:54:00:00:00:0$1" product_uuid= disk_uuid=
	"$LMUTIL" lmhostid --root "$TMP/m$1" | tail -n 1 | awk '{ print $NF }'
}

sign_license()
{
	"$LMVENDOR" sign --key "$TMP/vendor.pem" "$1" >"$2" || fail "lmvendor sign $1 failed"
}

single_server()
{
	make_vendor
	_ss_code=$(make_server_machine 1)
	port=$(free_port)
	S=$port@127.0.0.1
	{
		echo "SERVER 127.0.0.1 $_ss_code $port"
		echo "VENDOR acme"
		printf '%s\n' "$@"
	} >"$TMP/template.lic"
	sign_license "$TMP/template.lic" "$TMP/server.lic"
}

single_lmd()
{
	_sd_name=$1
	shift
	# The log is appended to across restarts: only this start's lines count.
	# A first start serves once its license set has committed; a restart
	# finds the set in its data and serves once it leads.
	_sd_seen=$(cat "$TMP/$_sd_name.log" 2>/dev/null | wc -l)
	_sd_ready=' license serving'
	[ -d "$TMP/$_sd_name.data" ] && _sd_ready=' (license|leader) serving'
	LM_HOSTID_ROOT="$TMP/m1" start_lmd "$_sd_name" -c "$TMP/server.lic" \
		--pubkey "$TMP/vendor.pub" --data "$TMP/$_sd_name.data" --listen 127.0.0.1 \
		--heartbeat 200 --session-timeout 3000 --peer-port "$(free_port)" "$@"
	wait_port "$port"
	wait_log_after "$_sd_seen" "$TMP/$_sd_name.log" "$_sd_ready"
}

in_use()
{
	"$LMUTIL" lmstat -c "$S" -f "${1:-stats}" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["features"][0]["in_use"])'
}

start_lmd()
{
	_sl_name=$1
	shift
	"$LMD" "$@" >>"$TMP/$_sl_name.log" 2>&1 &
	echo $! >"$TMP/$_sl_name.pid"
	at_exit "kill -9 $! 2>/dev/null"
}

wait_port()
{
	python3 - "$1" "${2:-20}" <<'PY' || fail "nothing listens on port $1"
import socket, sys, time
port, deadline = int(sys.argv[1]), time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

wait_log()
{
	_wl_deadline=$(($(date +%s) + ${3:-20}))
	until grep -Eq -- "$2" "$1" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$_wl_deadline" ]; then
			cat "$1" >&2
			fail "no line matching '$2' in $1"
		fi
		sleep 0.05
	done
}

# wait_log, counting only the lines after the first SKIP lines.
wait_log_after()
{
	_wa_deadline=$(($(date +%s) + ${4:-20}))
	until tail -n "+$(($1 + 1))" "$2" 2>/dev/null | grep -Eq -- "$3"; do
		if [ "$(date +%s)" -ge "$_wa_deadline" ]; then
			cat "$2" >&2
			fail "no line matching '$3' in $2 after its line $1"
		fi
		sleep 0.05
	done
}

hold_as()
{
	_ha_name=$1 _ha_user=$2 _ha_host=$3
	shift 3
	(LM_TEST_USER=$_ha_user LM_TEST_HOST=$_ha_host DISPLAY=:0 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json --hold 600 "$@" >"$TMP/$_ha_name.json" 2>&1) &
	eval "pid_$_ha_name=$!"
	at_exit "kill -9 $! 2>/dev/null"
	wait_log "$TMP/$_ha_name.json" '"event":"(granted|denied)"'
}

denied_as()
{
	_da_user=$1 _da_host=$2
	shift 2
	(LM_TEST_USER=$_da_user LM_TEST_HOST=$_da_host DISPLAY=:0 exec "$LMUTIL" checkout -c "$S" \
		--pubkey "$TMP/vendor.pub" --json --hold 0 "$@" >"$TMP/denied.json" 2>&1) &&
		fail "$_da_user on $_da_host was granted $*: $(cat "$TMP/denied.json")"
	expect_grep '"event":"denied"' "$TMP/denied.json"
}

kill_lmd()
{
	_kl_pid=$(cat "$TMP/$1.pid")
	kill "-${2:-KILL}" "$_kl_pid" 2>/dev/null
	wait "$_kl_pid" 2>/dev/null
	return 0
}
