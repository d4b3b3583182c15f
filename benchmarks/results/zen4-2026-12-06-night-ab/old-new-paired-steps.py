"""Old and new builds stepping in turn, one process each (stdin 'step' -> ms), ratio new/old per pair."""
import os, subprocess, sys, statistics, json
WORKER = r'''
import sys, time
sys.path.insert(0, "/work/main/benchmarks")
import bench_vs_torch as b
name = sys.argv[1]
cfg = next({**b.COMMON, **r} for r in b.TRAINING if r["name"] == name)
gan, step = b.swiftgan_step(cfg, 2)
for _ in range(3): step()
print("ready", flush=True)
for line in sys.stdin:
    time.sleep(0.05)
    t = time.perf_counter(); step(); print((time.perf_counter() - t) * 1e3, flush=True)
'''
row, n = sys.argv[1], int(sys.argv[2])
procs = {}
for tag, pp in (("old", "/tmp/old-sg"), ("new", None)):
    env = dict(os.environ)
    if pp: env["PYTHONPATH"] = pp
    else: env.pop("PYTHONPATH", None)
    procs[tag] = subprocess.Popen([sys.executable, "-c", WORKER, row], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert procs[tag].stdout.readline().strip() == "ready"
times = {"old": [], "new": []}
for i in range(n):
    for tag in (("old", "new") if i % 2 == 0 else ("new", "old")):
        p = procs[tag]; p.stdin.write("step\n"); p.stdin.flush(); times[tag].append(float(p.stdout.readline()))
for p in procs.values(): p.stdin.close(); p.wait()
ratios = [b / a for a, b in zip(times["old"], times["new"])]
print(f"{row}: old {statistics.median(times['old']):.1f} ms, new {statistics.median(times['new']):.1f} ms, median pair ratio new/old {statistics.median(ratios):.3f} ({n} pairs)")
