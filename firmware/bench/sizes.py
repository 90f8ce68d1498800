# firmware/bench/sizes: the bundle's flash size for every board under boards/ (one build per arch).
# MIT licence; part of ws2 for MicroPython.
import os

from firmware import boards


def flash_sizes(out_dir, o3=False):
    """Bundle size of every board under boards/ (one build per arch): {board: {arch, bytes | missing, budget,
    largest (the ten biggest modules), bytes_O3 (when o3 and bundle.build takes opt)}}."""
    from concurrent.futures import ThreadPoolExecutor

    from firmware import bundle

    by_arch = {}
    result = {}
    for name in boards.names():
        try:
            b = boards.load(name)
        except Exception as e:
            result[name] = {"arch": "?", "missing": str(e), "budget": 110 * 1024}
            continue
        result[name] = {"arch": b["mpy_arch"], "budget": b.get("flash_budget_kb", 110) * 1024}
        by_arch.setdefault(b["mpy_arch"], name)

    def build(arch):
        got = {}
        try:
            built = bundle.build(by_arch[arch], out_dir=os.path.join(out_dir, arch))
            got["bytes"] = sum(n for _, n in built)
            got["tcp_bytes"] = bundle.budgets(by_arch[arch], built)[0][1]
            got["largest"] = sorted(built, key=lambda m: -m[1])[:10]
        except Exception as e:
            return arch, {"missing": str(e)}
        if o3:
            try:
                built = bundle.build(by_arch[arch], out_dir=os.path.join(out_dir, arch + "-O3"), opt=3)
                got["bytes_O3"] = sum(n for _, n in built)
            except Exception:
                pass  # an older bundle.build without opt=: the -O3 figure is only informative
        return arch, got

    with ThreadPoolExecutor(max_workers=max(1, min(len(by_arch), os.cpu_count() or 1))) as pool:
        built = dict(pool.map(build, sorted(by_arch)))
    for name, e in result.items():
        if "missing" not in e:
            e.update(built[e["arch"]])
    return result
