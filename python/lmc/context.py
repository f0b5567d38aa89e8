"""Contexts and the seats checked out of them (lmc_open ... lmc_close).

A Context is liblmc's struct lmc_ctx: it finds licenses in local license
files (node-locked lines are honoured with no server) and on license
servers, and keeps server seats held from a background thread that
heartbeats, reconnects and resumes the session.  That thread reports seats
lost and regained through the callbacks registered with on_lost() and
on_regained().

Threads.  Every method may be called from any thread.  Callbacks run on
liblmc's thread: they may check seats in (the checkin is queued) but must
not check out or close the context, which raise InvalidArgument there.
close() waits for the calls under way in other threads to return first,
since liblmc requires lmc_close() to be the last call on a context.

Lifetime.  A context stays open, and its seats held, until close() (or the
end of its with block); contexts still open when the interpreter exits are
closed then, so that their seats go back to the pool at once.  A context is
never closed by the garbage collector: its thread keeps running, and a
close from a finalizer could land on that very thread.
"""

import atexit
import ctypes
import math
import os
import sys
import threading
import traceback

from ._library import (
    CtxPointer,
    LicenseInfoStruct,
    LostCallback,
    Options,
    RegainedCallback,
    lib,
)
from .errors import Error, InvalidArgument, NoHandle, TooLarge, _text

# lmc_open()'s message; liblmc's own messages fit in 512 bytes.
_ERRBUF_SIZE = 1024
# Largest unsigned int: counts and milliseconds are C unsigned.
_UINT_MAX = 0xFFFFFFFF

# Contexts not closed yet: closed when the interpreter exits.
_open_contexts = set()
_open_lock = threading.Lock()

# Per thread: how many lost/regained callbacks of liblmc are running on it.
_callback_state = threading.local()


def _in_callback():
    return getattr(_callback_state, "depth", 0) > 0


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (str, bytes, os.PathLike, tuple)):
        return [value]
    return list(value)


def _server_name(server):
    """ "port@host" from a "port@host" string or a (host, port) pair."""
    if isinstance(server, tuple):
        host, port = server
        host = f"[{host}]" if ":" in host else host
        return f"{int(port)}@{host}"
    if isinstance(server, str):
        return server
    raise TypeError(f"a server is a 'port@host' string or a (host, port) pair, not {server!r}")


def _license_source(servers, license_files):
    """lmc_options.license_source: the license files, then the servers, ','
    separated; None (LM_LICENSE_FILE) when neither is given."""
    entries = []
    for path in _as_list(license_files):
        path = os.fsdecode(path)
        # liblmc separates entries with ',' and ':': a path holding one
        # would be read as two entries.
        if "," in path or ":" in path:
            raise InvalidArgument(
                InvalidArgument.code, f"a license file path cannot contain ',' or ':': {path!r}"
            )
        entries.append(path)
    entries.extend(_server_name(server) for server in _as_list(servers))
    return _c_string(",".join(entries), "license source") if entries else None


