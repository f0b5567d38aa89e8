"""The Python binding (python/lmc) against real lmd processes: checkouts,
context managers, the exceptions of the stable codes, lost and regained
callbacks, node-locked licenses and the lock code."""

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import lmc
from lmdtest import (
    TOP_SRCDIR,
    Machine,
    Vendor,
    free_port,
    last_word,
    make_machine,
    run_tool,
    wait_for,
)


# ---- codes and messages ----------------------------------------------------


def lmc_h_codes():
    """Every LMC_E* of enum lmc_error, with its value: core/error.h defines
    them, and the installed lmc.h carries that file within it."""
    header = (TOP_SRCDIR / "core/error.h").read_text()
    codes = dict(
        (name, int(value)) for name, value in re.findall(r"\b(LMC_E\w+) = (-\d+),", header)
    )
    lowest = int(re.search(r"#define LMC_ERROR_MIN \((-\d+)\)", header).group(1))
    assert sorted(codes.values()) == list(range(lowest, 0)), codes
    return codes


def test_every_code_of_lmc_h_has_its_exception():
    for name, code in lmc_h_codes().items():
        error = lmc.Error.for_code(code)
        assert type(error) is not lmc.Error, f"{name} has no subclass of lmc.Error"
        assert type(error).code == code and error.code == code
        assert error.name == name == lmc.errname(code)
        assert error.message == error.strerror == lmc.strerror(code)
        assert error.hint == lmc.errhint(code) and error.hint
        assert str(error) == f"{error.strerror} ({name})"


def test_an_unknown_code_is_an_error():
    error = lmc.Error.for_code(-1000, "from a newer liblmc")
    assert type(error) is lmc.Error
    assert error.code == -1000 and error.message == "from a newer liblmc"


def test_messages_and_hints():
    assert lmc.strerror(lmc.NoSeats.code) == "all seats in use"
    assert lmc.errname(-13) == "LMC_ENOSEATS"
    assert "lmstat" in lmc.errhint(lmc.NoSeats.code)
    assert issubclass(lmc.InvalidArgument, ValueError)


def test_versions():
    # The binding is released with lmd: the version configure.ac names.
    lmutil_version = run_tool(os.environ["LMUTIL"], "--version").stdout.splitlines()[0]
    assert re.search(r"\b\d+\.\d+\.\d+\b", lmutil_version).group() == lmc.__version__
    assert Path(lmc.library_path).name.startswith("liblmc.so.0")
    assert re.fullmatch(r"0\.\d+\.\d+", lmc.library_version())


