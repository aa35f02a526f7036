#!/usr/bin/env python3
# How a cached file's page cache lies in physical memory: maps the file,
# touches each page (only pages already cached are wanted: read the file
# first), then looks up each page's frame in /proc/self/pagemap and its
# flags in /proc/kpageflags. Prints the number of large folios, the number
# of runs of consecutive frames (1 = one contiguous stretch; the page count
# = no two neighbours adjacent) and the 2 MiB blocks touched. Warm reads of
# two equally cached files differed by up to a fifth on a VM, following
# these figures (docs/DESIGN.md). Needs root (frame numbers).
#
#   python3 scripts/page-contiguity.py MNT/big.bin [MAX_MIB]
import mmap
import os
import struct
import sys

KPF_COMPOUND_HEAD = 1 << 15
PFN_MASK = (1 << 55) - 1
PAGE = 4096


def main():
    path = sys.argv[1]
    max_bytes = int(sys.argv[2]) << 20 if len(sys.argv) > 2 else 1 << 62
    with open(path, "rb") as f:
        size = min(os.fstat(f.fileno()).st_size, max_bytes) // PAGE * PAGE
        mapping = mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ)
    for off in range(0, size, PAGE):
        mapping[off]  # fault the cached page into this mapping
    base = None
    real = os.path.realpath(path)
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if fields[-1] == real and hi - lo == size:
                base = lo
    if base is None:
        sys.exit(f"{path}: mapping not found in /proc/self/maps")
    frames = []
    heads = 0
    with open("/proc/self/pagemap", "rb") as pm, \
            open("/proc/kpageflags", "rb") as kf:
        for i in range(size // PAGE):
            pm.seek((base // PAGE + i) * 8)
            frame = struct.unpack("<Q", pm.read(8))[0] & PFN_MASK
            if frame == 0:
                sys.exit("frame numbers read as 0: run as root")
            kf.seek(frame * 8)
            if struct.unpack("<Q", kf.read(8))[0] & KPF_COMPOUND_HEAD:
                heads += 1
            frames.append(frame)
    runs = 1 + sum(1 for a, b in zip(frames, frames[1:]) if b != a + 1)
    blocks = len({f >> 9 for f in frames})
    print(f"{path}: {len(frames)} pages, {heads} large folios, "
          f"{runs} runs of consecutive frames, {blocks} 2 MiB blocks "
          f"(at least {(size + (2 << 20) - 1) >> 21})")


if __name__ == "__main__":
    main()
