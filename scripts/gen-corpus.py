#!/usr/bin/env python3
"""Writes a rootfs-like benchmark tree: ~N small files in nested directories
(sizes skewed small, 100 B - 64 KiB, like /usr), some symlinks and hard links,
and optionally one large file. Deterministic for a given seed."""
import argparse
import os
import random

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("dest")
p.add_argument("--files", type=int, default=20000)
p.add_argument("--big-mib", type=int, default=1024, help="0 for none")
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()

rng = random.Random(a.seed)
top = ["bin", "etc", "lib", "usr/bin", "usr/lib", "usr/share/doc",
       "usr/share/locale", "usr/lib/python3", "var/lib"]
dirs = []
for t in top:
    for i in range(a.files // 400 + 1):
        d = os.path.join(a.dest, t, f"pkg{i:03d}")
        os.makedirs(d, exist_ok=True)
        dirs.append(d)
os.makedirs(os.path.join(a.dest, "etc"), exist_ok=True)
with open(os.path.join(a.dest, "etc/hostname"), "w") as f:
    f.write("bench\n")

chunk = os.urandom(1 << 20)
made = []
for n in range(a.files):
    size = min(65536, int(rng.lognormvariate(7.5, 1.3)) + 100)
    path = os.path.join(rng.choice(dirs), f"file{n:05d}.dat")
    off = rng.randrange(0, len(chunk) - size)
    with open(path, "wb") as f:
        f.write(chunk[off:off + size])
    made.append(path)
for n in range(0, len(made), 50):
    os.symlink(os.path.basename(made[n]), made[n] + ".link")
for n in range(25, len(made), 200):
    os.link(made[n], made[n] + ".hard")

if a.big_mib:
    with open(os.path.join(a.dest, "big.bin"), "wb") as f:
        for _ in range(a.big_mib):
            f.write(os.urandom(1 << 20))
