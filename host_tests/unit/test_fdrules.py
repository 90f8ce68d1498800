"""ws2.fdrules: Winsock's FD_* recording and re-enabling rules, and WSAPoll's revents, bit by bit.

Each rule of docs/winsock.md ("Network events") as the pure function the pump applies: no
sockets, no providers, only the registration's bits in and the bits to record out.
"""
import pytest

from ws2 import const as C
from ws2 import fdrules as R
from ws2.errors import WSAECONNABORTED, WSAECONNRESET, WSAENOTSOCK

ALL = C.FD_READ | C.FD_WRITE | C.FD_OOB | C.FD_ACCEPT | C.FD_CONNECT | C.FD_CLOSE
EVENTS = (C.FD_READ, C.FD_WRITE, C.FD_OOB, C.FD_ACCEPT, C.FD_CONNECT, C.FD_CLOSE)


@pytest.mark.parametrize("ev, bit", [(C.FD_READ, C.FD_READ_BIT), (C.FD_WRITE, C.FD_WRITE_BIT),
                                     (C.FD_OOB, C.FD_OOB_BIT), (C.FD_ACCEPT, C.FD_ACCEPT_BIT),
                                     (C.FD_CONNECT, C.FD_CONNECT_BIT), (C.FD_CLOSE, C.FD_CLOSE_BIT),
                                     (C.FD_ADDRESS_LIST_CHANGE, C.FD_MAX_EVENTS - 1)])
def test_bit_is_the_error_slot_of_each_event(ev, bit):
    assert R.bit(ev) == bit


def test_masks_with_only_fd_bits_are_accepted():
    assert R.check_mask(0) and R.check_mask(C.FD_ALL_EVENTS) and R.check_mask(C.FD_READ | C.FD_CLOSE)
    assert not R.check_mask(0x400) and not R.check_mask(C.FD_READ | 0x800)
    assert not R.check_mask("1") and not R.check_mask(None)


def test_a_registration_arms_its_mask_but_fd_connect():
    # FD_CONNECT is recorded only when a connect is pending, never because it is armed.
    assert R.armed_at_registration(ALL) == ALL & ~C.FD_CONNECT
    assert R.armed_at_registration(C.FD_CONNECT) == 0


def test_a_new_registration_keeps_what_its_mask_still_wants():
    assert R.kept_at_reregistration(C.FD_READ | C.FD_WRITE, C.FD_READ) == C.FD_READ
    assert R.kept_at_reregistration(C.FD_READ, C.FD_WRITE) == 0


@pytest.mark.parametrize("armed, mask, listening, connecting, want", [
    (0, ALL, False, False, 0),  # everything recorded, no re-enabling call yet: nothing is asked
    (C.FD_READ, C.FD_READ, False, False, R.WANT_READ),
    (C.FD_OOB, C.FD_OOB, False, False, R.WANT_READ),
    (C.FD_ACCEPT, C.FD_ACCEPT, True, False, R.WANT_READ),
    (C.FD_ACCEPT, C.FD_ACCEPT, False, False, 0),  # FD_ACCEPT on a socket that does not listen
    (C.FD_CLOSE, C.FD_CLOSE, False, False, R.WANT_READ),
    (C.FD_CLOSE, C.FD_READ | C.FD_CLOSE, False, False, 0),  # the close waits until the data was read
    (C.FD_WRITE, C.FD_WRITE, False, False, R.WANT_WRITE),
    (0, C.FD_CONNECT, False, True, R.WANT_WRITE | R.WANT_EXCEPT),
    (C.FD_READ | C.FD_WRITE, ALL, False, True, R.WANT_READ | R.WANT_WRITE | R.WANT_EXCEPT),
])
def test_the_pump_asks_only_for_what_could_be_recorded(armed, mask, listening, connecting, want):
    assert R.watch(armed, mask, listening, connecting) == want


def test_only_a_connected_stream_socket_is_peeked():
    assert R.needs_peek(True, False)
    assert not R.needs_peek(True, True) and not R.needs_peek(False, False)


