# ws2/state: process-wide router state: startup count, version, per-thread last error.
# MIT licence; part of ws2 for MicroPython.
try:
    from _thread import allocate_lock, get_ident
except ImportError:  # a port built without threads

    def get_ident():
        return 0

    class _NoLock:
        def acquire(self, *a):
            return True

        def release(self):
            pass

        __enter__ = acquire

        def __exit__(self, *a):
            pass

    def allocate_lock():
        return _NoLock()


started = 0  # WSAStartup reference count
version = 0  # lowest version negotiated in this process (a WORD)
# One lock guards every table that changes shape (handles, catalog, providers);
# lookups on the hot path never take it.
lock = allocate_lock()
_last_error = {}


def set_last_error(code):
    """Store code as the calling thread's last error."""
    _last_error[get_ident()] = code


def get_last_error():
    """Return the calling thread's last error (0 when none)."""
    return _last_error.get(get_ident(), 0)
