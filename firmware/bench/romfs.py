# firmware/bench/romfs: a ROMFS image of the deployed bundle, put on the board for the in-place import figure.
# MIT licence; part of ws2 for MicroPython.
import os

ROMFS_ROOM_KB = 256  # heap added to a virtual board for the ROMFS image (the bundle is ~150 KB)

ROMFS_PATH = "/bench.romfs"  # on the board's filesystem, while the bench runs



def romfs_image(files):
    """A ROMFS image, built with mpremote's romfs builder, of the bundle's /lib files [(board path, bytes)]:
    its root holds ws2/ and providers/, so mounted at /rom, "/rom" on sys.path imports them."""
    import contextlib
    import io
    import shutil
    import tempfile

    from mpremote.romfs import make_romfs

    tmp = tempfile.mkdtemp(prefix="ws2-romfs-")
    try:
        n = 0
        for path, data in files:
            if not path.startswith("/lib/"):
                continue
            dst = os.path.join(tmp, *path[len("/lib/"):].split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(data)
            n += 1
        if not n:
            raise ValueError("no /lib files in the bundle")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                return make_romfs(tmp, mpy_cross=False)  # .mpy only: nothing to compile
            except SystemExit:
                raise OSError("mpremote's romfs builder failed: %s" % err.getvalue().strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def deployed_files(board, flash_dir=None):
    """The bundle deploy put on the board, [(board path, bytes)]: read back from a virtual board's flash
    (flash_dir: what it runs, whatever arch it was compiled for), else compiled again for the board."""
    if not flash_dir:
        from firmware.deploy import snapshot

        return snapshot(board)
    from firmware import bundle

    got = []
    lib = os.path.join(flash_dir, "lib")
    for pkg in bundle.PACKAGES:
        for top, dirs, names in os.walk(os.path.join(lib, pkg)):
            dirs.sort()
            for n in sorted(names):
                if n.endswith((".mpy", ".py")):
                    local = os.path.join(top, n)
                    with open(local, "rb") as f:
                        got.append(("/lib/" + os.path.relpath(local, lib).replace(os.sep, "/"), f.read()))
    return got


def put_romfs(dev, files, flash_dir=None):
    """Put a ROMFS image of the bundle (files: [(board path, bytes)], or a function returning them) on the
    board at ROMFS_PATH (a virtual board's flash is flash_dir); return the device scripts' params:
    {"romfs": {"path", "size"} or None, "romfs_missing": why or None}."""
    try:
        img = romfs_image(files() if callable(files) else files)
    except Exception as e:
        return {"romfs": None, "romfs_missing": "no ROMFS image (%s: %s)" % (type(e).__name__, e)}
    try:
        has, free = dev.eval("(hasattr(__import__('vfs'), 'VfsRom'), __import__('gc').mem_free())")
    except Exception as e:
        return {"romfs": None, "romfs_missing": "cannot ask the board for vfs.VfsRom (%s: %s)" % (
            type(e).__name__, str(e).splitlines()[-1] if str(e) else "")}
    if not has:
        return {"romfs": None, "romfs_missing": "this MicroPython has no vfs.VfsRom (ROMFS: MicroPython >= 1.25 "
                "built with MICROPY_VFS_ROM)"}
    if free < len(img) + 16 * 1024:
        return {"romfs": None, "romfs_missing": "the ROMFS image (%d B) does not fit in the heap (%d B free) with "
                "the imports: measure a board with ws2 frozen or in its ROMFS partition instead" % (len(img), free)}
    try:
        if flash_dir:
            with open(os.path.join(flash_dir, ROMFS_PATH.lstrip("/")), "wb") as f:
                f.write(img)
        else:
            dev.write_file(ROMFS_PATH, img)
    except Exception as e:
        return {"romfs": None, "romfs_missing": "cannot copy the ROMFS image to the board (%s: %s)" % (
            type(e).__name__, e)}
    return {"romfs": {"path": ROMFS_PATH, "size": len(img)}, "romfs_missing": None}


def drop_romfs(dev):
    """Remove the image put_romfs copied (a real board's flash is not the bench's to fill)."""
    try:
        dev.exec("import os\ntry:\n    os.remove(%r)\nexcept OSError:\n    pass" % ROMFS_PATH)
    except Exception:
        pass
