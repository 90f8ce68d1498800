# Bench: heap: importing ws2 + wspm + nspm, the working set, per socket, per pending overlapped request,
# sockets open at once. MIT licence; part of ws2 for MicroPython. Runs after bench_lib.py, on a fresh board.
#
# Heap figures are gc.mem_free() deltas around gc.collect(). boot.py imports
# ws2.catalog at every reset, so before each import measurement every ws2 and
# providers module is dropped and collected: the delta is what the imports cost.
#
# The import is measured twice: from the .mpy files on the filesystem (/lib:
# the loader copies bytecode, strings and constants into the heap) and, in a
# pass of its own (P["ram_pass"] == "romfs", after a soft reset), from a ROMFS
# image of the same bundle (P["romfs"], built on the host with mpremote's romfs
# builder) mounted with vfs.VfsRom at /rom, first on sys.path: there the
# bytecode runs in place, as frozen code does from flash. The image is read
# into the heap first thing, while the heap still has one free run that long;
# it stands for the flash partition and is not part of the delta. It stays
# until the soft reset: qstrs made by the ROMFS import point into it. That pass
# measures nothing else, so the image takes no heap from the other figures.
_N_SOCK = P["ram_socks"]
_N_OV = P["ram_ovs"]
# A board with no network (the emulated RP2040): sockets are measured unconnected on both sides, pending
# requests on a providers.loopback connection, and the working set (a TCP exchange, a DNS query) is not.
_OFFLINE = P.get("offline")
out("info", "heap_total", None, gc.mem_free() + gc.mem_alloc())


def _mine(name):
    return name in ("ws2", "providers") or name.startswith("ws2.") or name.startswith("providers.")


def _cleanup():
    w = sys.modules.get("ws2")
    while w is not None and _started():
        w.WSACleanup()


def _drop():
    global ws2
    _cleanup()
    ws2 = None
    for name in list(sys.modules):
        if _mine(name):
            del sys.modules[name]
    g = globals()
    for name in list(g):
        v = g[name]
        if type(v) is type(sys) and _mine(getattr(v, "__name__", "")):
            del g[name]  # e.g. `catalog`, bound in __main__ by the virtual board's boot.py
    gc.collect()
    gc.collect()


def _started():
    st = sys.modules.get("ws2.state")
    return st is not None and st.started > 0


def _free():
    gc.collect()
    gc.collect()
    return gc.mem_free()


def _import_all():
    __import__("ws2")
    __import__("providers.wspm")
    __import__("providers.nspm")


def _work():
    w = sys.modules["ws2"]
    w.WSAStartup(0x0202)
    s = w.socket(w.AF_INET, w.SOCK_STREAM, w.IPPROTO_TCP)
    try:
        w.connect(s, (HOST, P["echo"]))
        w.send(s, b"x" * 64)
        w.recv(s, 64)
    finally:
        w.closesocket(s)
    w.getaddrinfo("localhost", 80, w.AF_INET, w.SOCK_STREAM)


def _steps(fid):
    # The import's cost split by what is asked for: the ws2 root, then wspm, then nspm (each with the
    # modules it pulls in that are not loaded yet).
    _drop()
    parts = []
    for name in ("ws2", "providers.wspm", "providers.nspm"):
        before = set(m for m in sys.modules if _mine(m))
        f = _free()
        __import__(name)
        new = sorted(m for m in sys.modules if _mine(m) and m not in before)
        parts.append("%s %d B (%s)" % (name, f - _free(), " ".join(new)))
    out("note", fid, "ws2", "by step: " + "; ".join(parts))


def imports():
    base = []
    work = []
    _steps("ram_import")
    for _ in range(REPS):
        _drop()
        f0 = _free()
        _import_all()
        base.append(f0 - _free())
        if work is None:
            continue
        if _OFFLINE:
            out("miss", "ram_working_set", "ws2", _OFFLINE)
            work = None
            continue
        try:
            _work()
            work.append(f0 - _free())
        except Exception as e:
            out("miss", "ram_working_set", "ws2", why(e))
            work = None
        _cleanup()
    out("fig", "ram_import", "ws2", base)
    if work is not None:
        out("fig", "ram_working_set", "ws2", work)
    mods = [m for m in sys.modules if _mine(m)]
    out("note", "ram_working_set", "ws2", "%d modules loaded: %s" % (len(mods), " ".join(sorted(mods))))
    _drop()


_ROM = "/rom"


def _functions(mod):
    # The functions defined in a module: its own and its classes' (not imported ones, not builtins).
    d = mod.__dict__
    seen = {}
    for v in list(d.values()):
        for f in ([getattr(v, k, None) for k in dir(v)] if type(v) is type else (v,)):
            if getattr(f, "__globals__", None) is d:
                seen[id(f)] = f
    return list(seen.values())


def _word(uctypes, struct, addr):
    return struct.unpack("P", uctypes.bytearray_at(addr, WORD))[0]


