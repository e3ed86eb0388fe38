"""Every training process keeps freed tensor memory in its heap (`gtlib.heap`)."""
import ctypes

import gtlib.heap
import gtlib.train
from conftest import tiny_config
from gtlib.runs import run


def test_training_sets_glibcs_thresholds_once_per_process(monkeypatch, store):
    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    gtlib.heap.keep_heap.cache_clear()
    run(tiny_config(), store, progress=False)
    run(tiny_config(seed=1), store, progress=False)
    assert calls == [(gtlib.heap.M_MMAP_THRESHOLD, 32 << 20), (gtlib.heap.M_TRIM_THRESHOLD, 1 << 30)]
    gtlib.heap.keep_heap.cache_clear()


def test_it_is_a_no_op_without_glibc(monkeypatch):
    def no_glibc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_glibc)
    gtlib.heap.keep_heap.cache_clear()
    assert gtlib.heap.keep_heap() is False
    gtlib.heap.keep_heap.cache_clear()


def test_on_glibc_both_thresholds_are_accepted():
    gtlib.heap.keep_heap.cache_clear()
    try:
        ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: the no-op above is what applies
    assert gtlib.heap.keep_heap() is True
