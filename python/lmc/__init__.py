"""lmc: Python binding of liblmc, the client library of the lmd license manager.

    import lmc

    with lmc.Context("27000@licserv", pubkey="vendor-public.pem") as ctx:
        with ctx.checkout("stats", "29.0") as seat:
            ...  # the seat is held here, checked in at the end of the block

It calls the installed liblmc (liblmc.so.0, client/lmc.h) through ctypes:
no compiled code.  The library is loaded from the path in the LMC_LIBRARY
environment variable when it is set, else as liblmc.so.0 from the dynamic
linker's path (where Debian's liblmc0 installs it); importing lmc raises
ImportError, saying what to do, when it does not load.

Every failure raises an Error subclass named after its stable code
(NoSeats is LMC_ENOSEATS), carrying .code, .name, .message and .hint.
"""

import ctypes
import os
import re

from . import _library
from .context import Context, LicenseInfo, Seat
from .errors import *  # noqa: F401,F403 (the exception of every code)
from .errors import Error, TooLarge, __all__ as _error_names, errhint, errname, strerror

# The release of lmd this binding belongs to (configure.ac's AC_INIT).
__version__ = "0.1.0"

#: The liblmc file loaded (its real path), or the name given to the
#: dynamic linker when it cannot tell.
library_path = _library.loaded_path(_library.lib) or _library.name


def library_version():
    """The version of the liblmc loaded, as its file name carries it
    (liblmc.so.0.0.0 -> "0.0.0", libtool's rendering of -version-info):
    lmc.h has no version call.  None when the file name does not say."""
    match = re.search(r"\.so\.(\d+(?:\.\d+)*)$", os.path.basename(library_path))
    return match.group(1) if match else None


def lock_code():
    """This machine's lock code, as the last word of `lmutil lmhostid`
    prints it ("11D7-XZMS-PN6V-MWY5-6AQB").  Raises Error when no lock
    criterion of the machine can be read."""
    size = 128
    while True:
        buf = ctypes.create_string_buffer(size)
        rc = _library.lib.lmc_lockcode(buf, size)
        if rc == TooLarge.code and size < 65536:
            size *= 4
            continue
        if rc != 0:
            raise Error.for_code(rc)
        return buf.value.decode("ascii")


__all__ = [
    "Context",
    "Seat",
    "lock_code",
    "library_path",
    "library_version",
    *_error_names,
]

# The public classes are lmc.NoSeats, not lmc.errors.NoSeats, in tracebacks
# and reprs.
for _name in __all__:
    if isinstance(globals()[_name], type):
        globals()[_name].__module__ = __name__
del _name