def _in_place(img):
    """Where the loaded modules' function code lies: (inside the image, bytecode outside it, native) or a text.

    A bytecode function object (mp_obj_fun_bc_t) is base, context, child_table, then the pointer to its
    bytecode (the 4th word); a closure (mp_obj_closure_t: base, fun, ...) is unwrapped to its function. An
    @micropython.native function is an object of another type whose code is machine code the loader copies
    to executable memory: counted apart.
    """
    try:
        import struct
        import uctypes
    except ImportError as e:
        return "not checked (%s)" % why(e)
    lo = uctypes.addressof(img)
    hi = lo + len(img)
    bc_type = type(_functions)
    inside = 0
    outside = []
    native = []
    for name in sorted(sys.modules):
        if not _mine(name):
            continue
        for f in _functions(sys.modules[name]):
            what = "%s.%s" % (name, f.__name__)
            t = type(f)
            if t is bc_type:
                obj = id(f)
            elif t.__name__ == "closure":
                obj = _word(uctypes, struct, id(f) + WORD)
            else:
                native.append(what)
                continue
            if lo <= _word(uctypes, struct, obj + 3 * WORD) < hi:
                inside += 1
            else:
                outside.append(what)
    return inside, outside, native


def load_image():
    """The ROMFS image the host put on the board, in a bytearray, or the reason there is none (a text)."""
    rp = P.get("romfs")
    if not rp:
        return P.get("romfs_missing") or "no ROMFS image from the host"
    try:
        import vfs

        vfs.VfsRom
    except (ImportError, AttributeError):
        return "this MicroPython has no vfs.VfsRom (ROMFS: MicroPython >= 1.25 built with MICROPY_VFS_ROM)"
    try:
        gc.collect()
        img = bytearray(rp["size"])
        f = open(rp["path"], "rb")
        try:
            n = f.readinto(img)
        finally:
            f.close()
    except Exception as e:
        return "cannot read the %d B ROMFS image into the heap (%d B free): %s" % (rp["size"], gc.mem_free(), why(e))
    if n != len(img):
        return "read %d of the ROMFS image's %d B from %s" % (n, len(img), rp["path"])
    return img


def romfs(img):
    fid = "ram_import_rom"
    if isinstance(img, str):
        out("miss", fid, "ws2", img)
        return
    import vfs

    _drop()
    path0 = sys.path[:]
    vfs.mount(vfs.VfsRom(img), _ROM)
    try:
        sys.path.insert(0, _ROM)
        _steps(fid)
        samples = []
        for _ in range(REPS):
            _drop()
            f0 = _free()
            _import_all()
            samples.append(f0 - _free())
        mods = [m for m in sys.modules if _mine(m)]
        far = [m for m in mods if not str(getattr(sys.modules[m], "__file__", "")).startswith(_ROM + "/")]
        checked = _in_place(img)
        out("fig", fid, "ws2", samples)
        out("note", fid, "ws2", "ROMFS image of the deployed bundle (%d B, mpremote's romfs builder) read into the "
            "heap before the import, where it stands for the flash partition / frozen firmware (not counted), "
            "mounted with vfs.VfsRom at %s, first on sys.path; %d of %d modules from %s%s" % (
                len(img), _ROM, len(mods) - len(far), len(mods), _ROM,
                (" (not: %s)" % " ".join(sorted(far))) if far else ""))
        if isinstance(checked, str):
            out("note", fid, "ws2", "in place: %s" % checked)
            return
        inside, outside, native = checked
        # The control: the same modules from the filesystem's .mpy files, the image still in memory.
        _drop()
        sys.path[:] = path0
        _import_all()
        control = _in_place(img)
        apart = ""
        if native:
            apart = "; %d @micropython.native function(s) apart (%s): the loader copies machine code out of the " \
                "image" % (len(native), " ".join(native))
        out("note", fid, "ws2", "in place: the bytecode of %d of %d functions lies inside the image (the code "
            "pointer of each function object, read with uctypes)%s%s; control, imported from the filesystem: %d "
            "of %d" % (inside, inside + len(outside), ", outside: " + " ".join(outside) if outside else "", apart,
                       control[0], control[0] + len(control[1])))
    finally:
        _drop()
        sys.path[:] = path0
        # The image stays mounted and in memory: qstrs the import made point into it; the soft reset ends it.


def per_socket():
    fid = "ram_per_socket"
    n = _N_SOCK
    socks = [None] * n
    hs = [0] * n

    def make_raw():
        addr = raw_addr(HOST, P["echo"])
        sock = socket.socket

        def run():
            f0 = _free()
            i = 0
            while i < n:
                k = sock(socket.AF_INET, socket.SOCK_STREAM)
                socks[i] = k
                if not _OFFLINE:
                    k.connect(addr)
                i += 1
            d = f0 - _free()
            i = 0
            while i < n:
                socks[i].close()
                socks[i] = None
                i += 1
            return d / n

        run()
        return run

    def make_ws2():
        addr = (HOST, P["echo"])
        w = ws2

        def run():
            f0 = _free()
            i = 0
            while i < n:
                h = w.socket(w.AF_INET, w.SOCK_STREAM, w.IPPROTO_TCP)
                hs[i] = h
                if not _OFFLINE:
                    w.connect(h, addr)
                i += 1
            d = f0 - _free()
            i = 0
            while i < n:
                w.closesocket(hs[i])
                hs[i] = 0
                i += 1
            return d / n

        run()  # warm-up: the provider is loaded by the first socket
        return run

    pair(fid, make_raw, make_ws2)
    if _OFFLINE:
        out("note", fid, None, "sockets created, not connected, on both sides (%s); a connection's own state "
            "lives in the port's socket on both sides, not in the router" % _OFFLINE)