@pytest.mark.parametrize("armed, listening, what, ev", [
    (C.FD_ACCEPT, True, R.PEEK_DATA, C.FD_ACCEPT),
    (C.FD_READ, True, R.PEEK_DATA, 0),  # a listening socket's readable is a connection only
    (0, True, R.PEEK_DATA, 0),
    (C.FD_READ, False, R.PEEK_DATA, C.FD_READ),  # data (or a datagram: not peeked)
    (C.FD_READ | C.FD_CLOSE, False, R.PEEK_DATA, C.FD_READ),
    (C.FD_CLOSE, False, R.PEEK_DATA, 0),
    (C.FD_READ | C.FD_CLOSE, False, R.PEEK_CLOSED, C.FD_CLOSE),
    (C.FD_READ | C.FD_CLOSE, False, WSAECONNRESET, C.FD_CLOSE),
    (C.FD_READ, False, R.PEEK_CLOSED, 0),  # FD_CLOSE not asked for
    (C.FD_READ | C.FD_CLOSE, False, R.PEEK_NONE, 0),  # nothing there after all
])
def test_what_a_readable_socket_records(armed, listening, what, ev):
    assert R.readable(armed, listening, what) == ev


@pytest.mark.parametrize("armed, listening, what, gone", [
    (C.FD_READ | C.FD_CLOSE | C.FD_WRITE, False, R.PEEK_CLOSED, C.FD_READ | C.FD_CLOSE),
    (C.FD_READ | C.FD_WRITE, False, WSAECONNRESET, C.FD_READ),
    (C.FD_READ | C.FD_CLOSE, False, R.PEEK_DATA, 0),
    (C.FD_READ | C.FD_CLOSE, False, R.PEEK_NONE, 0),
    (C.FD_ACCEPT | C.FD_CLOSE, True, R.PEEK_DATA, 0),
])
def test_after_a_close_nothing_more_is_read(armed, listening, what, gone):
    # Once the peer closed, FD_READ and FD_CLOSE stop being watched (recorded or not): the
    # socket stays readable forever and would make the pump spin.
    assert R.readable_disarms(armed, listening, what) == gone


@pytest.mark.parametrize("what, err", [(R.PEEK_CLOSED, 0), (WSAECONNRESET, WSAECONNRESET),
                                       (WSAENOTSOCK, WSAECONNRESET), (WSAECONNABORTED, WSAECONNABORTED)])
def test_fd_close_error_says_how_the_peer_closed(what, err):
    assert R.close_error(what) == err


@pytest.mark.parametrize("mask, err, ev", [
    (C.FD_CONNECT | C.FD_WRITE, 0, C.FD_CONNECT | C.FD_WRITE),  # a connect succeeded: FD_WRITE too
    (C.FD_CONNECT | C.FD_WRITE, 10061, C.FD_CONNECT),  # refused: no FD_WRITE
    (C.FD_WRITE, 0, C.FD_WRITE),
    (C.FD_READ, 0, 0),
    (C.FD_CONNECT, 10060, C.FD_CONNECT),
])
def test_what_the_end_of_a_connect_records(mask, err, ev):
    assert R.connected(mask, err) == ev


def test_a_failed_connect_stops_watching_fd_write():
    assert R.connected_disarms(0) == 0
    assert R.connected_disarms(10061) == C.FD_WRITE


def test_what_a_writable_socket_records():
    assert R.writable(C.FD_WRITE | C.FD_READ, False) == C.FD_WRITE
    assert R.writable(C.FD_READ, False) == 0  # FD_WRITE recorded, no send hit WSAEWOULDBLOCK since
    assert R.writable(C.FD_WRITE, True) == 0  # an exception is not room to send


@pytest.mark.parametrize("ev", EVENTS)
def test_a_recorded_event_is_not_recorded_again_until_re_enabled(ev):
    armed = R.after_record(ALL, ev)
    assert armed == ALL & ~ev
    assert R.after_record(armed, ev) == armed  # recording it twice changes nothing more


@pytest.mark.parametrize("calls, events", [(R.RECV_REENABLES, C.FD_READ | C.FD_OOB),
                                           (R.SEND_REENABLES, C.FD_WRITE),
                                           (R.ACCEPT_REENABLES, C.FD_ACCEPT)])
def test_each_family_of_calls_re_enables_its_events(calls, events):
    assert calls == events
    assert R.rearm(0, ALL, calls) == events


