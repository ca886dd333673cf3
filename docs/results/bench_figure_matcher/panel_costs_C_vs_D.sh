# Figure matcher cost at 1500 x 1000 px against the panel count, before (2d81281) and after this change,
# /tmp/ref_head is a worktree of the commit before (git worktree add /tmp/ref_head 2d81281); /work/main is D.
# alternating A B A B in one run on the same machine (one thread each, process CPU seconds).
for round in 1 2; do
  for tree in /tmp/ref_head /work/main; do
    (cd $tree && OMP_NUM_THREADS=1 /work/main/.venv/bin/python -W ignore -c "
import sys, json; sys.path[:0] = ['.', 'benchmarks']
import subprocess, bench_figure_matcher as b
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
print(json.dumps({'round': $round, 'commit': commit, 'panel_costs': b.panel_count_costs()}))" 2>/dev/null)
  done
done
