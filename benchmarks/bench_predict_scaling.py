#!/usr/bin/env python
"""tools/predict.py at scale: figures per second with 1 and 2 processes, and peak memory against
folder size and figure size. Every number is a real run of the tool (a subprocess), with the
training-free keypoint matcher (configs/matcher/keypoint_matcher.yaml).

1. **Throughput**: ``--figures`` real photo crops (scikit-image's coffee / chelsea / astronaut,
   256 px, one in three with a planted copy-move) screened with ``--num-gpus 1`` and ``2`` (CPU
   processes, gloo). figures/s = (N - 1) / (T(N) - T(1)): the start-up (imports, model, process
   spawn) is measured on a one-figure folder and taken out. The two submissions must be equal.
2. **Memory vs folder size**: folders of 1,000 / 10,000 / 100,000 files (hard links to 4 real
   32 px crops), one process, the matcher without upscaling (``DETECT_MIN_SIZE 32``: the run
   measures the tool around the model): peak RSS summed over the tool's processes (its
   image-reading workers included) and of its largest process, sampled every 0.2 s with psutil.
3. **Memory vs figure size**: ``--large`` figures of 4000 x 3000 px against the same number of
   256 px figures.

    OMP_NUM_THREADS=1 python benchmarks/bench_predict_scaling.py \
        --output output/bench_predict_scaling [--only throughput,folder_size,figure_size]

Writes ``results.json`` and prints Markdown tables (docs/results/bench_predict_scaling.txt keeps the
raw output of the documented run).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import psutil
import skimage.data

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from forgery_d2.data.synthetic.copy_move import plant_copy_move  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MATCHER = os.path.join(ROOT, "configs", "matcher", "keypoint_matcher.yaml")
PHOTOS = (skimage.data.coffee, skimage.data.chelsea, skimage.data.astronaut)


def write_crops(folder, count, side=256, seed=0):
    """``count`` real photo crops of ``side`` px, one in three with a planted copy-move."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = PHOTOS[i % len(PHOTOS)]()
        y = int(rng.integers(0, photo.shape[0] - side))
        x = int(rng.integers(0, photo.shape[1] - side))
        crop = np.ascontiguousarray(photo[y : y + side, x : x + side])
        if i % 3 == 0:
            block = side // 5
            crop, _ = plant_copy_move(
                crop, (10, 10, 10 + block, 10 + block), (side - block - 10, side - block - 10)
            )
        cv2.imwrite(os.path.join(folder, f"{i:06d}.png"), crop[..., ::-1])


def write_linked_folder(folder, count, sources):
    """``count`` files: hard links to ``sources`` in turn (a large folder without the disk use)."""
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        os.link(sources[i % len(sources)], os.path.join(folder, f"{i:06d}.png"))


def write_large(folder, count, size=(3000, 4000)):
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        photo = cv2.resize(
            PHOTOS[i % len(PHOTOS)](), (size[1], size[0]), interpolation=cv2.INTER_CUBIC
        )
        block = size[0] // 8
        photo, _ = plant_copy_move(
            photo, (100, 100, 100 + block, 100 + block), (size[1] // 2, size[0] // 2)
        )
        cv2.imwrite(os.path.join(folder, f"{i:06d}.png"), photo[..., ::-1])


def run_predict(folder, output_dir, processes, extra=()):
    """Run tools/predict.py; returns (wall seconds, peak RSS summed over its processes and of the
    largest one, in MB, sampled every 0.2 s; its summary line) and the submission bytes."""
    shutil.rmtree(output_dir, ignore_errors=True)
    os.makedirs(output_dir)
    command = [
        sys.executable,
        os.path.join(ROOT, "tools", "predict.py"),
        "--config-file",
        MATCHER,
        "--input",
        folder,
        "--output",
        os.path.join(output_dir, "submission.csv"),
        "--num-gpus",
        str(processes),
        *extra,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONWARNINGS="ignore")
    # The tool's output goes to files: a pipe nobody reads fills up (64 KiB) and blocks the tool.
    stdout_path, stderr_path = (os.path.join(output_dir, n) for n in ("stdout.txt", "stderr.txt"))
    start = time.perf_counter()
    with open(stdout_path, "w") as stdout_file, open(stderr_path, "w") as stderr_file:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=stdout_file, stderr=stderr_file
        )
        peak_sum = peak_one = 0
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                rss = [p.memory_info().rss for p in [root] + root.children(recursive=True)]
                peak_sum, peak_one = max(peak_sum, sum(rss)), max(peak_one, max(rss))
            except psutil.Error:
                pass  # a process ended between the listing and the reading
            time.sleep(0.2)
    seconds = time.perf_counter() - start
    with open(stdout_path) as f:
        stdout = f.read()
    if process.returncode != 0:
        with open(stderr_path) as f:
            raise RuntimeError(f"predict failed ({process.returncode}): {f.read()[-2000:]}")
    with open(os.path.join(output_dir, "submission.csv"), "rb") as f:
        submission = f.read()
    return {
        "seconds": seconds,
        "peak_rss_sum_mb": peak_sum / 2**20,
        "max_process_rss_mb": peak_one / 2**20,
        "summary": stdout.strip().splitlines()[0] if stdout.strip() else "",
    }, submission