def test_re_enabling_brings_back_only_the_mask_s_events():
    assert R.rearm(0, C.FD_READ, R.RECV_REENABLES) == C.FD_READ  # FD_OOB not in the mask
    assert R.rearm(C.FD_WRITE, C.FD_WRITE, R.RECV_REENABLES) == C.FD_WRITE
    assert R.rearm(0, ALL, 0) == 0


def test_fd_connect_and_fd_close_have_no_re_enabling_call():
    for calls in (R.RECV_REENABLES, R.SEND_REENABLES, R.ACCEPT_REENABLES):
        assert not calls & (C.FD_CONNECT | C.FD_CLOSE)


def test_async_select_delivers_in_windows_order():
    assert R.DELIVERY == (C.FD_CONNECT, C.FD_ACCEPT, C.FD_READ, C.FD_OOB, C.FD_WRITE, C.FD_CLOSE)


# -- WSAPoll --------------------------------------------------------------------------------

@pytest.mark.parametrize("events, want", [
    (C.POLLRDNORM, R.WANT_READ | R.WANT_EXCEPT),
    (C.POLLRDBAND, R.WANT_READ | R.WANT_EXCEPT),
    (C.POLLIN, R.WANT_READ | R.WANT_EXCEPT),
    (C.POLLWRNORM, R.WANT_WRITE | R.WANT_EXCEPT),
    (C.POLLIN | C.POLLOUT, R.WANT_READ | R.WANT_WRITE | R.WANT_EXCEPT),
    (0, R.WANT_EXCEPT),  # errors are reported whatever was asked
])
def test_wsapoll_asks_for_what_events_name(events, want):
    assert R.poll_wants(events) == want


def test_wsapoll_maps_the_provider_s_answer():
    assert R.poll_ready(R.WANT_READ) == C.POLLRDNORM
    assert R.poll_ready(R.WANT_WRITE) == C.POLLWRNORM
    assert R.poll_ready(R.WANT_EXCEPT) == C.POLLERR
    assert R.poll_ready(0) == 0


@pytest.mark.parametrize("got, events, what, revents", [
    (C.POLLRDNORM, C.POLLRDNORM, R.PEEK_DATA, C.POLLRDNORM),
    (C.POLLRDNORM, C.POLLRDNORM, R.PEEK_CLOSED, C.POLLHUP),  # an orderly close: hang-up, not data
    (C.POLLRDNORM, C.POLLRDNORM, WSAECONNRESET, C.POLLERR | C.POLLHUP),
    (C.POLLRDNORM, C.POLLRDNORM, R.PEEK_NONE, C.POLLRDNORM),
    (C.POLLRDNORM | C.POLLWRNORM, C.POLLRDNORM, R.PEEK_DATA, C.POLLRDNORM),  # only what was asked
    (C.POLLWRNORM, C.POLLWRNORM, R.PEEK_DATA, C.POLLWRNORM),
    (C.POLLRDNORM | C.POLLWRNORM, C.POLLWRNORM, R.PEEK_CLOSED, C.POLLWRNORM | C.POLLHUP),
    (C.POLLERR, C.POLLRDNORM, R.PEEK_DATA, C.POLLERR),
])
def test_wsapoll_revents(got, events, what, revents):
    assert R.revents(got, events, what) == revents


def test_private_copies_of_the_rules_numbers_agree():
    # The pump, select and the wait keep `_PEEK_DATA = const(1)`-style copies (MicroPython folds a const
    # only inside its module); each must equal the number here.
    from host_tests.unit.test_const_homes import _copies

    homes = {n: getattr(R, n) for n in dir(R) if n.isupper() and not n.startswith("_")
             and type(getattr(R, n)) is int}
    copies = [(p, line, n, v) for p, line, n, v in _copies() if n in homes]
    assert {n for _p, _l, n, _v in copies} >= {"PEEK_DATA", "PEEK_NONE", "PEEK_CLOSED"}
    wrong = ["%s:%d: _%s = %r, ws2.fdrules.%s = %r" % (p, line, n, v, n, homes[n])
             for p, line, n, v in copies if homes[n] != v]
    assert not wrong, "\n".join(wrong)
