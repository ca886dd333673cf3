#!/usr/bin/env python
"""Wall and CPU time of ``tools/make_synthetic.py`` at the size ``make demo`` uses.

Runs the tool as a subprocess (so the worker processes' start-up, imports and file writing count)
and reports wall seconds, the CPU seconds of the tool and its workers (user + system), the load
average before and after (the development machines are shared: CPU seconds are the number that
does not depend on other people's jobs), the dataset's size on disk and the tool's own JSON summary.

    OMP_NUM_THREADS=1 python benchmarks/bench_make_synthetic.py \
        --output docs/results/make_synthetic_figures.txt \
        -- --style figures --num-images 600 --num-test 200 --workers 2 --seed 0

Arguments after ``--`` go to make_synthetic.py (``--output``, ``--overwrite`` and ``--no-progress``
are added: the dataset goes to a temporary folder, deleted afterwards unless ``--keep``).
"""

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _disk_bytes(folder):
    return sum(
        os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files
    )


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--output", required=True, help="text file receiving the command and its results"
    )
    p.add_argument(
        "--keep",
        default=None,
        help="write the dataset here and keep it (default: a deleted temp folder)",
    )
    p.add_argument(
        "tool_args", nargs=argparse.REMAINDER, help="-- then make_synthetic.py arguments"
    )
    args = p.parse_args(argv)
    tool_args = [a for a in args.tool_args if a != "--"]
    folder = args.keep or tempfile.mkdtemp(prefix="bench_make_synthetic_")
    command = [
        sys.executable,
        os.path.join(REPO, "tools", "make_synthetic.py"),
        *tool_args,
        "--output",
        folder,
        "--overwrite",
        "--no-progress",
    ]
    load_before = os.getloadavg()
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_after = os.getloadavg()
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    summary = json.loads(result.stdout)
    report = {
        "wall_seconds": round(wall, 1),
        "cpu_seconds_user": round(usage.ru_utime - usage_before.ru_utime, 1),
        "cpu_seconds_system": round(usage.ru_stime - usage_before.ru_stime, 1),
        "load_average_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "cpu_count": os.cpu_count(),
        "dataset_megabytes": round(_disk_bytes(folder) / 1e6, 1),
        "make_synthetic_summary": summary,
    }
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    shown = " ".join(
        shlex.quote(a)
        for a in [
            "python",
            "benchmarks/bench_make_synthetic.py",
            "--output",
            args.output,
            "--",
            *tool_args,
        ]
    )
    with open(args.output, "w") as f:
        f.write(f"$ OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} {shown}\n")
        f.write(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
