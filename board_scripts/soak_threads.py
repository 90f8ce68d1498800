# Soak, section 6: threads. MIT licence; part of ws2 for MicroPython. Runs after soak_lib.py.
#
# P["threads"] threads at once, P["thread_n"] rounds each: (a) each thread its
# own TCP connection per round (create, send, receive, close); (b) all threads
# sharing one UDP socket and one TCP connection. Every round also checks the
# thread's own last error against what the others set meanwhile. Then
# WSACleanup races a thread still using the last socket: the thread may only
# see WSAErrors, and the router must start again cleanly.
import _thread

N = P["thread_n"]
T = P["threads"]
lock = _thread.allocate_lock()


def run_threads(fn):
    """Run fn(k) in T threads; wait for all (up to 120 s)."""
    left = [T]

    def body(k):
        try:
            fn(k)
        finally:
            with lock:
                left[0] -= 1

    for k in range(T):
        _thread.start_new_thread(body, (k,))
    t0 = _ms()
    while left[0] and _diff(_ms(), t0) < 120000:
        time.sleep(0.01)
        beat()
    return left[0] == 0


def guarded(t, label, fn):
    """fn() under a tally: a WSAError or any other exception is a failure of its own kind."""
    try:
        fn()
        return True
    except ws2.WSAError as e:
        t.fail("WSAError", "%s: %s" % (label, why(e)))
    except Exception as e:
        t.fail("not a WSAError", "%s: %s" % (label, why(e)))
    return False


def last_error_check(t, k, stale):
    # Set this thread's own code, let the others run, then fail on purpose: each step must see its own value.
    mine = 20000 + k
    ws2.WSASetLastError(mine)
    time.sleep(0)
    if ws2.WSAGetLastError() != mine:
        t.fail("last error lost", "thread %d read %d, set %d" % (k, ws2.WSAGetLastError(), mine))
        return
    try:
        ws2.recv(stale, 1)
        t.fail("stale handle accepted", "thread %d" % k)
    except ws2.WSAError as e:
        if e.args[0] != ws2.WSAENOTSOCK or ws2.WSAGetLastError() != ws2.WSAENOTSOCK:
            t.fail("wrong last error", "thread %d: %r, last error %d" % (k, e, ws2.WSAGetLastError()))
            return
    t.ok()


ws2.WSAStartup(0x0202)
stale = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
ws2.closesocket(stale)

# (a) separate sockets
sep = Tally("threads.separate", "%d threads x create / send / recv / close, each on its own TCP socket" % T)
lasterr = Tally("threads.lasterror", "per-thread last error under %d threads (own value kept, own failure seen)" % T)


def separate_once(k, i):
    s = tcp()
    try:
        msg = b"t%d-%06d" % (k, i)
        ws2.send(s, msg)
        got = recv_exact(s, len(msg))
        if got != msg:
            sep.fail("data crossed between sockets", "thread %d got %r" % (k, got))
            return
    finally:
        ws2.closesocket(s)
    sep.ok()


def separate(k):
    for i in range(N):
        guarded(sep, "thread %d round %d" % (k, i), lambda: separate_once(k, i))
        last_error_check(lasterr, k, stale)


done = run_threads(separate)
if not done:
    sep.fail("threads did not finish within 120 s")
left = open_handles()
sep.tried += 1
if left:
    sep.broke += 1
sep.emit(["handles open afterwards: %d" % len(left)])
lasterr.emit()

# (b) shared sockets: one UDP socket and one TCP connection for all threads
shared = Tally("threads.shared", "%d threads x send / recv on one shared UDP socket and one shared TCP "
                                 "connection" % T)
u = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, 0)
ws2.connect(u, (HOST, P["udp_echo"]))
ws2.setsockopt(u, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 3000)
c = tcp()
# one counter per (thread, round): what came back is marked here, not kept (the heap is a board's)
got_udp = bytearray(T * N)
sent_tcp = [0]


def share_once(k, i):
    msg = b"u%d-%06d" % (k, i)
    ws2.send(u, msg)
    d = ws2.recv(u, 64)  # any thread's datagram may come back to any thread
    j = d.find(b"-")
    with lock:
        got_udp[int(d[1:j]) * N + int(d[j + 1:])] += 1
    rec = b"%d%07d" % (k, i)  # 8 bytes: one send, one record
    ws2.send(c, rec)
    with lock:
        sent_tcp[0] += 1
    shared.ok()


def sharer(k):
    for i in range(N):
        guarded(shared, "thread %d round %d" % (k, i), lambda: share_once(k, i))


done = run_threads(sharer)
if not done:
    shared.fail("threads did not finish within 120 s")
back = sum(1 for x in got_udp if x == 1)
if back != T * N:
    shared.fail("UDP datagrams lost, doubled or changed", "%d of %d back once" % (back, T * N))
else:
    shared.ok()
got_tcp = bytearray(T * N)
bad = 0
for j in range(sent_tcp[0]):
    rec = recv_exact(c, 8)
    try:
        got_tcp[int(rec[:1]) * N + int(rec[1:])] += 1
    except (ValueError, IndexError):
        bad += 1
back = sum(1 for x in got_tcp if x == 1)
if bad or back != sent_tcp[0]:
    shared.fail("TCP records interleaved or lost", "%d records back once of %d, %d garbled" % (
        back, sent_tcp[0], bad))
else:
    shared.ok()
ws2.closesocket(u)
ws2.closesocket(c)
shared.emit()

# (c) WSACleanup racing the last socket
race = Tally("threads.cleanup", "WSACleanup while another thread uses the last socket")
rounds = max(3, N // 20)
all_seen = set()
for r in range(rounds):
    s = tcp()
    ws2.setsockopt(s, ws2.SOL_SOCKET, ws2.SO_RCVTIMEO, 2000)
    seen = []
    running = [True]
    trips = [0]

    def user(k):
        while running[0]:
            try:
                ws2.send(s, b"race")
                recv_exact(s, 4)
                trips[0] += 1
            except ws2.WSAError as e:
                seen.append(e.args[0])
                return
            except Exception as e:
                seen.append(why(e))
                return

    left = [1]

    def body(k):
        try:
            user(k)
        finally:
            left[0] = 0

    _thread.start_new_thread(body, (0,))
    t0 = _ms()
    while not trips[0] and _diff(_ms(), t0) < 5000:
        time.sleep(0.001)  # the thread is in its loop: now pull the router from under it
    for _ in range(r % 7):
        time.sleep(0)
    try:
        stop_all()
    except Exception as e:
        race.fail("WSACleanup raised", why(e))
    t0 = _ms()
    while left[0] and _diff(_ms(), t0) < 10000:
        time.sleep(0.01)
    running[0] = False
    all_seen.update(x for x in seen if isinstance(x, int))
    if left[0]:
        race.fail("the thread hung after WSACleanup")
    elif seen and not isinstance(seen[0], int):
        race.fail("not a WSAError", seen[0])
    elif open_handles():
        race.fail("handles after WSACleanup", repr(open_handles()))
    else:
        ws2.WSAStartup(0x0202)
        echo_check(race, "ws2 did not start again")
    beat()
race.emit(["rounds: %d; codes the racing thread saw: %s" % (rounds, " ".join(
    __import__("ws2.errors").errors.errname(x) or str(x) for x in sorted(all_seen)))])
stop_all()
