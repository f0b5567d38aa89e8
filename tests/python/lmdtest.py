"""Helpers of the Python binding's tests: vendor keys, signed licenses and
real lmd processes on loopback, made with the project's own tools.

tests/python/run.sh (the automake test) sets the environment: LMD, LMUTIL,
LMVENDOR and TESTS_SRCDIR as for the shell integration tests, LMC_LIBRARY
(the built liblmc) and PYTHONPATH (python/).  The steps are those of
tests/integration/server_lib.sh, redone in Python:

- vendor keys from `lmvendor keygen`, licenses from `lmvendor sign`;
- with a test-hooks build, each server runs as a simulated machine
  (LM_HOSTID_ROOT) whose lock code its SERVER line carries; without one,
  as this machine, with this machine's lock code;
- lmd on 127.0.0.1, on a free port below the kernel's ephemeral range.
"""

import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest


def _tool(name):
    path = os.environ.get(name)
    if not path:
        pytest.skip(f"{name} is not set: run through `make check` (tests/python/run.sh)")
    return path


LMD = os.environ.get("LMD", "")
LMUTIL = os.environ.get("LMUTIL", "")
LMVENDOR = os.environ.get("LMVENDOR", "")
TESTS_SRCDIR = Path(os.environ.get("TESTS_SRCDIR", Path(__file__).resolve().parents[1]))
TOP_SRCDIR = TESTS_SRCDIR.parent


def child_env(**extra):
    """The environment of the project's programs started by a test: run.sh
    preloads the ASan runtime and turns leak detection off for the
    interpreter only; lmd and the tools get back what make check gave."""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "ASAN_OPTIONS"):
        saved = env.pop(f"LMC_TEST_SAVED_{name}", None)
        if saved is None:
            continue
        if saved:
            env[name] = saved
        else:
            env.pop(name, None)
    env.pop("LM_HOSTID_ROOT", None)
    env.pop("LM_LICENSE_FILE", None)
    env.update(extra)
    return env


def run_tool(*args, check=True, env=None):
    """Runs one of the project's programs; its CompletedProcess (text)."""
    done = subprocess.run(
        [str(arg) for arg in args],
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def test_hooks():
    """True when the build honours LM_HOSTID_ROOT (--enable-test-hooks)."""
    return "test hooks" in run_tool(_tool("LMUTIL"), "--version").stdout


_ports_given = set()


def free_port():
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range: one
    from that range is free now but can become an outgoing connection's
    source port while a server is down, and its restart then fails.  A port
    is free only until someone binds it: none is handed out twice."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low = int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(1000):
        port = random.randint(10000, max(10001, low - 1))
        if port in _ports_given:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port")


def make_machine(root, number):
    """Lays out under root the files of a simulated machine, as
    make_server_machine does in server_lib.sh (tests/integration/lib.sh,
    make_machine, documents the layout); returns its lock code."""
    root = Path(root)
    (root / "etc").mkdir(parents=True)
    (root / "etc/machine-id").write_text(f"{number:032d}\n")
    for index, mac in enumerate([f"52:54:00:00:00:{number:02x}", "52:54:00:ab:cd:ef"]):
        interface = root / f"sys/class/net/eth{index}"
        (interface / "device").mkdir(parents=True)
        (interface / "address").write_text(mac + "\n")
        (interface / "device/uevent").write_text("DRIVER=e1000\n")
    (root / "sys/class/net/lo").mkdir(parents=True)
    (root / "sys/class/net/lo/address").write_text("00:00:00:00:00:00\n")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/hostname").write_text(f"server{number}\n")
    cpu = "".join(
        f"processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU {number}\n\n"
        for i in range(2)
    )
    (root / "proc/cpuinfo").write_text(cpu)
    return last_word(run_tool(_tool("LMUTIL"), "lmhostid", "--root", root).stdout)


def last_word(text):
    return text.strip().splitlines()[-1].split()[-1]


class Vendor:
    """A vendor's key pair, and licenses signed with it."""

    def __init__(self, directory, name="vendor"):
        self.directory = Path(directory)
        self.private = self.directory / f"{name}.pem"
        self.public = self.directory / f"{name}.pub"
        run_tool(_tool("LMVENDOR"), "keygen", self.private, self.public)

    def sign(self, lines, path):
        """Signs the license lines (a list of str) into path."""
        path = Path(path)
        template = path.with_suffix(".template")
        template.write_text("\n".join(lines) + "\n")
        path.write_text(run_tool(_tool("LMVENDOR"), "sign", "--key", self.private, template).stdout)
        return path


class Machine:
    """Where a server or a node-locked application runs: a simulated
    machine (its LM_HOSTID_ROOT) in a test-hooks build, else this one."""

    def __init__(self, directory, number):
        if test_hooks():
            self.root = Path(directory) / f"m{number}"
            self.lock_code = make_machine(self.root, number)
            self.env = {"LM_HOSTID_ROOT": str(self.root)}
        else:
            self.root = None
            self.lock_code = last_word(run_tool(_tool("LMUTIL"), "lmhostid").stdout)
            self.env = {}


class Server:
    """One lmd on 127.0.0.1 serving a license signed by vendor:
    address is its "port@127.0.0.1"."""

    def __init__(
        self,
        directory,
        vendor,
        features,
        session_timeout_ms=30000,
        heartbeat_ms=1000,
        options=None,
        args=(),
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.vendor = vendor
        self.machine = Machine(self.directory, 1)
        self.port = free_port()
        self.peer_port = free_port()
        self.address = f"{self.port}@127.0.0.1"
        self.license = vendor.sign(
            [f"SERVER 127.0.0.1 {self.machine.lock_code} {self.port}", "VENDOR acme", *features],
            self.directory / "server.lic",
        )
        self.data = self.directory / "data"
        self.log = self.directory / "lmd.log"
        self.args = [
            "--session-timeout",
            str(session_timeout_ms),
            "--heartbeat",
            str(heartbeat_ms),
            *args,
        ]
        if options is not None:
            (self.directory / "acme.opt").write_text(options)
            self.args += ["--options", str(self.directory / "acme.opt")]
        self.process = None

    def start(self, timeout=30):
        """Starts lmd and waits until it serves its license."""
        # Ready once it leads (every start) and serves the license (logged
        # once, when the license is first committed to its data).
        leading = self._log_text().count(" leader serving clients")
        log = open(self.log, "a")
        self.process = subprocess.Popen(
            [
                _tool("LMD"),
                "-c",
                str(self.license),
                "--pubkey",
                str(self.vendor.public),
                "--data",
                str(self.data),
                "--listen",
                "127.0.0.1",
                "--peer-port",
                str(self.peer_port),
                *self.args,
            ],
            env=child_env(**self.machine.env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self._ready(leading):
            if self.process.poll() is not None:
                raise AssertionError(f"lmd exited {self.process.returncode}:\n{self._log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"lmd did not start serving:\n{self._log_text()}")
            time.sleep(0.05)
        return self

    def _ready(self, leading):
        log = self._log_text()
        return log.count(" leader serving clients") > leading and " license serving" in log

    def kill(self, sig=signal.SIGKILL):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def in_use(self, feature="stats"):
        """Seats of feature in use, as `lmutil lmstat --json` shows."""
        status = json.loads(
            run_tool(_tool("LMUTIL"), "lmstat", "-c", self.address, "-f", feature, "--json").stdout
        )
        return sum(entry["in_use"] for entry in status["features"] if entry["name"] == feature)

    def _log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def wait_for(predicate, timeout, what):
    """Polls predicate until it is true; fails naming what was awaited."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
