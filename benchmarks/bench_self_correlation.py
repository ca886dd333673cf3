#!/usr/bin/env python
"""Time and peak memory of the copy-move self-correlation, chunked vs unchunked.

    OMP_NUM_THREADS=1 python benchmarks/bench_self_correlation.py --sides 64 128 --dim 64 --topk 16

For each feature-map side S (an image of 16*S px at stride 16) and each chunk setting, a fresh
subprocess runs ``self_correlation_topk`` forward + backward once on a ``1 x DIM x S x S`` map and
reports the wall time and the growth of its peak RSS (``ru_maxrss``), so the runs do not share an
allocator high-water mark. ``--no-unchunked`` skips the unchunked run (its L x L matrix is 1 GB at
S = 128).
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

UNCHUNKED = 1 << 60


def measure(side, dim, topk, radius, chunk_elements):
    """Run in this process: (seconds, peak RSS growth in MB) of one forward + backward."""
    import resource
    import time

    import torch

    import forgery_d2  # noqa: F401
    from forgery_d2.modeling.self_correlation import self_correlation_topk

    features = torch.randn(
        1, dim, side, side, generator=torch.Generator().manual_seed(0), requires_grad=True
    )
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    self_correlation_topk(features, topk, radius, chunk_elements).sum().backward()
    seconds = time.perf_counter() - start
    return seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sides", type=int, nargs="+", default=[32, 64])
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--topk", type=int, default=16)
    p.add_argument("--radius", type=int, default=2)
    p.add_argument("--chunk-elements", type=int, default=1 << 22)
    p.add_argument("--no-unchunked", action="store_true")
    p.add_argument("--child", type=str, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        side, chunk = json.loads(args.child)
        print(json.dumps(measure(side, args.dim, args.topk, args.radius, chunk)))
        return
    chunks = [args.chunk_elements] + ([] if args.no_unchunked else [UNCHUNKED])
    print("| side | L | chunk elements | fwd+bwd s | peak RSS growth MB |\n|---|---|---|---|---|")
    for side in args.sides:
        for chunk in chunks:
            out = (
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--dim",
                        str(args.dim),
                        "--topk",
                        str(args.topk),
                        "--radius",
                        str(args.radius),
                        "--child",
                        json.dumps([side, chunk]),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            seconds, growth = json.loads(out)
            label = "unchunked" if chunk == UNCHUNKED else str(chunk)
            print(f"| {side} | {side * side} | {label} | {seconds:.3f} | {growth:.0f} |")


if __name__ == "__main__":
    main()
