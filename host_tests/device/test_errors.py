# Device tests: ws2/errors: a WSAError is an OSError with a message, and shows its code, its symbolic name and
# its text wherever it is printed - str, repr (the REPL) and a traceback. Runs on CPython and on the board.
# MIT licence; part of ws2 for MicroPython.
import sys

import ws2


def _traceback_tail(e):
    # The last line a traceback prints for e, the way this interpreter prints it.
    try:
        import io

        buf = io.StringIO()
        sys.print_exception(e, buf)  # MicroPython
        text = buf.getvalue()
    except AttributeError:
        import traceback

        text = "".join(traceback.format_exception_only(type(e), e))
    return text.strip().splitlines()[-1]


def test_error_is_oserror_with_message(env):
    try:
        ws2.send(257, b"x")
    except OSError as e:
        assert isinstance(e, ws2.WSAError)
        assert "10093" in str(e) and "WSAStartup" in str(e)


def test_str_repr_and_traceback_name_the_error():
    e = ws2.WSAError(ws2.WSAECONNREFUSED)
    assert str(e) == "[WSA 10061] WSAECONNREFUSED: Connection refused", str(e)
    assert repr(e) == "WSAError(10061, 'WSAECONNREFUSED: Connection refused')", repr(e)
    assert e.errno == 10061 and e.args == (10061, "")
    try:
        raise e
    except ws2.WSAError as caught:
        tail = _traceback_tail(caught)
    assert "WSAError" in tail and "WSAECONNREFUSED" in tail and "Connection refused" in tail, tail
    assert "(10061, '')" not in tail, tail


def test_detail_and_unknown_codes():
    e = ws2.WSAError(ws2.WSAEMFILE, "all 8 socket handles are in use")
    assert str(e) == "[WSA 10024] WSAEMFILE: Too many open sockets: all 8 socket handles are in use", str(e)
    assert "all 8 socket handles" in repr(e) and "WSAEMFILE" in repr(e)
    assert str(ws2.WSAError(12345)) == "[WSA 12345] Unknown error"
    assert repr(ws2.WSAError(12345)) == "WSAError(12345, 'Unknown error')"
    assert ws2.strerror(ws2.WSA_IO_PENDING) == "Overlapped operations will complete later"
    from ws2 import errors

    assert errors.errname(ws2.WSA_INVALID_HANDLE) == "WSA_INVALID_HANDLE"
    assert errors.errname(ws2.WSAHOST_NOT_FOUND) == "WSAHOST_NOT_FOUND"
    assert errors.errname(10061.0) == "" and errors.errname(True) == ""
    assert ws2.strerror(None) == "Unknown error"


def test_a_real_failure_prints_its_name(env):
    ws2.WSAStartup(0x0202)
    try:
        s = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        try:
            ws2.connect(s, (env.host_ip, env.closed_port))
        except ws2.WSAError as e:
            assert e.errno == ws2.WSAECONNREFUSED, e
            assert "WSAECONNREFUSED: Connection refused" in repr(e), repr(e)
            assert "WSAECONNREFUSED" in _traceback_tail(e)
        else:
            raise AssertionError("connect to a closed port succeeded")
        ws2.closesocket(s)
    finally:
        ws2.WSACleanup()
