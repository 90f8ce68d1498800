# ws2/dispatch: the one shape of every call on a socket handle.
# MIT licence; part of ws2 for MicroPython.
#
# prolog (a live handle implies WSAStartup was done; a dead one is
# WSANOTINITIALISED or WSAENOTSOCK) -> look up the owning provider -> call its
# proc-table slot with the provider's context -> turn any failure into a
# WSAError at this edge and store it as the thread's last error.
from ws2 import handles, state
from ws2.errors import WSAError, WSANOTINITIALISED, as_wsa_error


def fail(exc):
    """Return exc as the WSAError to raise, after storing its code as the last error."""
    e = as_wsa_error(exc)
    state.set_last_error(e.args[0])
    return e


def prolog():
    """Raise WSANOTINITIALISED unless WSAStartup has been called."""
    if not state.started:
        state.set_last_error(WSANOTINITIALISED)
        raise WSAError(WSANOTINITIALISED)


def call(s, index, *args):
    """Route proc-table slot index on handle s with args; return the provider's result."""
    i = handles.slot(s)
    try:
        return handles.prov[i].table[index](handles.ctx[i], *args)
    except Exception as e:
        raise fail(e)
