# ws2/state: process-wide router state: startup count, version, per-thread last error.
# MIT licence; part of ws2 for MicroPython.
from ws2.port import allocate_lock, get_ident  # noqa: F401 (modules take the lock maker from here)

started = 0  # WSAStartup reference count
version = 0  # lowest version negotiated in this process (a WORD)
# One lock guards every table that changes shape (handles, catalog, providers);
# lookups on the hot path never take it.
lock = allocate_lock()
_last_error = {}
# Threads that ended leave their entry behind and MicroPython cannot list
# live threads, so the table is bounded: past this many threads it starts
# again from the caller's entry (a value is read right after the failing call
# on its own thread; only a program with this many threads could lose one).
_MAX_THREADS = 16


def set_last_error(code):
    """Store code as the calling thread's last error."""
    t = get_ident()
    if t not in _last_error and len(_last_error) >= _MAX_THREADS:
        _last_error.clear()
    _last_error[t] = code


def get_last_error():
    """Return the calling thread's last error (0 when none)."""
    return _last_error.get(get_ident(), 0)
