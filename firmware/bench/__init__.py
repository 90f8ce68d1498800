# firmware/bench: `make bench`: what the router costs, measured against raw MicroPython sockets in the same run.
# MIT licence; part of ws2 for MicroPython.
#
# The host starts the board (virtual unless a port is given), deploys the
# bundle, starts the peers the board talks to (firmware/peers.py: TCP echo,
# sink/source and listener, UDP echo and sink, DNS, TLS) and runs the device
# scripts board_scripts/bench_*.py one after the other, each after a soft
# reset. Every script measures the raw `socket` module and ws2 side by side,
# with their repetitions interleaved, and prints one "@R (kind, figure, side,
# value)" line per result. Here those become figures (median and spread of
# the repetitions, ratio ws2/raw), budget verdicts (docs/testing.md),
# build/bench/<BOARD>.json and a Markdown report. Nothing that cannot be
# measured stops the run: it is reported as "missing: reason".
#
#   stats    medians, spreads, ratios, verdicts, number formatting
#   figures  the figures, budgets and repetition counts; results -> figures -> verdicts
#   report   the JSON report, its Markdown and chart
#   romfs    the ROMFS image of the bundle (the in-place import figure)
#   sizes    the bundle's flash size per board
#   runner   one run: board, deploy, peers, device scripts
from firmware.bench.figures import (BUDGETS, FIGURE_IDS, FIGURES, FULL, IMPORT_FORMULA, ORDER, QUICK, SCHEMA,
                                    apply_results, budgets, finish, new_figures, parse_lines)
from firmware.bench.report import OUT_DIR, assemble, chart, code_version, markdown, write
from firmware.bench.romfs import ROMFS_PATH, deployed_files, drop_romfs, put_romfs, romfs_image
from firmware.bench.runner import (ECHO_SCRIPT, SCRIPTS, BenchError, echo_result, run, run_script, script_code,
                                   source_echo)
from firmware.bench.sizes import flash_sizes
from firmware.bench.stats import fmt, import_estimate32, measured, paired_spread, ratio, summarize, verdict

__all__ = ["BUDGETS", "FIGURE_IDS", "FIGURES", "FULL", "IMPORT_FORMULA", "ORDER", "QUICK", "SCHEMA", "apply_results",
           "budgets", "finish", "new_figures", "parse_lines", "OUT_DIR", "assemble", "chart", "code_version",
           "markdown", "write", "ROMFS_PATH", "deployed_files", "drop_romfs", "put_romfs", "romfs_image",
           "ECHO_SCRIPT", "SCRIPTS", "BenchError", "echo_result", "run", "run_script", "script_code", "source_echo",
           "flash_sizes", "fmt", "import_estimate32", "measured", "paired_spread", "ratio", "summarize", "verdict"]
