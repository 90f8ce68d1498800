# ws2/port: what differs between MicroPython and CPython, in one try-import.
# MIT licence; part of ws2 for MicroPython.
#
# Every device module takes const, the micropython decorators, ticks and locks from here
# instead of carrying its own fallback. On MicroPython the names are the port's own
# objects (no wrapper, no cost per call); `_X = const(N)` is still folded by the compiler
# because it recognises the name `const`, wherever it was imported from.
try:
    import micropython
    from micropython import const
    from time import sleep_ms, ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython: the emitter decorators are no-ops, ticks are monotonic ms
    import time as _time

    class micropython:
        native = staticmethod(lambda f: f)
        viper = staticmethod(lambda f: f)

    def const(x):
        return x

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_add(t, delta):
        return t + delta

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        _time.sleep(ms / 1000)


try:
    from _thread import allocate_lock, get_ident
except ImportError:  # a port built without threads: one thread, locks that never block

    def get_ident():
        return 0

    class _NoLock:
        def acquire(self, *a):
            return True

        def release(self):
            pass

        def locked(self):
            return False

        def __enter__(self):
            return self

        def __exit__(self, *a):
            pass

    def allocate_lock():
        return _NoLock()
