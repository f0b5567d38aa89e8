"""The exceptions of liblmc's stable error codes (enum lmc_error in lmc.h).

Every failure of liblmc is a negative code that never changes meaning; it
travels on the wire and appears in lmd's logs.  Each code has a subclass of
Error, so that an application catches what it can act on:

    try:
        seat = ctx.checkout("stats", "29.0")
    except lmc.NoSeats as error:
        print(error.message, "-", error.hint)
"""

from ._library import lib


def _text(raw):
    return raw.decode("utf-8", "replace") if raw is not None else ""


def strerror(code):
    """A one-line description of an lmc error code ("all seats in use")."""
    return _text(lib.lmc_strerror(code))


def errhint(code):
    """What a user or an administrator can do about an lmc error code."""
    return _text(lib.lmc_errhint(code))


def errname(code):
    """The symbolic name of an lmc error code ("LMC_ENOSEATS")."""
    return _text(lib.lmc_errname(code))


class Error(Exception):
    """A failure reported by liblmc.

    Attributes:
        code:     the stable negative integer (LMC_E* in lmc.h)
        name:     its symbolic name, "LMC_ENOSEATS"
        message:  the precise reason (lmc_last_error(), or lmc_open()'s
                  message), else the code's one-line description
        strerror: the code's one-line description (lmc_strerror())
        hint:     what to do about it (lmc_errhint())

    Subclasses carry their code as a class attribute too (NoSeats.code),
    and Error.for_code() picks the subclass of a code.
    """

    code = None

    def __init__(self, code, message=None):
        super().__init__(code, message)
        self.code = code
        self.name = errname(code)
        self.strerror = strerror(code)
        self.message = message or self.strerror
        self.hint = errhint(code)

    def __str__(self):
        return f"{self.message} ({self.name})"

    @staticmethod
    def for_code(code, message=None):
        """The exception for code: its subclass, or Error itself for a code
        this binding does not know (a newer liblmc)."""
        return _BY_CODE.get(code, Error)(code, message)


class NoFeature(Error):
    """No license line for this feature (LMC_ENOFEATURE)."""

    code = -1


class Expired(Error):
    """Every matching license has expired (LMC_EEXPIRED)."""

    code = -2


class NotStarted(Error):
    """The license's START date is in the future (LMC_ENOTSTARTED)."""

    code = -3


class WrongVersion(Error):
    """The requested version is newer than licensed (LMC_EVERSION)."""

    code = -4


class WrongHost(Error):
    """The license is bound to another machine's lock code (LMC_EWRONGHOST)."""

    code = -5


class BadSignature(Error):
    """A signature is missing or does not verify (LMC_EBADSIG)."""

    code = -6


class BadCode(Error):
    """A lock code or authorization code is mistyped (LMC_EBADCODE)."""

    code = -7


class LicenseSyntax(Error):
    """A license file has a syntax error (LMC_ESYNTAX)."""

    code = -8


class BadKey(Error):
    """The vendor public or private key is unusable (LMC_EKEY)."""

    code = -9


class FileError(Error):
    """A file could not be read or written (LMC_EIO)."""

    code = -10


class OutOfMemory(Error):
    """Out of memory (LMC_ENOMEM)."""

    code = -11


class InvalidArgument(Error, ValueError):
    """An invalid argument (LMC_EINVAL); also a ValueError."""

    code = -12


class NoSeats(Error):
    """All seats are in use (LMC_ENOSEATS)."""

    code = -13


class NoServer(Error):
    """No license server is reachable (LMC_ENOSERVER)."""

    code = -14


class NoQuorum(Error):
    """The redundant servers have lost their quorum (LMC_ENOQUORUM)."""

    code = -15


class ProtocolError(Error):
    """A protocol error talking to a server (LMC_EPROTO)."""

    code = -16


class TimedOut(Error):
    """No answer in time (LMC_ETIMEDOUT)."""

    code = -17


class ClockSetBack(Error):
    """The system clock was set back (LMC_ECLOCK)."""

    code = -18


class NotLicensed(Error):
    """The server is not licensed to run on its host (LMC_ENOTLICENSED)."""

    code = -19


class WrongVendor(Error):
    """The license belongs to another vendor (LMC_EVENDOR)."""

    code = -20


class NeedsServer(Error):
    """A counted license needs a license server (LMC_ECOUNTED)."""

    code = -21


class TooLarge(Error):
    """An input exceeds a documented limit (LMC_ETOOLARGE)."""

    code = -22


class NoSession(Error):
    """The session is unknown or expired on the server (LMC_ENOSESSION)."""

    code = -23


class NotLeader(Error):
    """This server is not the leader (LMC_ENOTLEADER)."""

    code = -24


class LimitReached(Error):
    """A server limit was reached (sessions, connections) (LMC_ELIMIT)."""

    code = -25


class Denied(Error):
    """Refused by the administrator's policy (LMC_EDENIED)."""

    code = -26


class NoHandle(Error):
    """Unknown checkout handle (LMC_ENOHANDLE)."""

    code = -27


class ServerShutdown(Error):
    """The server is shutting down (LMC_ESHUTDOWN)."""

    code = -28


class StoreFailure(Error):
    """The server's disk is full or failing (LMC_ESTORE)."""

    code = -29


class InDoubt(Error):
    """A command may or may not have committed (LMC_EINDOUBT).  Internal to
    lmd, which never sends it to a client."""

    code = -30


class Idle(Error):
    """Seats taken back while the application said it was idle (LMC_EIDLE):
    a TIMEOUT in the administrator's options file.  Reported through the
    on_lost callback; they are checked out again on set_idle(False)."""

    code = -31


class NotAdmin(Error):
    """An admin request from someone without admin authority on the server
    (LMC_ENOTADMIN)."""

    code = -32


class AdminSignatureRefused(Error):
    """An admin request whose signature the server refused (LMC_EADMINSIG)."""

    code = -33


class TlsFailed(Error):
    """The TLS handshake with the license server failed (LMC_ETLS)."""

    code = -34


class ServerKeyMismatch(Error):
    """The server did not prove the server key pinned on its SERVER line
    (LMC_EKEYPIN): a man in the middle, or another server at that address."""

    code = -35


class TlsRequired(Error):
    """The license server accepts only TLS connections (LMC_ENEEDTLS)."""

    code = -36


# Every code's class, in the order of enum lmc_error.
_CLASSES = (
    NoFeature,
    Expired,
    NotStarted,
    WrongVersion,
    WrongHost,
    BadSignature,
    BadCode,
    LicenseSyntax,
    BadKey,
    FileError,
    OutOfMemory,
    InvalidArgument,
    NoSeats,
    NoServer,
    NoQuorum,
    ProtocolError,
    TimedOut,
    ClockSetBack,
    NotLicensed,
    WrongVendor,
    NeedsServer,
    TooLarge,
    NoSession,
    NotLeader,
    LimitReached,
    Denied,
    NoHandle,
    ServerShutdown,
    StoreFailure,
    InDoubt,
    Idle,
    NotAdmin,
    AdminSignatureRefused,
    TlsFailed,
    ServerKeyMismatch,
    TlsRequired,
)
_BY_CODE = {cls.code: cls for cls in _CLASSES}

__all__ = ["Error", "strerror", "errhint", "errname"] + [cls.__name__ for cls in _CLASSES]