def test_a_missing_library_is_a_clear_import_error(tmp_path):
    env = dict(os.environ, LMC_LIBRARY=str(tmp_path / "liblmc.so.0"))
    done = subprocess.run(
        [sys.executable, "-c", "import lmc"], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "ImportError: lmc: cannot load liblmc, tried: " + str(tmp_path) in done.stderr
    assert "LMC_LIBRARY" in done.stderr


def test_a_sanitizer_build_without_its_runtime_is_a_clear_import_error():
    if "asan" not in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("liblmc was built without AddressSanitizer")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    done = subprocess.run(
        [sys.executable, "-c", "import lmc"], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "was built with AddressSanitizer" in done.stderr and "LD_PRELOAD" in done.stderr


# ---- lock codes ------------------------------------------------------------

LOCK_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{1,4})+")


def test_lock_code_is_what_lmhostid_prints():
    code = lmc.lock_code()
    assert LOCK_CODE.fullmatch(code), code
    assert code == last_word(run_tool(os.environ["LMUTIL"], "lmhostid").stdout)


def test_lock_code_of_a_simulated_machine(tmp_path, monkeypatch):
    machine = Machine(tmp_path, 7)
    if machine.root is None:
        pytest.skip("needs a build configured with --enable-test-hooks")
    monkeypatch.setenv("LM_HOSTID_ROOT", str(machine.root))
    assert lmc.lock_code() == machine.lock_code
    monkeypatch.delenv("LM_HOSTID_ROOT")
    assert lmc.lock_code() != machine.lock_code


# ---- checkouts from a server -----------------------------------------------


def test_checkout_and_checkin(server, vendor):
    with lmc.Context(server.address, pubkey=vendor.public, app_version="29.0.1") as ctx:
        seat = ctx.checkout("stats", "29.0")
        assert seat.held and not seat.lost and not seat.released
        assert (seat.feature, seat.version, seat.count) == ("stats", "29.0", 1)
        assert seat.handle > 0 and ctx.seats == [seat]
        assert ctx.server == server.address
        assert server.in_use() == 1
        seat.checkin()
        assert seat.released and not seat.held and ctx.seats == []
        assert server.in_use() == 0
        seat.checkin()  # a second checkin does nothing


def test_servers_as_pairs_and_pem_text(server, vendor):
    pem = vendor.public.read_bytes()
    with lmc.Context([("127.0.0.1", server.port)], pubkey=pem) as ctx:
        with ctx.checkout("stats", count=2) as seat:
            assert seat.version is None and seat.count == 2
            assert server.in_use() == 2


def test_context_managers_release_seats(server, vendor):
    with lmc.Context(server.address, pubkey=vendor.public) as ctx:
        with ctx.checkout("stats", "29.0", count=2) as seat:
            assert server.in_use() == 2
        assert seat.released and server.in_use() == 0
        # Seats still held when the context closes go back at once.
        kept = ctx.checkout("stats", "29.0")
        assert server.in_use() == 1
    assert ctx.closed and kept.released
    assert server.in_use() == 0
    with pytest.raises(lmc.InvalidArgument, match="closed"):
        ctx.checkout("stats")
    ctx.close()  # closing again does nothing


def test_a_seat_block_that_raises_still_checks_in(server, vendor):
    with lmc.Context(server.address, pubkey=vendor.public) as ctx:
        with pytest.raises(KeyError):
            with ctx.checkout("stats"):
                raise KeyError("the application failed")
        assert server.in_use() == 0


def test_threads_share_a_context(server, vendor):
    # Four threads race for the two seats through one context: liblmc is
    # called without the GIL, and exactly two are granted.
    results = queue.Queue()
    start = threading.Barrier(4)

    def race(ctx):
        start.wait()
        try:
            results.put(ctx.checkout("stats", "29.0"))
        except lmc.Error as error:
            results.put(error)

    with lmc.Context(server.address, pubkey=vendor.public) as ctx:
        threads = [threading.Thread(target=race, args=(ctx,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes = [results.get_nowait() for _ in range(4)]
        seats = [outcome for outcome in outcomes if isinstance(outcome, lmc.Seat)]
        assert len(seats) == 2 and len({seat.handle for seat in seats}) == 2, outcomes
        assert all(isinstance(o, lmc.NoSeats) for o in outcomes if o not in seats), outcomes
        assert server.in_use() == 2
    assert server.in_use() == 0


def test_contexts_left_open_are_closed_at_exit(server, vendor):
    # lmd would keep the seat of a connection closed without a checkin for
    # --reclaim-after (5 s): at once means the context was closed.
    program = f"""
import lmc
ctx = lmc.Context({server.address!r}, pubkey={str(vendor.public)!r})
print(ctx.checkout("stats").handle, flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
    assert server.in_use() == 0


def test_denials_raise_their_exception(start_server, vendor):
    server = start_server(["FEATURE stats acme 29.0 permanent 1"])
    with lmc.Context(server.address, pubkey=vendor.public) as holder, lmc.Context(
        server.address, pubkey=vendor.public
    ) as other:
        with holder.checkout("stats", "29.0"):
            with pytest.raises(lmc.NoSeats) as denied:
                other.checkout("stats", "29.0")
            error = denied.value
            assert isinstance(error, lmc.Error)
            assert error.code == -13 == lmc.NoSeats.code
            assert error.name == "LMC_ENOSEATS"
            assert error.message and error.hint == lmc.errhint(-13)
            assert other.last_error == error.message
        with pytest.raises(lmc.NoFeature):
            other.checkout("plot")
        with pytest.raises(lmc.WrongVersion):
            other.checkout("stats", "30.0")
        with pytest.raises(lmc.InvalidArgument):
            other.checkout("stats", count=0)
        assert server.in_use() == 0


def test_checkout_data_shares_a_dup_group_v_seat(start_server, vendor):
    # DUP_GROUP=V: two contexts whose checkouts carry the same vendor data
    # share the one seat; other data is denied; lmstat shows the data.
    server = start_server(["FEATURE solver acme 1.0 permanent 1 DUP_GROUP=V"])
    with lmc.Context(server.address, pubkey=vendor.public) as first, lmc.Context(
        server.address, pubkey=vendor.public
    ) as second:
        first.set_checkout_data("job 7")
        second.set_checkout_data(b"job 7")
        with first.checkout("solver"), second.checkout("solver"):
            assert server.in_use("solver") == 1
            status = json.loads(
                run_tool(
                    os.environ["LMUTIL"], "lmstat", "-c", server.address, "-a", "--json"
                ).stdout
            )
            holders = [h for f in status["features"] if f["name"] == "solver" for h in f["holders"]]
            assert [(h["vendor_data"], h["sharers"]) for h in holders] == [("job 7", 2)] * 2
            second.set_checkout_data("job 8")
            with pytest.raises(lmc.NoSeats):
                second.checkout("solver")
        assert server.in_use("solver") == 0
        # Refused, naming the rule; the data in force stays.
        with pytest.raises(lmc.InvalidArgument, match="at most 64 printable"):
            first.set_checkout_data("x" * 65)
        with pytest.raises(lmc.InvalidArgument):
            first.set_checkout_data("job\t7")
        with pytest.raises(lmc.InvalidArgument):
            first.set_checkout_data("job\0")
        first.set_checkout_data(None)


def test_no_server_listening_raises_no_server(vendor):
    with lmc.Context(f"{free_port()}@127.0.0.1", pubkey=vendor.public) as ctx:
        with pytest.raises(lmc.NoServer) as denied:
            ctx.checkout("stats", "29.0")
        assert denied.value.code == lmc.NoServer.code
        # With a timeout it keeps trying that long, then says why.
        began = time.monotonic()
        with pytest.raises((lmc.NoServer, lmc.TimedOut)):
            ctx.checkout("stats", "29.0", timeout=0.5)
        assert time.monotonic() - began >= 0.5


def test_another_vendors_server_is_refused(server, tmp_path):
    other = Vendor(tmp_path, "other")
    with lmc.Context(server.address, pubkey=other.public) as ctx:
        with pytest.raises(lmc.BadSignature):
            ctx.checkout("stats", "29.0")
    assert server.in_use() == 0


def test_open_errors_carry_liblmc_message(vendor, tmp_path):
    with pytest.raises(lmc.Error) as failed:
        lmc.Context("27000@127.0.0.1", pubkey=tmp_path / "missing.pem")
    assert "missing.pem" in failed.value.message
    with pytest.raises(lmc.InvalidArgument, match="app_version"):
        lmc.Context("27000@127.0.0.1", pubkey=vendor.public, app_version="has spaces")
    with pytest.raises(lmc.InvalidArgument):
        lmc.Context(license_files=["a:b.lic"], pubkey=vendor.public)


# ---- lost and regained -----------------------------------------------------


def test_lost_then_regained_when_the_server_restarts(start_server, vendor, capfd):
    # The clients' lease is the session timeout less two election timeouts
    # and a tenth: 1.2 s here, so a server down that long costs the seat.
    server = start_server(
        ["FEATURE stats acme 29.0 permanent 2"], session_timeout_ms=3000, heartbeat_ms=300
    )
    events = queue.Queue()
    refused_in_callback = []

    def lost(seat, error):
        # What a callback may not do is refused, not done.
        for forbidden in (lambda: seat.context.checkout("stats"), seat.context.close):
            try:
                forbidden()
            except lmc.InvalidArgument as refused:
                refused_in_callback.append(refused)
        events.put(("lost", seat, error, threading.current_thread()))
        # An exception escaping a callback is reported, never raised into C.
        raise RuntimeError("a careless callback")

    def regained(seat):
        events.put(("regained", seat, None, threading.current_thread()))

    with lmc.Context(
        server.address, pubkey=vendor.public, on_lost=lost, on_regained=regained
    ) as ctx:
        seat = ctx.checkout("stats", "29.0")
        server.kill()
        kind, lost_seat, error, thread = events.get(timeout=20)
        assert kind == "lost" and lost_seat is seat
        assert isinstance(error, (lmc.NoServer, lmc.NoQuorum)), error
        assert error.message  # liblmc's reason: the lease ran out
        assert thread is not threading.main_thread()
        assert seat.lost and seat.lost_error is error and not seat.held
        assert len(refused_in_callback) == 2

        server.start()
        kind, regained_seat, _, _ = events.get(timeout=30)
        assert kind == "regained" and regained_seat is seat
        assert seat.held and not seat.lost
        wait_for(lambda: server.in_use() == 1, 10, "the regained seat in lmstat")
        seat.checkin()
        assert server.in_use() == 0
    assert events.empty()
    assert "Exception ignored in lmc lost callback" in capfd.readouterr().err


def test_callbacks_set_by_method_replace_earlier_ones(server, vendor):
    with lmc.Context(server.address, pubkey=vendor.public, on_lost=print) as ctx:

        @ctx.on_lost
        def lost(seat, error):
            pass

        assert ctx._lost_handler is lost
        assert ctx.on_regained(None) is None


# ---- idle seats (TIMEOUT) --------------------------------------------------


def test_idle_timeout_takes_seats_back_and_regains_them(start_server, vendor):
    # TIMEOUT stats 2 (below FlexLM's 900 s minimum: lmd --timeout-min 1
    # lowers it); plot has no TIMEOUT, so its seat stays however idle.
    server = start_server(
        ["FEATURE stats acme 29.0 permanent 1", "FEATURE plot acme 1.0 permanent 1"],
        heartbeat_ms=300,
        options="TIMEOUT stats 2\n",
        args=("--timeout-min", "1"),
    )
    events = queue.Queue()
    with lmc.Context(
        server.address,
        pubkey=vendor.public,
        on_lost=lambda seat, error: events.put(("lost", seat, error)),
        on_regained=lambda seat: events.put(("regained", seat, None)),
    ) as ctx:
        stats = ctx.checkout("stats", "29.0")
        plot = ctx.checkout("plot", "1.0")
        # Active: nothing is taken, however long the TIMEOUT has passed.
        time.sleep(3)
        assert events.empty() and server.in_use() == 1

        ctx.set_idle()
        kind, seat, error = events.get(timeout=20)
        assert (kind, seat) == ("lost", stats), (kind, seat, error)
        assert isinstance(error, lmc.Idle), error
        assert "idle" in error.message
        assert server.in_use() == 0 and server.in_use("plot") == 1
        assert plot.held
        assert "returned 1 seats of stats: idle" in server._log_text()

        # Free for someone else meanwhile; while idle, no regain is tried.
        with lmc.Context(server.address, pubkey=vendor.public) as other:
            taken = other.checkout("stats", "29.0")
            time.sleep(1)
            assert events.empty()
            # Active again: the regain meets a pool with no seat left.
            ctx.set_idle(False)
            kind, seat, error = events.get(timeout=20)
            assert (kind, seat) == ("lost", stats) and isinstance(error, lmc.NoSeats), error
            taken.checkin()

        # Idle and active again with the seat free: it comes back.
        stats = ctx.checkout("stats", "29.0")
        ctx.set_idle(True)
        assert events.get(timeout=20)[:2] == ("lost", stats)
        ctx.set_idle(False)
        assert events.get(timeout=20)[:2] == ("regained", stats)
        assert stats.held
        wait_for(lambda: server.in_use() == 1, 10, "the regained seat in lmstat")
        assert plot.held and events.empty()


# ---- node-locked licenses --------------------------------------------------


def test_node_locked_license_needs_no_server(vendor, tmp_path, monkeypatch):
    here = Machine(tmp_path, 3)
    elsewhere = Machine(tmp_path / "other", 4)
    if here.root is not None:
        monkeypatch.setenv("LM_HOSTID_ROOT", str(here.root))
    if elsewhere.root is None:
        # Without test hooks: another machine's code, from lmhostid --root.
        other_root = tmp_path / "other" / "m4"
        elsewhere.lock_code = make_machine(other_root, 4)
    license = vendor.sign(
        [
            "VENDOR acme",
            f"FEATURE stats acme 29.0 permanent uncounted HOSTID={here.lock_code}",
            "FEATURE old acme 1.0 2020-01-01 uncounted HOSTID=" + here.lock_code,
            f"FEATURE roaming acme 1.0 permanent uncounted HOSTID={elsewhere.lock_code}",
        ],
        tmp_path / "node.lic",
    )
    with lmc.Context(license_files=license, pubkey=vendor.public) as ctx:
        with ctx.checkout("stats", "29.0") as seat:
            assert seat.handle & (1 << 63)  # offline handles have the top bit
            assert ctx.server is None
        with pytest.raises(lmc.Expired):
            ctx.checkout("old")
        with pytest.raises(lmc.WrongHost):
            ctx.checkout("roaming")
        with pytest.raises(lmc.WrongVersion):
            ctx.checkout("stats", "30.0")


# ---- the README's example --------------------------------------------------

EXAMPLE = TOP_SRCDIR / "python/examples/stats.py"


def test_the_readme_shows_the_example_verbatim():
    """The block after the marker, as tests/integration/install.sh checks
    the C example's."""
    readme = (TOP_SRCDIR / "README.md").read_text()
    marker = "<!-- example: python/examples/stats.py -->\n```python\n"
    assert marker in readme
    start = readme.index(marker) + len(marker)
    assert readme[start : readme.index("```\n", start)] == EXAMPLE.read_text()


def test_the_readme_example_runs(start_server, vendor, tmp_path):
    server = start_server(["FEATURE stats acme 29.0 permanent 1"])
    shutil.copy(vendor.public, tmp_path / "vendor-public.pem")
    # The example is a Python program like the tests: it keeps their
    # environment (the ASan runtime preloaded), not the tools'.
    env = dict(os.environ, LM_LICENSE_FILE=server.address)

    def example():
        return subprocess.run(
            [sys.executable, str(EXAMPLE)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = example()
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"running with seat \d+ from {server.address}\n", done.stdout)
    with lmc.Context(server.address, pubkey=vendor.public) as holder:
        with holder.checkout("stats"):
            done = example()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("no seat: "), done.stdout
    assert "(LMC_ENOSEATS)" in done.stdout and "lmstat" in done.stdout
    assert server.in_use() == 0
