#!/bin/sh
# Three redundant servers under a contended pool: six clients compete for
# three seats while the leader is killed and restarted, a follower is
# paused, and then the leader is paused.  Judged from the clients' own
# events: never more than three seats held at once, no application ever
# told a seat was lost, service back within seconds of each fault (the
# failover time is printed), every seat the servers held belonged to a
# client that was granted it, and the three servers end with the same state.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
. "$TESTS_SRCDIR/integration/triad_lib.sh"
need_test_hooks

SEATS=3
CLIENTS=6
triad_setup $SEATS
# A session outlives a paused leader: the client notices the silence after
# its 5 s answer timeout and resumes on the new leader well within 10 s.
TRIAD_ARGS="--heartbeat 500 --session-timeout 10000"
for n in 1 2 3; do
	triad_start $n
done
leader=$(wait_leader)
note "servers up, server $leader leads"

# Every holder lmstat lists, sampled until $TMP/stop appears.
python3 - "$LMUTIL" "$S" "$TMP/holders" "$TMP/stop" <<'PY' &
import json, os, subprocess, sys, time
lmutil, servers, out, stop = sys.argv[1:]
with open(out, "w") as f:
    while not os.path.exists(stop):
        r = subprocess.run([lmutil, "lmstat", "-c", servers, "-a", "--json"],
                           capture_output=True, text=True)
        try:
            for feat in json.loads(r.stdout)["features"]:
                for h in feat["holders"]:
                    f.write("%d\n" % h["handle"])
            f.flush()
        except (ValueError, KeyError):
            pass
        time.sleep(0.3)
PY
sampler=$!
at_exit "kill $sampler"

clients=
for i in $(seq $CLIENTS); do
	# --timeout: a checkout waits through failovers instead of failing.
	(exec "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" --json --loop 0 --hold 0.2 \
		--timeout 60000 stats >"$TMP/client$i.json" 2>"$TMP/client$i.err") &
	clients="$clients $!"
	at_exit "kill -9 $! 2>/dev/null"
done
wait_log "$TMP/client$CLIENTS.json" '"(granted|denied)"'
sleep 3

note "kill -9 of the leader (server $leader)"
t_kill=$(now_us)
eval "killed=\$port$leader@127.0.0.1"
triad_kill "$leader"
next=$(wait_leader)
note "server $next leads, elected $((($(now_us) - t_kill) / 1000)) ms after the kill (as lmstat saw it)"
note "restarting server $leader, which rejoins and catches up"
sleep 2
triad_start "$leader"
sleep 3

follower=$((next % 3 + 1))
note "server $follower (a follower) paused for 3 s"
kill -STOP "$(triad_pid "$follower")"
sleep 3
kill -CONT "$(triad_pid "$follower")"
sleep 2

leader=$(wait_leader)
note "the leader (server $leader) paused for 6 s"
t_pause=$(now_us)
eval "paused=\$port$leader@127.0.0.1"
kill -STOP "$(triad_pid "$leader")"
sleep 6
kill -CONT "$(triad_pid "$leader")"
sleep 4

note "stopping the clients"
touch "$TMP/stop"
wait "$sampler"
for pid in $clients; do
	kill -TERM "$pid"
done
for pid in $clients; do
	wait "$pid" || true
done
for i in $(seq $CLIENTS); do
	[ ! -s "$TMP/client$i.err" ] || fail "client $i: $(cat "$TMP/client$i.err")"
done

note "what the clients saw"
python3 "$TESTS_SRCDIR/integration/triad_events.py" --seats $SEATS \
	--mark "leader-killed=$t_kill@$killed" --mark "leader-paused=$t_pause@$paused" \
	--holders "$TMP/holders" "$TMP"/client*.json || fail "the clients' events break the rules"
grep -q '"granted"' "$TMP/client1.json" || fail "client 1 was never granted a seat"

wait_in_use 0
note "the three servers hold the same state"
wait_converged
"$LMUTIL" lmstat -c "$S" --digest
exit 0
