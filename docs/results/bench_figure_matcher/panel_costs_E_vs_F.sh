# Figure matcher cost at 1500 x 1000 px against the panel count, before (E, 69c0b9b) and after the
# speed-ups of stage F, alternating E F E F in one run on the same machine (one thread each,
# process CPU seconds). /tmp/ref_E is a worktree of E (git worktree add /tmp/ref_E 69c0b9b); /work/main is F.
# Both trees get the same untimed warm-up call first (E's benchmark did not have one).
for round in 1 2; do
  for tree in /tmp/ref_E /work/main; do
    (cd $tree && OMP_NUM_THREADS=1 /work/main/.venv/bin/python -W ignore -c "
import sys, json; sys.path[:0] = ['.', 'benchmarks']
import subprocess, bench_figure_matcher as b
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
b.panel_count_costs(counts=(1,))  # warm-up, untimed
print(json.dumps({'round': $round, 'commit': commit, 'panel_costs': b.panel_count_costs()}))" 2>/dev/null)
  done
done
