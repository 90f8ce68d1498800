# firmware/bench/stats: the bench's arithmetic: median and spread of repetitions, ratios, verdicts, numbers.
# MIT licence; part of ws2 for MicroPython.
import statistics


def summarize(samples):
    """Median and spread of one side's repetitions: n, median, min, max, q1, q3 and the samples in run order."""
    xs = [float(x) for x in samples]
    if not xs:
        raise ValueError("no samples")
    s = sorted(xs)
    q1, q3 = (statistics.quantiles(s, n=4, method="inclusive")[::2] if len(s) > 1 else (s[0], s[0]))
    return {"n": len(s), "median": statistics.median(s), "min": s[0], "max": s[-1], "q1": q1, "q3": q3,
            "samples": xs}


def ratio(ws2_side, raw_side):
    """ws2's median over raw's (None when either is missing or raw's is 0)."""
    if not measured(ws2_side) or not measured(raw_side) or not raw_side["median"]:
        return None
    return ws2_side["median"] / raw_side["median"]


def paired_spread(ws2_side, raw_side):
    """[min, max] of the per-repetition ratios (the repetitions are interleaved), or None."""
    if not measured(ws2_side) or not measured(raw_side):
        return None
    pairs = [w / r for w, r in zip(ws2_side["samples"], raw_side["samples"]) if r]
    return [min(pairs), max(pairs)] if pairs else None


def verdict(value, op, limit):
    """'met' or 'not met' for value op limit ('<=' or '>='); 'missing' when value is None."""
    if value is None:
        return "missing"
    return "met" if (value <= limit if op == "<=" else value >= limit) else "not met"


def import_estimate32(fs, rom, scale=0.5):
    """32-bit estimate of the import from .mpy files measured on a wider port: (fs - rom) + rom * scale.

    fs - rom is what the filesystem import copies from the .mpy (bytecode, strings, constants: the same bytes
    on a 32-bit port); rom, the import that runs in place, is mostly objects made of words.
    """
    return max(fs - rom, 0) + rom * scale


def measured(side):
    """True when a side of a figure holds samples (not None, not {"missing": why})."""
    return isinstance(side, dict) and "median" in side


def fmt(x):
    """A number for the table: 3 significant digits, no exponent, thousands separated."""
    if x is None:
        return "-"
    if float(x).is_integer():
        return "{:,}".format(int(x))
    a = abs(x)
    if a >= 1000:
        return "{:,.0f}".format(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3f" % x
