"""Freed tensor memory stays in the process's heap: `keep_heap`, called once by every process that
trains (`gtlib.train.train`, and each task on a Dask worker)."""
from __future__ import annotations

import ctypes
import functools

# glibc's mallopt parameters: above M_MMAP_THRESHOLD an allocation gets its own mmap; the top of the
# heap is returned to the system past M_TRIM_THRESHOLD.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_heap() -> bool:
    """Fixed glibc thresholds, well above a training step's temporaries, once per process; False
    (and nothing done) without glibc.

    PyTorch's CPU allocator has no cache of its own: it asks glibc (`posix_memalign`) for every
    tensor and frees it after. The batched temporaries of a step (R × 911 × 67 float64 logits: 7.8 MB
    at 16 runs) lie past glibc's adaptive mmap threshold, or make it trim the heap, so at every step
    their pages are unmapped and fault back in: measured on the paper MLP, 324-2,215 page faults and
    1-7 ms of system time per step at 4-16 runs, removed by these two calls (1.09-1.15x faster at 4
    runs, 1.29-1.33x at 16, bit-identical). Dask's nanny makes it worse: it starts workers with
    ``MALLOC_TRIM_THRESHOLD_=65536``, which turns the adaptive threshold off, so every tensor above
    128 KiB was mapped and unmapped and a worker trained at half speed."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD,
                                                                                     TRIM_THRESHOLD))
