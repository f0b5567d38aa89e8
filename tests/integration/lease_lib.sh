# Helpers for the tests of the lease rule: clients that hold or compete for
# a seat and print what they believe (source after lib.sh).
#
#   hold NAME CMD...       run CMD (an `lmutil checkout` prefix, such as
#                          "$LMUTIL checkout -c SERVERS --pubkey KEY") in the
#                          background to check "stats" out and hold it until
#                          stopped; events go to $TMP/NAME.json
#   contend NAME CMD...    in the background, try CMD the same way again and
#                          again (a new process each time, 0.2 s after the
#                          last was denied) until one is granted the seat,
#                          which it then holds until stopped; events are
#                          appended to $TMP/NAME.json
#   stop_client NAME       SIGTERM: the client checks its seat in and exits
#   crash_client NAME      SIGKILL: the client dies holding its seat (a
#                          "killed" event marks the end of its beliefs)
#   wait_event NAME REGEX [SECONDS]
#                          wait until $TMP/NAME.json has an event matching
#                          REGEX (grep -E)
#   judge_lease SEATS [--mark NAME=T_US]... NAME...
#                          lease_events.py on the clients' events: fails
#                          unless every client's beliefs fit in SEATS seats

hold()
{
	_h_name=$1
	shift
	"$@" --json --hold 600 stats >"$TMP/$_h_name.json" 2>"$TMP/$_h_name.err" &
	echo $! >"$TMP/$_h_name.pid"
	at_exit "kill -9 $! 2>/dev/null"
}

contend()
{
	_c_name=$1
	shift
	: >"$TMP/$_c_name.json"
	(
		child=
		# SIGTERM reaches the try under way, which checks its seat in
		# (if it has one) and exits.
		trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM
		while :; do
			lines=$(wc -l <"$TMP/$_c_name.json")
			"$@" --json --hold 600 stats >>"$TMP/$_c_name.json" \
				2>>"$TMP/$_c_name.err" &
			child=$!
			echo "$child" >"$TMP/$_c_name.child"
			# A denied try would wait its 600 s too: it is
			# stopped as soon as it says so.
			while [ "$(wc -l <"$TMP/$_c_name.json")" -le "$lines" ]; do
				kill -0 "$child" 2>/dev/null || break
				sleep 0.05
			done
			if tail -n 1 "$TMP/$_c_name.json" | grep -q '"granted"'; then
				wait "$child"
				exit 0
			fi
			kill -TERM "$child" 2>/dev/null
			wait "$child"
			sleep 0.2
		done
	) &
	echo $! >"$TMP/$_c_name.pid"
	at_exit "kill -9 \$(cat $TMP/$_c_name.child) $! 2>/dev/null"
}

stop_client()
{
	_sc_pid=$(cat "$TMP/$1.pid")
	kill -TERM "$_sc_pid" 2>/dev/null
	wait "$_sc_pid" 2>/dev/null
	return 0
}

crash_client()
{
	_cc_pid=$(cat "$TMP/$1.pid")
	kill -KILL "$_cc_pid" 2>/dev/null
	wait "$_cc_pid" 2>/dev/null
	# A dead client believes nothing any more.
	echo "{\"t_us\": $(now_us), \"event\": \"killed\"}" >>"$TMP/$1.json"
}

wait_event()
{
	wait_log "$TMP/$1.json" "\"event\": *\"($2)\"" "${3:-20}"
}

judge_lease()
{
	_jl_seats=$1
	shift
	_jl_args=
	_jl_files=
	for _jl_a in "$@"; do
		case $_jl_a in
		--mark) ;;
		*=*) _jl_args="$_jl_args --mark $_jl_a" ;;
		*) _jl_files="$_jl_files $TMP/$_jl_a.json" ;;
		esac
	done
	# shellcheck disable=SC2086 # lists of words
	python3 "$TESTS_SRCDIR/integration/lease_events.py" --seats "$_jl_seats" $_jl_args \
		$_jl_files
}