def per_overlapped():
    fid = "ram_per_overlapped"
    n = _N_OV
    try:
        ovs = [ws2.WSAOverlapped() for _ in range(n + 1)]
        bufs = [bytearray(64) for _ in range(n + 1)]
        f0 = _free()
        extra = ws2.WSAOverlapped()
        out("note", fid, "ws2", "a WSAOverlapped itself (the caller's): %d B" % (f0 - _free()))
        del extra
    except Exception as e:
        out("miss", fid, "ws2", why(e))
        return

    def issue(s, k):
        try:
            ws2.WSARecv(s, bufs[k], 0, ovs[k])
        except OSError as e:
            if e.args[0] != _WSA_IO_PENDING:
                raise
            return
        raise OSError("WSARecv completed at once: the echo peer sent something")

    def run():
        if _OFFLINE:
            return _over_loopback(run_on)
        return run_on(tcp_ws2(P["echo"])[0])

    def run_on(s):
        try:
            issue(s, n)  # the socket's queue exists before the measurement
            f0 = _free()
            i = 0
            while i < n:
                issue(s, i)
                i += 1
            return (f0 - _free()) / n
        finally:
            ws2.closesocket(s)  # aborts the pending requests

    measure(fid, [("ws2", run)])
    if _OFFLINE:
        out("note", fid, "ws2", "requests pending on a providers.loopback connection (%s)" % _OFFLINE)


def _over_loopback(fn):
    # fn(s) with s the accepting end of a providers.loopback TCP connection; the catalog is restored after.
    from providers import loopback

    loopback.install()
    ls = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
    c = a = None
    try:
        ws2.bind(ls, ("127.0.0.1", 0))
        ws2.listen(ls, 1)
        c = ws2.socket(ws2.AF_INET, ws2.SOCK_STREAM, 0)
        ws2.connect(c, ("127.0.0.1", ws2.getsockname(ls)[1]))
        a = ws2.accept(ls)[0]
        return fn(a)
    finally:
        for h in (c, ls):
            if h is not None:
                ws2.closesocket(h)
        ws2.catalog.reset()


def max_sockets():
    fid = "max_sockets"
    cap = 255
    from ws2 import board, handles

    out("note", fid, None, "board table: %d handles (ws2.board); raised here to %d to find the heap's limit"
        % (board.default_capacity(), cap))
    _cleanup()
    # The handle's 8-bit slot field allows 255; boards use fewer. WSAStartup
    # sizes the table from settings or ws2.board: patched here in RAM only (a
    # soft reset follows), so the board's flash settings stay untouched.
    board.default_capacity = lambda: cap
    handles.init(cap)
    ws2.WSAStartup(0x0202)
    if handles.capacity != cap:
        out("note", fid, None, "the table stayed at %d handles (max_sockets setting)" % handles.capacity)
    for side in ("raw", "ws2"):
        hs = [None] * cap
        count = 0
        err = None
        f0 = _free()
        try:
            while count < cap:
                if side == "raw":
                    hs[count] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                else:
                    hs[count] = ws2.socket(ws2.AF_INET, ws2.SOCK_DGRAM, ws2.IPPROTO_UDP)
                count += 1
        except Exception as e:
            err = e  # formatted once the sockets are closed: the heap may be full now
        free = gc.mem_free()
        i = 0
        while i < count:
            close(hs[i])
            hs[i] = None
            i += 1
        hs = None
        gc.collect()
        used = f0 - free
        out("fig", fid, side, [count])
        reason = why(err) if err is not None else "the %d-socket cap of the test" % cap
        est = ""
        if count and free > 0 and used > 0:
            est = "; %d B free then, room for about %d more" % (free, free * count // used)
        out("note", fid, side, "%sstopped by %s%s" % ("ws2 " if side == "ws2" else "", reason, est))


if P.get("ram_pass") == "romfs":
    _IMG = load_image()  # a global: the mount keeps only a pointer to it, and it must outlive the import
    try:
        romfs(_IMG)
    except Exception as _e:
        out("miss", "ram_import_rom", "ws2", why(_e))
else:
    imports()
    start()
    for _step in (per_socket, per_overlapped, max_sockets):
        try:
            _step()
        except Exception as _e:
            out("miss", _step.__name__, "ws2", why(_e))
    _cleanup()
