#!/usr/bin/env bash
# Run by `./quickstart --triad`: three redundant lmd servers on this machine,
# a client holding a seat while the leader is killed, and the triad left
# running in the foreground until Ctrl-C.
#
#   scripts/triad-demo.sh BUILD_DIR DEMO_DIR LOCKCODE
set -euo pipefail
build=$1
demo=$2
lockcode=$3
lmd=$build/lmd/lmd
lmutil=$build/tools/lmutil
lmvendor=$build/tools/lmvendor
servers=27000@127.0.0.1,27001@127.0.0.1,27002@127.0.0.1
pub=$demo/vendor-public.pem

if [ ! -f "$demo/triad.lic" ]; then
	# All three servers run here, so all three SERVER lines carry this
	# machine's lock code; on three machines each line has its own.
	"$lmvendor" issue --key "$demo/vendor-private.pem" --feature demo_float --vendor demo \
		--version 1.0 --expiry permanent --count 5 --server "127.0.0.1:$lockcode:27000" \
		--server "127.0.0.1:$lockcode:27001" --server "127.0.0.1:$lockcode:27002" \
		--notice "lmd quickstart triad" -o "$demo/triad.lic"
	echo "Issued demo/triad.lic: 5 seats of demo_float served by three redundant servers."
fi

# A demo: started as root, the servers stay root (a real one runs as its
# own user, lmd --user NAME).
export LMD_ALLOW_ROOT=1
declare -A pid
start() {
	local n=$1
	"$lmd" -c "$demo/triad.lic" --pubkey "$pub" --data "$demo/triad-data$n" \
		--listen 127.0.0.1 --node "$n" >>"$demo/triad$n.log" 2>&1 &
	pid[$n]=$!
}
stop_all() {
	for n in 1 2 3; do
		[ -n "${pid[$n]:-}" ] && kill "${pid[$n]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# The SERVER line number of the server that plays role $1 (lmstat --json).
server_with_role() {
	"$lmutil" lmstat -c "$servers" --json 2>/dev/null | python3 -c '
import json, sys
try:
    for i, s in enumerate(json.load(sys.stdin)["servers"]):
        if s["role"] == sys.argv[1]:
            print(i + 1)
            break
except ValueError:
    pass' "$1"
}
wait_leader() {
	local l
	for _ in $(seq 100); do
		l=$(server_with_role leader)
		[ -n "$l" ] && { echo "$l"; return 0; }
		sleep 0.1
	done
	echo "no leader was elected; see demo/triad*.log" >&2
	return 1
}
now_ms() { date +%s%3N; }

echo
echo "== Starting three servers: clients on 27000-27002, replication on 27100-27102 =="
echo "(logs in demo/triad1.log .. triad3.log; the replication ports are not"
echo " authenticated: on real machines keep them on a private network)"
for n in 1 2 3; do
	start "$n"
done
leader=$(wait_leader)
"$lmutil" lmstat -c "$servers" --lmd

echo
echo "== A client checks out a seat and holds it for 15 s =="
"$lmutil" checkout -c "$servers" --pubkey "$pub" demo_float --hold 15 &
holder=$!
sleep 1

echo
echo "== kill -9 of the leader, server $leader (27000 + $((leader - 1))) =="
t0=$(now_ms)
kill -9 "${pid[$leader]}"
wait "${pid[$leader]}" 2>/dev/null || true
pid[$leader]=
"$lmutil" checkout -c "$servers" --pubkey "$pub" demo_float --timeout 20000 >/dev/null
echo "A new checkout was granted $(($(now_ms) - t0)) ms after the kill."
"$lmutil" lmstat -c "$servers" -a --lmd

echo
echo "== Server $leader restarts, rejoins and catches up =="
start "$leader"
sleep 2
"$lmutil" lmstat -c "$servers" --lmd
wait "$holder" || true
echo "(The holder never noticed: it resumed its session on the new leader.)"

cat <<EOT

== The triad keeps running (Ctrl-C stops it) ==
From another terminal, try:
  $lmutil lmstat -c $servers -a
  $lmutil checkout -c $servers --pubkey $pub demo_float --hold 60 --json
  kill -9 <pid of the leader>    # lmstat shows which server leads; pids: ${pid[1]:-} ${pid[2]:-} ${pid[3]:-}
  kill -STOP / kill -CONT <pid>  # pause a server
EOT
wait
