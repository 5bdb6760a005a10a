"""Run every benchmark (B1-B6) one after the other and print a summary of their exit statuses and run times.

Each benchmark prints its own table (copied here as it runs, and saved to ``--out``/<id>.txt); they run
sequentially because they share the machine's two cores, PostgreSQL and Redis with one another.

    .venv/bin/python bench/run_all.py [--only B2,B5] [--out DIR]

Exit status 1 if any benchmark missed its target (or failed to run).
"""

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

# id -> (script, arguments, what it measures, time limit in seconds)
BENCHMARKS: dict[str, tuple[str, list[str], str, int]] = {
    "B1": ("agents_b1.py", [], "widget message over HTTP (gunicorn, 16 clients)", 600),
    "B1-in-process": ("agents.py", [], "builtin responder and widget path in process", 900),
    "B2": ("inbox_live.py", [], "escalation → 50 staff sockets (Redis layer)", 600),
    "B3": ("escalation.py", [], "decision engine, decisions/s", 300),
    "B4": ("segments.py", [], "segments in memory and over 1M contacts", 1800),
    "B5": ("inbox_list.py", [], "inbox list first page at 1k/10k/100k tickets", 900),
    "B6": ("notifications.py", [], "1,000 escalations against a 1 msg/s Slack", 900),
    "B8": ("report.py", ["--turns", "1000000"], "escalation report, one agent, 90 days, 1M turns", 2400),
    "B10": ("inbox_search.py", [], "inbox search at 1M messages, 100k tickets", 2400),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. B2,B5")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "halo_bench"))
    options = parser.parse_args()
    wanted = [name.strip() for name in options.only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = set(wanted) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for name in wanted:
        script, arguments, what, limit = BENCHMARKS[name]
        print(f"\n=== {name}: {what} (bench/{script}) ===", flush=True)
        started = time.monotonic()
        log = out / f"{name}.txt"
        with log.open("w") as saved:
            process = subprocess.Popen(
                [sys.executable, str(harness.ROOT / "bench" / script), *arguments],
                cwd=harness.ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            watchdog = threading.Timer(limit, process.kill)  # a stuck benchmark is stopped, not waited for
            watchdog.start()
            assert process.stdout is not None
            for line in process.stdout:
                print(line, end="", flush=True)
                saved.write(line)
            status = process.wait()
            timed_out = not watchdog.is_alive()
            watchdog.cancel()
        outcome = f"timed out after {limit} s" if timed_out else "pass" if status == 0 else f"miss (exit {status})"
        rows.append((name, what, outcome, f"{time.monotonic() - started:.0f} s", str(log)))

    print(f"\n{harness.machine_load()}\n")
    harness.print_table(("benchmark", "measures", "target", "run time", "output"), rows)
    return 0 if all(row[2] == "pass" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
