#!/usr/bin/env python3
"""Compares two DS4_DUMP_NODES directories (plugins/common/node_dump.h) written by the same
graph on two backends and prints the first nodes whose outputs differ in their bits.
Usage: compare_dumps.py DIR_A DIR_B [N]  (N: how many differing nodes to print, default 5)."""
import array, os, sys

a_dir, b_dir = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 5
names = sorted(f for f in os.listdir(a_dir) if f.endswith(".bin"))
if not names:
    sys.exit(f"compare_dumps: no node dumps in {a_dir}")
shown = same = 0
for name in names:
    pb = os.path.join(b_dir, name)
    if not os.path.exists(pb):
        print(f"{name}: missing in {b_dir}")
        continue
    da, db = open(os.path.join(a_dir, name), "rb").read(), open(pb, "rb").read()
    if da == db:
        same += 1
        continue
    shown += 1
    if shown > limit:
        continue
    if len(da) != len(db) or len(da) % 4:
        print(f"{name}: {len(da)} vs {len(db)} bytes differ")
        continue
    fa, fb = array.array("f", da), array.array("f", db)
    diff = [i for i in range(len(fa)) if da[4 * i:4 * i + 4] != db[4 * i:4 * i + 4]]
    m = max(abs(fa[i] - fb[i]) for i in diff)
    i = diff[0]
    print(f"{name}: {len(diff)} of {len(fa)} elements differ, max |d| {m:.3g} (as f32), "
          f"first [{i}] {fa[i]!r} vs {fb[i]!r}")
print(f"{same} of {len(names)} node outputs bit-identical, {shown} differ")
