#!/usr/bin/env python3
"""Writes MIB MiB of fresh anonymous memory, then frees it.

For benchmarks on a VM whose balloon reports free pages to its host
(virtio-balloon free page reporting): memory freed a few seconds earlier has
been given back, and the first write to each of its pages costs a fault in
the host. A read through a fresh FUSE mount fills that much new page cache,
so without this it measures the host's faults as much as the read. The
pages freed here serve the next allocations before they are reported
(after 2 s). Elsewhere it costs a fraction of a second and changes nothing.

    scripts/fault-in-memory.py 1088
"""
import mmap
import sys

if len(sys.argv) != 2 or not sys.argv[1].isdigit():
    sys.exit("usage: fault-in-memory.py MIB")
# MAP_POPULATE on a private writable mapping allocates and zeroes every page.
mmap.mmap(-1, int(sys.argv[1]) << 20,
          flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | mmap.MAP_POPULATE).close()
