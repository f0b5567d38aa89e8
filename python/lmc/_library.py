"""Finds and loads liblmc, and declares the C signatures of client/lmc.h.

Only the public API is used: the functions liblmc exports (lmc_*) with the
prototypes of lmc.h, transcribed below.  Nothing here is compiled, so one
copy of this module works with every liblmc.so.0 of the same ABI.
"""

import ctypes
import os

# The soname's major version: the ABI these declarations describe.
SONAME = "liblmc.so.0"


class _Ctx(ctypes.Structure):
    """struct lmc_ctx, opaque: only pointers to it are handled."""


CtxPointer = ctypes.POINTER(_Ctx)


class Options(ctypes.Structure):
    """struct lmc_options, field for field."""

    _fields_ = [
        ("vendor_pubkey", ctypes.c_char_p),
        ("license_source", ctypes.c_char_p),
        ("flags", ctypes.c_uint),
        ("app_version", ctypes.c_char_p),
        ("heartbeat_ms", ctypes.c_uint),
    ]


class LicenseInfoStruct(ctypes.Structure):
    """struct lmc_license_info, field for field."""

    _fields_ = [
        ("version", ctypes.c_char * 32),
        ("expiry", ctypes.c_char * 16),
        ("days_left", ctypes.c_int),
        ("expires_soon", ctypes.c_int),
        ("vendor_string", ctypes.c_char * 256),
        ("held", ctypes.c_uint),
        ("overdraft", ctypes.c_uint),
    ]


# typedef void (*lmc_lost_cb)(void *arg, uint64_t handle, const char *feature, int code);
LostCallback = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_int
)
# typedef void (*lmc_regained_cb)(void *arg, uint64_t handle, const char *feature);
RegainedCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p)

_PROTOTYPES = {
    "lmc_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "lmc_errhint": (ctypes.c_char_p, [ctypes.c_int]),
    "lmc_errname": (ctypes.c_char_p, [ctypes.c_int]),
    "lmc_lockcode": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t]),
    "lmc_open": (
        ctypes.c_int,
        [ctypes.POINTER(CtxPointer), ctypes.POINTER(Options), ctypes.c_char_p, ctypes.c_size_t],
    ),
    "lmc_close": (None, [CtxPointer]),
    "lmc_checkout": (
        ctypes.c_int,
        [
            CtxPointer,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint64),
        ],
    ),
    "lmc_checkin": (ctypes.c_int, [CtxPointer, ctypes.c_uint64]),
    "lmc_set_callbacks": (
        ctypes.c_int,
        [CtxPointer, LostCallback, RegainedCallback, ctypes.c_void_p],
    ),
    "lmc_set_idle": (ctypes.c_int, [CtxPointer, ctypes.c_int]),
    "lmc_set_checkout_data": (ctypes.c_int, [CtxPointer, ctypes.c_char_p]),
    "lmc_server": (ctypes.c_int, [CtxPointer, ctypes.c_char_p, ctypes.c_size_t]),
    "lmc_last_error": (ctypes.c_char_p, [CtxPointer]),
    "lmc_license_info": (
        ctypes.c_int,
        [CtxPointer, ctypes.c_char_p, ctypes.POINTER(LicenseInfoStruct)],
    ),
}


def _candidates():
    """Where to look: LMC_LIBRARY alone when it is set (an explicit choice
    is not second-guessed), else the soname, which the dynamic linker finds
    where liblmc0 installed it (/usr/lib/<multiarch>/liblmc.so.0).

    Not ctypes.util.find_library("lmc"): on Linux it answers a soname from
    the same linker cache, so it finds nothing the soname does not, and it
    may answer another major version (liblmc.so.1), whose ABI these
    declarations do not describe."""
    explicit = os.environ.get("LMC_LIBRARY")
    return [explicit] if explicit else [SONAME]


def _asan_runtime_missing(path):
    """True when path is a liblmc built with AddressSanitizer and the ASan
    runtime is not loaded yet.  Such a library cannot be loaded into an
    interpreter that was not started with the runtime preloaded: the
    runtime ends the whole process instead of failing the dlopen, so the
    case is told apart before trying."""
    if os.sep not in path:
        return False
    # GCC's runtime, then clang's.
    runtimes = (b"libasan.so", b"libclang_rt.asan")
    try:
        with open(path, "rb") as library:
            needed = library.read()
        with open("/proc/self/maps", "rb") as maps:
            loaded = maps.read()
    except OSError:
        return False
    return any(b"\0" + runtime in needed and b"/" + runtime not in loaded for runtime in runtimes)


def load():
    """Loads liblmc and declares its functions; ImportError when it
    cannot, naming every place tried and what to do."""
    tried = []
    for name in _candidates():
        if _asan_runtime_missing(name):
            raise ImportError(
                f"lmc: {name} was built with AddressSanitizer; run Python with the ASan "
                f"runtime it links (`ldd {name}` names it) preloaded, for GCC: "
                "LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 "
                "python3 ..."
            )
        try:
            library = ctypes.CDLL(name)
        except OSError as error:
            tried.append(f"{name} ({error})")
            continue
        for function, (restype, argtypes) in _PROTOTYPES.items():
            try:
                entry = getattr(library, function)
            except AttributeError:
                raise ImportError(
                    f"lmc: {name} has no {function}: it is not liblmc, or a liblmc "
                    f"older than this binding"
                ) from None
            entry.restype = restype
            entry.argtypes = argtypes
        return library, name
    raise ImportError(
        "lmc: cannot load liblmc, tried: " + "; ".join(tried) + ". Install liblmc "
        "(Debian: apt install liblmc0), or set LMC_LIBRARY to the path of liblmc.so.0."
    )


def loaded_path(library):
    """The file the dynamic linker actually loaded for library (dladdr on
    one of its functions), or None when it cannot tell."""

    class DlInfo(ctypes.Structure):
        _fields_ = [
            ("dli_fname", ctypes.c_char_p),
            ("dli_fbase", ctypes.c_void_p),
            ("dli_sname", ctypes.c_char_p),
            ("dli_saddr", ctypes.c_void_p),
        ]

    try:
        dladdr = ctypes.CDLL(None).dladdr
    except (OSError, AttributeError):
        return None
    dladdr.restype = ctypes.c_int
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    info = DlInfo()
    address = ctypes.cast(library.lmc_strerror, ctypes.c_void_p)
    if dladdr(address, ctypes.byref(info)) == 0 or not info.dli_fname:
        return None
    return os.path.realpath(os.fsdecode(info.dli_fname))


lib, name = load()
