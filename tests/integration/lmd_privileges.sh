#!/bin/sh
# Least privilege: started as root, lmd refuses to stay root unless told;
# with --user it reads its license as root, then serves as that user, and
# everything it writes in its data directory belongs to the user.  Wrong
# --user settings are refused before anything is written.
. "$TESTS_SRCDIR/integration/lib.sh"
. "$TESTS_SRCDIR/integration/server_lib.sh"
need_test_hooks
[ "$(id -u)" = 0 ] || skip "needs root to start lmd as root"
need_cmd setpriv
getent passwd nobody >/dev/null || skip "no user nobody"

single_server "FEATURE stats acme 29.0 permanent 2"
# nobody must reach the data directory and the simulated machine below $TMP.
chmod 755 "$TMP"
lmd_args() { echo -c "$TMP/server.lic" --pubkey "$TMP/vendor.pub" --listen 127.0.0.1 \
	--peer-port "$(free_port)"; }

note "as root without --user or --allow-root, lmd refuses to start"
expect_status 2 env -u LMD_ALLOW_ROOT LM_HOSTID_ROOT="$TMP/m1" "$LMD" $(lmd_args) \
	--data "$TMP/refused"
expect_grep 'refusing to run as root: give --user NAME' "$TMP/err"
[ -e "$TMP/refused" ] && fail "a refused lmd made its data directory"

note "with --user nobody it serves as nobody, and its files are nobody's"
env -u LMD_ALLOW_ROOT LM_HOSTID_ROOT="$TMP/m1" "$LMD" $(lmd_args) --data "$TMP/d" \
	--user nobody >"$TMP/lmd.log" 2>&1 &
pid=$!
at_exit "kill -9 $pid 2>/dev/null"
wait_port "$port"
wait_log "$TMP/lmd.log" ' license serving'
expect_status 0 "$LMUTIL" checkout -c "$S" --pubkey "$TMP/vendor.pub" stats --hold 0
# Real, effective, saved and file-system ids all nobody's; no group 0.
uid=$(id -u nobody)
awk -v u="$uid" '/^Uid:/ { exit !($2 == u && $3 == u && $4 == u && $5 == u) }' \
	"/proc/$pid/status" || fail "lmd runs as $(grep '^Uid:' "/proc/$pid/status")"
awk '/^(Gid|Groups):/ { for (i = 2; i <= NF; i++) if ($i == 0) exit 1 }' "/proc/$pid/status" ||
	fail "lmd kept root's group: $(grep -E '^(Gid|Groups):' "/proc/$pid/status")"
[ -z "$(find "$TMP/d" ! -user nobody)" ] ||
	fail "files in the data directory not owned by nobody: $(find "$TMP/d" ! -user nobody)"
[ "$(stat -c %a "$TMP/d")" = 700 ] || fail "data directory mode $(stat -c %a "$TMP/d")"
note "lmreread, run as nobody, still reads the license"
expect_status 0 "$LMUTIL" lmreread -c "$S"
kill -TERM "$pid"
wait "$pid" 2>/dev/null

note "a data directory of another user is refused with the command that fixes it"
mkdir "$TMP/rootdir"
expect_status 1 env -u LMD_ALLOW_ROOT LM_HOSTID_ROOT="$TMP/m1" "$LMD" $(lmd_args) \
	--data "$TMP/rootdir" --user nobody
expect_grep "belongs to uid 0, not to --user nobody .*chown -R nobody $TMP/rootdir" "$TMP/err"
[ -z "$(ls -A "$TMP/rootdir")" ] || fail "a refused lmd wrote into $TMP/rootdir"

note "no such user, root itself, and a port below 1024 are refused"
expect_status 1 env -u LMD_ALLOW_ROOT LM_HOSTID_ROOT="$TMP/m1" "$LMD" $(lmd_args) \
	--data "$TMP/x" --user no-such-user-here
expect_grep '--user no-such-user-here: no such user' "$TMP/err"
expect_status 1 env -u LMD_ALLOW_ROOT LM_HOSTID_ROOT="$TMP/m1" "$LMD" $(lmd_args) \
	--data "$TMP/x" --user root
expect_grep '--user root is root' "$TMP/err"
expect_status 1 env -u LMD_ALLOW_ROOT LM_HOSTID_ROOT="$TMP/m1" "$LMD" $(lmd_args) \
	--data "$TMP/x" --user nobody --http 127.0.0.1:700
expect_grep 'port 700 is below 1024' "$TMP/err"
[ -e "$TMP/x" ] && fail "a refused lmd made its data directory"

note "not root, --user is refused: lmd cannot become another user"
expect_status 2 setpriv --reuid=nobody --regid=nogroup --clear-groups env \
	LM_HOSTID_ROOT="$TMP/m1" "$LMD" $(lmd_args) --data "$TMP/y" --user daemon
expect_grep 'lmd is not root .* cannot become another user' "$TMP/err"
