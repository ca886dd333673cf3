# Figure matcher cost at 1500 x 1000 px against the panel count, before (F, 00cc67f) and after stage G
# (grain hashing on the figure's own pixels), alternating F G F G in one run on the same machine (one
# thread each, process CPU seconds, each after an untimed warm-up call). /tmp/ref_F2 is a worktree of F
# (git worktree add /tmp/ref_F2 00cc67f); /work/main is G.
for round in 1 2; do
  for tree in /tmp/ref_F2 /work/main; do
    (cd $tree && OMP_NUM_THREADS=1 /work/main/.venv/bin/python -W ignore -c "
import sys, json; sys.path[:0] = ['.', 'benchmarks']
import subprocess, bench_figure_matcher as b
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
b.panel_count_costs(counts=(1,))  # warm-up, untimed
print(json.dumps({'round': $round, 'commit': commit, 'panel_costs': b.panel_count_costs()}))" 2>/dev/null)
  done
done
