# Figure matcher cost at 1500 x 1000 px against the panel count, two commits side by side: the worktree
# BEFORE and the worktree AFTER alternating (BEFORE AFTER BEFORE AFTER) in one run on the same machine,
# one thread each, process CPU seconds, each after the same untimed warm-up call.
# Usage: bash panel_costs_alternating.sh BEFORE_TREE AFTER_TREE > OUT.jsonl
#   panel_costs_E_vs_F.jsonl: BEFORE = /tmp/ref_E (git worktree add /tmp/ref_E 69c0b9b), AFTER = /work/main at 3f4393e
#   panel_costs_F_vs_G.jsonl: BEFORE = /tmp/ref_F2 (git worktree add /tmp/ref_F2 00cc67f), AFTER = /work/main at e810718
#   panel_costs_M_vs_N.jsonl: BEFORE = /tmp/ref_M (git worktree add /tmp/ref_M 632f023), AFTER = /work/main at 61c88c8
#   panel_costs_N_vs_P.jsonl: BEFORE = /tmp/ref_N (git worktree add /tmp/ref_N 45c7481), AFTER = /work/main at d0d1a13
before=${1:?before tree}
after=${2:?after tree}
for round in 1 2; do
  for tree in "$before" "$after"; do
    (cd "$tree" && OMP_NUM_THREADS=1 /work/main/.venv/bin/python -W ignore -c "
import sys, json; sys.path[:0] = ['.', 'benchmarks']
import subprocess, bench_figure_matcher as b
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
b.panel_count_costs(counts=(1,))  # warm-up, untimed
print(json.dumps({'round': $round, 'commit': commit, 'panel_costs': b.panel_count_costs()}))" 2>/dev/null)
  done
done
