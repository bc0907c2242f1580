#!/usr/bin/env bash
# Nsight Compute on the kernels of a few decode steps of the full-width 4-layer q2 model
# (made by the bench step): per kernel its duration, DRAM and SM throughput and the top warp
# stall reasons, to tell latency-bound kernels from bandwidth-bound ones.
# Usage on the GPU machine: tests/gpu/ncu_decode.sh CARRY_DIR [KERNEL_REGEX] [SKIP] [COUNT]
set -uo pipefail
C=$(cd "${1:-.gpucarry}" && pwd)
RX=${2:-.}
SKIP=${3:-600}
COUNT=${4:-200}
O=${OUT:-/tmp/gpu-out}; mkdir -p "$O"
export LD_LIBRARY_PATH="$C/lib:${LD_LIBRARY_PATH:-}"
NCU=${NCU:-$(command -v ncu || echo /usr/local/cuda/bin/ncu)}
MODEL=${BENCH_MODEL:-/tmp/ds4-bench-full-4l-q2.gguf}
STALLS=$(for r in long_scoreboard short_scoreboard barrier wait lg_throttle mio_throttle math_pipe_throttle \
  not_selected membar drain no_instruction dispatch_stall branch_resolving imc_miss tex_throttle selected; do
  printf 'smsp__average_warps_issue_stalled_%s_per_issue_active.ratio,' "$r"; done | sed 's/,$//')
[ -s "$MODEL" ] || "$C/bin/ds4-convert" --synthetic --preset full --layers 4 --recipe q2 --seed 1 --out "$MODEL" -q
DS4_GPU_GRAPHS=0 "$NCU" --kernel-name "regex:$RX" --launch-skip "$SKIP" --launch-count "$COUNT" \
  --section SpeedOfLight --section LaunchStats --metrics "$STALLS" --csv --page details \
  "$C/bin/ds4" -m "$MODEL" --backend cuda --numerics official --ctx 8192 -p "hello there" -n 12 --temp 0 \
  > "$O/ncu.csv" 2> "$O/ncu.err" || { tail -5 "$O/ncu.err"; exit 1; }
python3 - "$O/ncu.csv" <<'PY'
import csv, sys, collections, statistics
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
hdr = rows[0]; rows = rows[1:]
ix = {k: hdr.index(k) for k in ("ID", "Kernel Name", "Section Name", "Metric Name", "Metric Value")}
k = collections.defaultdict(dict)
for r in rows:
    k[(r[ix["ID"]], r[ix["Kernel Name"]][:70])][r[ix["Metric Name"]]] = r[ix["Metric Value"]]
by = collections.defaultdict(list)
for (i, name), m in k.items(): by[name].append(m)
def f(x):
    try: return float(x.replace(",", ""))
    except: return 0.0
out = []
for name, ms in by.items():
    dur = statistics.median(f(m.get("Duration", "0")) for m in ms)
    m = ms[len(ms) // 2]
    stalls = sorted(((f(v), kk) for kk, v in m.items() if "issue_stalled" in kk), reverse=True)[:3]
    out.append((dur * len(ms), dur, len(ms), name, m.get("DRAM Throughput", "?"), m.get("Compute (SM) Throughput", "?"),
                m.get("Grid Size", "?"), m.get("Block Size", "?"), stalls))
for tot, dur, n, name, dram, sm, grid, blk, st in sorted(out, reverse=True)[:40]:
    print(f"{dur:9.2f} us x{n:3d} dram {dram:>6}% sm {sm:>6}% grid {grid:>6} blk {blk:>4}  {name}")
    print("            " + ", ".join(f"{kk.split('stalled_')[1].split('_per')[0]} {v:.1f}" for v, kk in st))
PY