def throughput(work, figures):
    folder, one = os.path.join(work, "crops"), os.path.join(work, "one")
    write_crops(folder, figures)
    os.makedirs(one, exist_ok=True)
    shutil.copy(os.path.join(folder, "000001.png"), os.path.join(one, "000001.png"))
    rows, submissions = [], {}
    for processes in (1, 2):
        startup, _ = run_predict(one, os.path.join(work, f"out_one_{processes}"), processes)
        full, submissions[processes] = run_predict(
            folder, os.path.join(work, f"out_{processes}"), processes
        )
        rate = (figures - 1) / (full["seconds"] - startup["seconds"])
        rows.append(
            {
                "processes": processes,
                "figures": figures,
                "seconds": full["seconds"],
                "startup_seconds": startup["seconds"],
                "figures_per_s": rate,
                "peak_rss_sum_mb": full["peak_rss_sum_mb"],
                "summary": full["summary"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    same = submissions[1] == submissions[2]
    return {
        "rows": rows,
        "ratio_2_over_1": rows[1]["figures_per_s"] / rows[0]["figures_per_s"],
        "same_submission": same,
    }


# The folder-size runs measure the tool around the model (listing, records, resume index,
# assembly): the matcher without its upscaling of small images costs ~2 ms per 32 px figure.
CHEAP_MATCHER = ("MODEL.KEYPOINT_MATCHER.DETECT_MIN_SIZE", "32")


def memory_vs_folder_size(work, sizes):
    sources = os.path.join(work, "tiny_sources")
    write_crops(sources, 4, side=32, seed=1)
    files = sorted(os.path.join(sources, n) for n in os.listdir(sources))
    rows = []
    for size in sizes:
        folder = os.path.join(work, f"linked_{size}")
        shutil.rmtree(folder, ignore_errors=True)
        write_linked_folder(folder, size, files)
        result, _ = run_predict(folder, os.path.join(work, f"out_linked_{size}"), 1, CHEAP_MATCHER)
        rows.append({"files": size, **result, "figures_per_s": size / result["seconds"]})
        print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(folder)
    return rows


def memory_vs_figure_size(work, count):
    rows = []
    for name, writer in (
        ("256 px", lambda f: write_crops(f, count)),
        ("4000 x 3000 px", lambda f: write_large(f, count)),
    ):
        folder = os.path.join(work, f"size_{name.split()[0]}")
        writer(folder)
        result, _ = run_predict(folder, os.path.join(work, f"out_size_{name.split()[0]}"), 1)
        rows.append({"figure_size": name, "figures": count, **result})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(results):
    lines = []
    if "throughput" in results:
        lines += _throughput_table(results["throughput"])
    if "folder_size" in results:
        lines += _folder_size_table(results["folder_size"])
    if "figure_size" in results:
        lines += _figure_size_table(results["figure_size"])
    return "\n".join(lines)


def _throughput_table(result):
    lines = [
        "| processes | figures | wall s | start-up s | figures/s (start-up excluded) "
        "| peak RSS (sum) MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['processes']} | {r['figures']} | {r['seconds']:.1f} | "
            f"{r['startup_seconds']:.1f} | {r['figures_per_s']:.2f} | {r['peak_rss_sum_mb']:.0f} |"
        )
    lines.append(
        f"\n2 processes / 1 process: **{result['ratio_2_over_1']:.2f}x** figures/s; "
        f"same submission: {result['same_submission']}\n"
    )
    return lines


def _folder_size_table(rows):
    lines = [
        "| files in folder | wall s | figures/s | peak RSS (sum) MB | largest process MB |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['files']:,} | {r['seconds']:.1f} | {r['figures_per_s']:.1f} | "
            f"{r['peak_rss_sum_mb']:.0f} | {r['max_process_rss_mb']:.0f} |"
        )
    return lines + [""]


def _figure_size_table(rows):
    lines = [
        "| figure size | figures | wall s | peak RSS (sum) MB | largest process MB |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['figure_size']} | {r['figures']} | {r['seconds']:.1f} | "
            f"{r['peak_rss_sum_mb']:.0f} | {r['max_process_rss_mb']:.0f} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", required=True, help="folder for results.json")
    parser.add_argument(
        "--work",
        default=None,
        help="scratch folder for the generated figures (default: OUTPUT/work)",
    )
    parser.add_argument("--figures", type=int, default=48, help="figures of the throughput run")
    parser.add_argument("--folder-sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument(
        "--large", type=int, default=6, help="4000 px figures of the figure-size run"
    )
    parser.add_argument(
        "--only",
        default="throughput,folder_size,figure_size",
        help="comma-separated parts to run: throughput, folder_size, figure_size",
    )
    args = parser.parse_args()
    work = args.work or os.path.join(args.output, "work")
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.output, exist_ok=True)
    print(
        f"machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    parts = {
        "throughput": lambda: throughput(work, args.figures),
        "folder_size": lambda: memory_vs_folder_size(work, args.folder_sizes),
        "figure_size": lambda: memory_vs_figure_size(work, args.large),
    }
    results = {name: parts[name]() for name in args.only.split(",")}
    results["load_average_end"] = os.getloadavg()[0]
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(markdown(results))
    print(f"load average at the end {results['load_average_end']:.1f}")


if __name__ == "__main__":
    main()