def _c_string(value, what):
    """value as a C string; a NUL inside would silently cut it short."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in value:
        raise InvalidArgument(InvalidArgument.code, f"{what} contains a NUL character")
    return value


def _pubkey(pubkey):
    """lmc_options.vendor_pubkey: a path (str or path-like), or PEM text
    (bytes, or a str holding it)."""
    if isinstance(pubkey, os.PathLike):
        pubkey = os.fsencode(pubkey)
    elif isinstance(pubkey, str):
        pubkey = os.fsencode(pubkey)
    return _c_string(pubkey, "pubkey")


def _milliseconds(seconds, what):
    """seconds (int or float, None for 0) as C unsigned milliseconds,
    rounded up so that a short positive time never becomes 0."""
    if seconds is None:
        return 0
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} is a number of seconds, not {seconds!r}")
    if not 0 <= seconds < math.inf:
        raise InvalidArgument(InvalidArgument.code, f"{what} must be >= 0 seconds: {seconds!r}")
    milliseconds = math.ceil(seconds * 1000)
    if milliseconds > _UINT_MAX:
        raise InvalidArgument(InvalidArgument.code, f"{what} is too long: {seconds!r} s")
    return milliseconds


def _report_callback_error(what, handler):
    """Prints the exception a callback raised, in the form Python uses for
    exceptions it cannot raise: liblmc's thread must carry on."""
    try:
        print(f"Exception ignored in lmc {what} callback {handler!r}:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
    except BaseException:
        pass


class Seat:
    """Seats of one feature checked out together: one handle.

    Use it as a context manager to check the seats in at the end of the
    block (an error of that checkin is raised unless the block itself is
    raising, since the seats return anyway when the session ends):

        with ctx.checkout("stats", "29.0") as seat:
            ...

    Attributes:
        context:    the Context it was checked out of
        handle:     liblmc's handle (the server's; offline, node-locked
                    handles have the top bit set)
        feature, version, count: what was asked for (version None: any)
        lost_error: the Error of the last lost event, None while held
    """

    def __init__(self, context, handle, feature, version, count):
        self.context = context
        self.handle = handle
        self.feature = feature
        self.version = version
        self.count = count
        self.lost_error = None
        self._released = False

    @property
    def lost(self):
        """True between a lost event and the regained event that ends it."""
        return self.lost_error is not None

    @property
    def released(self):
        """True once checked in (or once its context is closed)."""
        return self._released

    @property
    def held(self):
        """True while the application holds the seats: neither checked in
        nor reported lost."""
        return not self._released and self.lost_error is None

    def checkin(self):
        """Returns the seats (lmc_checkin).  Waits up to 5 s for a server
        to confirm: TimedOut when it did not yet (liblmc keeps trying, and
        the seats return anyway when the session ends).  The handle is
        spent either way; checking in again does nothing."""
        self.context._checkin(self)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback):
        try:
            self.checkin()
        except Error:
            if exc_type is None:
                raise
        return False

    def __repr__(self):
        state = "released" if self._released else "lost" if self.lost else "held"
        return (
            f"<lmc.Seat {self.feature!r} version={self.version!r} count={self.count} "
            f"handle={self.handle:#x} {state}>"
        )


class LicenseInfo:
    """What the license behind the seats of a feature says
    (lmc_license_info): shown to the user by a careful application.

    Attributes:
        version:       the version of the license line
        expiry:        "2026-12-31", or "permanent"
        days_left:     days until the expiry (0: today), None when permanent
        expires_soon:  True within the server's --expiry-warn-days
        vendor_string: the line's VENDOR_STRING, "" when none
        held:          seats of the feature this context holds
        overdraft:     of those, seats lent beyond the license's count
    """

    def __init__(self, c):
        self.version = _text(c.version)
        self.expiry = _text(c.expiry)
        self.days_left = None if c.days_left < 0 else c.days_left
        self.expires_soon = bool(c.expires_soon)
        self.vendor_string = _text(c.vendor_string)
        self.held = c.held
        self.overdraft = c.overdraft

    def __repr__(self):
        return (
            f"LicenseInfo(version={self.version!r}, expiry={self.expiry!r}, "
            f"days_left={self.days_left!r}, expires_soon={self.expires_soon!r}, "
            f"vendor_string={self.vendor_string!r}, held={self.held}, "
            f"overdraft={self.overdraft})"
        )


