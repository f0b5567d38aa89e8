# Helpers for the tests of lmd --http (source after lib.sh).
#
#   need_prometheus          skip unless a python3 has Debian's
#                            python3-prometheus-client; sets $promptool
#   scrape URL CONDITION [SECONDS]
#                            read URL/metrics with its parser until
#                            CONDITION holds (http_scrape.py)

need_prometheus()
{
	# The first interpreter with the parser: a python3 earlier on PATH
	# (pyenv, a virtualenv) may lack it.
	promptool=
	for _np_python in python3 /usr/bin/python3; do
		if "$_np_python" -c 'import prometheus_client.parser' >/dev/null 2>&1; then
			promptool=$_np_python
			return 0
		fi
	done
	skip "python3-prometheus-client is not installed"
}

scrape()
{
	_sc_url=$1
	shift
	"$promptool" "$TESTS_SRCDIR/integration/http_scrape.py" "$_sc_url/metrics" "$@"
}