class Context:
    """A liblmc context (lmc_open).

    Context(servers=None, *, pubkey, license_files=None, app_version=None,
            heartbeat=None, on_lost=None, on_regained=None)

    servers:       license servers: a "port@host" string ("27000@lic1",
                   "27000@[::1]", or several joined by ','), a
                   (host, port) pair, or a list of either
    pubkey:        the vendor public key: a PEM file path (str or
                   path-like), or the PEM text (bytes or str).  Required.
    license_files: a license file path or a list of them: their
                   node-locked lines are honoured with no server, and
                   their SERVER lines name servers
    app_version:   the application's version, shown by lmstat (at most
                   16 printable characters without spaces)
    heartbeat:     seconds between heartbeats to a server; None: as often
                   as the server asks (used only when shorter than that)
    on_lost, on_regained: callbacks, as on_lost() and on_regained() set

    With neither servers nor license_files, liblmc reads LM_LICENSE_FILE.
    Nothing is sent to a server before the first checkout.  Raises Error
    (its subclass for the code) with liblmc's message when the context
    cannot be opened.  Use it as a context manager to close it at the end
    of the block.
    """

    def __init__(
        self,
        servers=None,
        *,
        pubkey,
        license_files=None,
        app_version=None,
        heartbeat=None,
        on_lost=None,
        on_regained=None,
    ):
        self._ptr = None
        # Guards _ptr, _seats and _busy; never held across a call into
        # liblmc, whose thread may be waiting to run a callback that takes
        # it.
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._seats = {}
        self._lost_handler = on_lost
        self._regained_handler = on_regained

        # The option strings live on self: liblmc reads them in lmc_open.
        self._options = Options(
            vendor_pubkey=_pubkey(pubkey),
            license_source=_license_source(servers, license_files),
            flags=0,
            app_version=None if app_version is None else _c_string(app_version, "app_version"),
            heartbeat_ms=_milliseconds(heartbeat, "heartbeat"),
        )
        errbuf = ctypes.create_string_buffer(_ERRBUF_SIZE)
        ptr = CtxPointer()
        rc = lib.lmc_open(ctypes.byref(ptr), ctypes.byref(self._options), errbuf, len(errbuf))
        if rc != 0:
            raise Error.for_code(rc, _text(errbuf.value) or None)

        # liblmc keeps these function pointers until lmc_close: the ctypes
        # objects behind them must live as long.
        self._lost_trampoline = LostCallback(self._lost_from_c)
        self._regained_trampoline = RegainedCallback(self._regained_from_c)
        rc = lib.lmc_set_callbacks(ptr, self._lost_trampoline, self._regained_trampoline, None)
        if rc != 0:
            lib.lmc_close(ptr)
            raise Error.for_code(rc)
        self._ptr = ptr
        with _open_lock:
            _open_contexts.add(self)

    # ---- checkouts -------------------------------------------------------

    def checkout(self, feature, version=None, count=1, timeout=0):
        """Checks out count seats of feature at version ("29.0"; None: any
        version) and returns their Seat (lmc_checkout).

        A usable node-locked line of a license file answers at once; else
        the servers are asked.  timeout (seconds): 0 makes one try (one
        round of connection attempts when not connected); more lets the
        call wait that long through reconnections and failovers.  Raises
        the Error subclass of the refusal: NoSeats, NoFeature,
        WrongVersion, Expired, NoServer...
        """
        if _in_callback():
            raise InvalidArgument(
                InvalidArgument.code, "checkout() cannot be called from a lost/regained callback"
            )
        feature_c = _c_string(feature, "feature")
        version_c = None if version is None else _c_string(version, "version")
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"count must be an int, not {count!r}")
        if not 1 <= count <= _UINT_MAX:
            raise InvalidArgument(InvalidArgument.code, f"count must be 1 to {_UINT_MAX}: {count}")
        timeout_ms = _milliseconds(timeout, "timeout")

        handle = ctypes.c_uint64()
        with self._in_use() as ptr:
            rc = lib.lmc_checkout(
                ptr, feature_c, version_c, count, timeout_ms, ctypes.byref(handle)
            )
            if rc == InvalidArgument.code:
                # lmc_checkout checks its arguments before it records a
                # reason: lmc_last_error() would be an older failure's.
                raise InvalidArgument(
                    rc,
                    f"invalid checkout: feature {feature!r}, version {version!r}, count {count}",
                )
            if rc != 0:
                raise self._error(ptr, rc)
            # Still counted as under way: a close() waits for the seat to
            # be known, and releases it.
            with self._lock:
                # A lost event may have come first and made the seat.
                seat = self._seats.get(handle.value)
                if seat is None:
                    seat = Seat(self, handle.value, feature, version, count)
                    self._seats[handle.value] = seat
                else:
                    seat.version, seat.count = version, count
        return seat

    def _checkin(self, seat):
        with self._lock:
            if seat._released or self._ptr is None:
                # Checked in already, or the context's close returned it.
                seat._released = True
                return
            seat._released = True
            self._seats.pop(seat.handle, None)
            ptr = self._acquire_locked()
        try:
            rc = lib.lmc_checkin(ptr, seat.handle)
            if rc == NoHandle.code:
                # Refused before liblmc records a reason.
                raise NoHandle(rc, f"this context does not hold handle {seat.handle:#x}")
            if rc != 0:
                raise self._error(ptr, rc)
        finally:
            self._release()

    @property
    def seats(self):
        """The seats checked out and not checked in yet (lost ones too)."""
        with self._lock:
            return [seat for seat in self._seats.values() if not seat._released]

    # ---- callbacks -------------------------------------------------------

    def on_lost(self, handler):
        """Sets the function called as handler(seat, error) when seats are
        no longer held: error is the Error of the code (NoServer or
        NoQuorum when no server confirmed them within the lease, NoSession,
        NoHandle after an lmremove, a refusal when checking them out
        again...) with liblmc's reason as its message; seat.lost is True
        from then on.  None removes it.  Returns handler, so that it can
        decorate a function.

        It runs on liblmc's thread and should return quickly (heartbeats
        wait for it).  It may call seat.checkin(), not checkout() or
        close().  An exception it raises is printed on stderr and ignored.
        """
        self._lost_handler = handler
        return handler

    def on_regained(self, handler):
        """Sets the function called as handler(seat) when lost seats are
        held again (the session resumed, or they were checked out anew);
        never for seats the pool gave to someone else meanwhile.  The same
        rules as on_lost() apply.  Returns handler."""
        self._regained_handler = handler
        return handler

    def _seat_for(self, handle, feature):
        with self._lock:
            seat = self._seats.get(handle)
            if seat is None:
                seat = self._seats[handle] = Seat(self, handle, feature, None, None)
            return seat

    def _lost_from_c(self, _arg, handle, feature, code):
        # Called by liblmc's thread: nothing may propagate out of here.
        _callback_state.depth = getattr(_callback_state, "depth", 0) + 1
        handler = None
        try:
            ptr = self._ptr
            if ptr is None:  # closing: the seats are being returned
                return
            error = Error.for_code(code, _text(lib.lmc_last_error(ptr)) or None)
            seat = self._seat_for(handle, _text(feature))
            seat.lost_error = error
            handler = self._lost_handler
            if handler is not None:
                handler(seat, error)
        except BaseException:
            _report_callback_error("lost", handler)
        finally:
            _callback_state.depth -= 1

    def _regained_from_c(self, _arg, handle, feature):
        _callback_state.depth = getattr(_callback_state, "depth", 0) + 1
        handler = None
        try:
            if self._ptr is None:
                return
            seat = self._seat_for(handle, _text(feature))
            seat.lost_error = None
            handler = self._regained_handler
            if handler is not None:
                handler(seat)
        except BaseException:
            _report_callback_error("regained", handler)
        finally:
            _callback_state.depth -= 1

    # ---- state -----------------------------------------------------------

    def set_idle(self, idle=True):
        """Tells the license servers that the application is idle (or, with
        False, active again), as lmc_set_idle: a TIMEOUT in the
        administrator's options file then takes back seats held while idle
        longer than it allows (on_lost with Idle), and they are checked out
        again once the application is active."""
        with self._in_use() as ptr:
            rc = lib.lmc_set_idle(ptr, 1 if idle else 0)
        if rc != 0:
            raise Error.for_code(rc)

    def set_checkout_data(self, data):
        """Sets the vendor data sent with every later server checkout, as
        lmc_set_checkout_data (FlexLM's vendor-defined checkout data): up
        to 64 printable ASCII characters, None or "" for none.  lmstat
        shows it on the holder's line, and a license line with DUP_GROUP=V
        (or UHDV...) shares one seat among checkouts with the same data.
        Seats already held keep theirs.  Raises InvalidArgument for text
        that breaks the rules (the data in force stays)."""
        data_c = None if data is None else _c_string(data, "checkout data")
        with self._in_use() as ptr:
            rc = lib.lmc_set_checkout_data(ptr, data_c)
            if rc != 0:
                raise self._error(ptr, rc)

    @property
    def server(self):
        """The "port@host" of the server this context is (or was last)
        connected to; None when it never talked to a server."""
        size = 256
        with self._in_use() as ptr:
            while True:
                buf = ctypes.create_string_buffer(size)
                rc = lib.lmc_server(ptr, buf, size)
                if rc == TooLarge.code and size < 65536:
                    size *= 4
                    continue
                if rc != 0:
                    raise Error.for_code(rc)
                return _text(buf.value) or None

    def license_info(self, feature):
        """The LicenseInfo of the seats of feature this context holds
        (lmc_license_info): the line's expiry and VENDOR_STRING, and how
        many of the seats are overdraft seats.  NoFeature when none are
        held."""
        name = _c_string(feature, "feature")
        info = LicenseInfoStruct()
        with self._in_use() as ptr:
            rc = lib.lmc_license_info(ptr, name, ctypes.byref(info))
            if rc != 0:
                raise self._error(ptr, rc)
        return LicenseInfo(info)

    @property
    def last_error(self):
        """liblmc's reason for the last failure on this context
        (lmc_last_error), shared by every thread using it."""
        with self._in_use() as ptr:
            return _text(lib.lmc_last_error(ptr))

    @property
    def closed(self):
        return self._ptr is None

    def _error(self, ptr, code):
        return Error.for_code(code, _text(lib.lmc_last_error(ptr)) or None)

    def _in_use(self):
        return _InUse(self)

    def _acquire_locked(self):
        """Counts a call into liblmc under way, so that close() waits for
        it (self._lock held); InvalidArgument when the context is closed."""
        if self._ptr is None:
            raise InvalidArgument(InvalidArgument.code, "the context is closed")
        self._busy += 1
        return self._ptr

    def _release(self):
        with self._lock:
            self._busy -= 1
            if self._busy == 0:
                self._idle.notify_all()

    # ---- closing ---------------------------------------------------------

    def close(self):
        """Closes the context (lmc_close): every seat still held goes back
        to the pool at once (liblmc waits about 2 s at most for the
        server).  Waits first for calls under way in other threads.  Once
        it has begun no callback runs.  Closing again does nothing."""
        if _in_callback():
            raise InvalidArgument(
                InvalidArgument.code, "close() cannot be called from a lost/regained callback"
            )
        with self._lock:
            ptr, self._ptr = self._ptr, None
            if ptr is None:
                return
            while self._busy:
                self._idle.wait()
            seats = list(self._seats.values())
            self._seats.clear()
        lib.lmc_close(ptr)
        for seat in seats:
            seat._released = True
        with _open_lock:
            _open_contexts.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_traceback):
        self.close()
        return False

    def __repr__(self):
        return f"<lmc.Context {'closed' if self.closed else 'open'} seats={len(self.seats)}>"


class _InUse:
    """A call into liblmc under way, for a with statement: its value is the
    context's pointer; InvalidArgument when the context is closed."""

    def __init__(self, context):
        self._context = context

    def __enter__(self):
        with self._context._lock:
            return self._context._acquire_locked()

    def __exit__(self, *exc):
        self._context._release()
        return False


@atexit.register
def _close_open_contexts():
    with _open_lock:
        contexts = list(_open_contexts)
    for context in contexts:
        try:
            context.close()
        except Exception:
            pass
