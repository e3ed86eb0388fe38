"""Sweeps on a Dask cluster (`gtlib.cluster`): a LocalCluster of two single-threaded worker processes
trains a sweep exactly as one process does, each run once and parents first; a worker killed in the
middle of a batch loses nothing; a worker with other code, or without gtlib, and a bad scheduler value
each fail with one clear line, before anything is trained."""
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
import torch
from distributed import LocalCluster

import gtlib.store
from conftest import tiny_config
from gtlib import cluster
from gtlib.__main__ import main
from gtlib.config import derive
from gtlib.runs import _plan, run_many
from gtlib.store import Store, verify
from test_store_faults import LONGER, assert_same_run, leftovers

CAN_KILL = hasattr(signal, "SIGKILL")  # not on Windows


def sweep(seeds=(0, 1), sparsities=(0.3, 0.6)) -> list:
    """Dense runs and their tickets: with ``batch=2``, one batch of parents, then two of tickets."""
    dense = [tiny_config(seed=s) for s in seeds]
    return dense + [derive(d, sparsity=s) for d in dense for s in sparsities]


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, as `connect("local")` starts them on two cores."""
    found = cluster.connect("local", n_workers=2)
    # The functions below travel to the workers by value: importing this module there takes seconds.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield found
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    cluster.close(found)


# Run on the workers: record each run a worker starts to write; kill a worker after a resume point.

def log_writers(log: str) -> None:
    real = gtlib.store.Store.writer

    def writer(self, cfg):
        with open(log, "a") as handle:
            handle.write(f"{cfg.key}\n")
        return real(self, cfg)

    writer.real = real
    gtlib.store.Store.writer = writer


def stop_logging_writers() -> None:
    gtlib.store.Store.writer = getattr(gtlib.store.Store.writer, "real", gtlib.store.Store.writer)


def die_after_resume_point(step: int, seed: int, marker: str) -> None:
    """SIGKILL this worker process right after the resume point at ``step`` of the run with ``seed``
    (the last run of its batch) is saved, the first time any worker gets there."""
    real = gtlib.store.RunWriter.save_resume_state

    def save(self, state):
        real(self, state)
        if state.step == step and self.cfg.seed == seed and not os.path.exists(marker):
            Path(marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)

    gtlib.store.RunWriter.save_resume_state = save


def keys_written(log: Path) -> list[str]:
    return sorted(log.read_text().split()) if log.exists() else []


def test_a_sweep_on_the_cluster_equals_the_same_sweep_in_one_process(client, tmp_path):
    runs = sweep()
    alone = run_many(runs, Store(tmp_path / "one-process"), batch=2, progress=False)
    log = tmp_path / "written.log"
    client.run(log_writers, str(log))
    try:
        start = time.perf_counter()
        spread = run_many(runs, Store(tmp_path / "cluster"), batch=2, progress=False, executor=client)
        took = time.perf_counter() - start
    finally:
        client.run(stop_logging_writers)
    assert keys_written(log) == sorted(c.key for c in runs)  # each run trained once, the parents too
    assert set(log.read_text().split()[:2]) == {c.key for c in runs[:2]}  # the parents first
    for got, expected in zip(spread, alone):
        assert got.path == tmp_path / "cluster" / "runs" / got.config.key
        assert got.meta["batch_size"] == expected.meta["batch_size"] == 2
        assert got.meta["threads"] == 1  # the workers' torch threads
        assert_same_run(got, expected)
    assert took < 30


def test_the_command_line_trains_on_the_cluster_what_one_process_trains(client, tmp_path, monkeypatch,
                                                                       capsys):
    small = ["--param", "task_params={'p': 11}", "--param", "model_params={'d_emb': 16, 'd_hidden': 8}"]
    monkeypatch.setenv("GTLIB_RESULTS", str(tmp_path / "nothing"))
    monkeypatch.setenv(cluster.SCHEDULER_ENV, "")  # no cluster; as it was again at the end
    outputs = {}
    for name, scheduler in (("one", []), ("dask", ["--scheduler", client.scheduler.address])):
        monkeypatch.setenv("GTLIB_STORE", str(tmp_path / name))
        assert main(["grokked_ticket", *small, *scheduler]) == 0
        outputs[name] = capsys.readouterr()
    assert outputs["dask"].out.replace("/dask/", "/one/") == outputs["one"].out
    assert "2/2 batches trained on the cluster" in outputs["dask"].err
    assert os.environ[cluster.SCHEDULER_ENV] == client.scheduler.address
    cluster.client().close()  # the connection the command line kept
    keys = sorted(p.name for p in (tmp_path / "one" / "runs").iterdir())
    assert len(keys) == 2 and keys == sorted(p.name for p in (tmp_path / "dask" / "runs").iterdir())
    for key in keys:  # the dense run and its ticket, bit for bit
        one, dask = tmp_path / "one" / "runs" / key, tmp_path / "dask" / "runs" / key
        assert (one / "config.json").read_text() == (dask / "config.json").read_text()
        with np.load(one / "history.npz") as a, np.load(dask / "history.npz") as b:
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)
        for name in ["masks.pt", *(f"weights/{w.name}" for w in (one / "weights").iterdir())]:
            a, b = torch.load(one / name), torch.load(dask / name)
            assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a), name


def test_missing_parents_train_first_in_their_own_batch(tmp_path):
    tickets = sweep()[2:]  # the dense parents are not asked for
    store = Store(tmp_path / "store")
    plan = _plan(tickets, store, size=2)
    assert [[c.seed for c in b.runs] for b in plan] == [[0, 1], [0, 0], [1, 1]]
    assert [b.after for b in plan] == [(), (0,), (0,)]
    run_many(sweep()[:1], store, progress=False)  # one parent stored: only the other trains
    plan = _plan(tickets, store, size=2)
    assert [([c.seed for c in b.runs], b.after) for b in plan] == [([1], ()), ([0, 0], ()), ([1, 1], (0,))]


def test_one_training_asked_for_keeping_more_and_less_trains_once(tmp_path):
    kept = tiny_config(checkpoint_every=20)
    bare = dataclasses.replace(kept, checkpoint_every=None)  # the same training, keeping less
    assert bare.key != kept.key and bare.training_key == kept.training_key
    ticket = derive(kept, sparsity=0.5)  # its mask's parent is `bare` (θ0 and the last step)
    plan = _plan([bare, ticket, kept], Store(tmp_path / "plan"), size=4)
    assert [b.runs for b in plan] == [[kept], [ticket]] and plan[1].after == (0,)
    store = Store(tmp_path / "store")
    done = run_many([bare, ticket, kept], store, progress=False)
    assert [r.checkpoint_steps for r in done] == [[0, 60], [0, 20, 40, 60], [0, 20, 40, 60]]
    assert done[0].path == done[2].path  # served by the run that keeps more


def test_a_concurrent_futures_executor_trains_the_same_runs(tmp_path):
    runs = sweep(seeds=(0,))
    alone = run_many(runs, Store(tmp_path / "one-process"), progress=False)
    with ThreadPoolExecutor(2) as pool:
        pooled = run_many(runs, Store(tmp_path / "pool"), progress=False, executor=pool)
    for got, expected in zip(pooled, alone):
        assert_same_run(got, expected)


def test_a_bad_scheduler_value_is_one_line_naming_the_valid_forms(monkeypatch, capsys):
    for bad in ("lcoal", "tcp://", "8786", "tcp://host:port"):
        with pytest.raises(cluster.ClusterError) as err:
            cluster.connect(bad)
        assert str(err.value) == (f"scheduler {bad!r} is not valid; use 'local' (one single-threaded "
                                  "worker process per core on this machine), a scheduler address such "
                                  "as tcp://host:8786, or nothing for no cluster")
    with pytest.raises(cluster.ClusterError, match=r"^no Dask scheduler answers at tcp://127.0.0.1:9 "
                                                   r"within 1 s \([^\n]*\)$"):
        cluster.connect("tcp://127.0.0.1:9", timeout=1)
    monkeypatch.setenv(cluster.SCHEDULER_ENV, "")
    assert cluster.connect() is None and cluster.client() is None  # no cluster: as before
    monkeypatch.setenv(cluster.SCHEDULER_ENV, "lcoal")
    with pytest.raises(cluster.ClusterError, match="^scheduler 'lcoal' is not valid"):
        cluster.client()
    monkeypatch.delenv(cluster.SCHEDULER_ENV)
    assert main(["grokked_ticket", "--scheduler", "lcoal"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m gtlib grokked_ticket: scheduler 'lcoal' is not valid; use 'local'")
    assert err.count("\n") == 1
    assert cluster.SCHEDULER_ENV not in os.environ  # set only once a cluster answers


def start_worker(address: str, env: dict, cwd: Path, *python_flags: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *python_flags, "-m", "distributed.cli.dask_worker", address,
                             "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                            env={**os.environ, "OMP_NUM_THREADS": "1", **env}, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_workers_with_other_code_or_without_gtlib_are_refused_with_one_line(tmp_path):
    other = tmp_path / "other"  # a checkout whose gtlib differs by one comment
    shutil.copytree(cluster.PACKAGE, other / "gtlib", ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "gtlib" / "runs.py", "a") as handle:
        handle.write("# edited elsewhere\n")
    site = next(p for p in sys.path if p.endswith("site-packages"))
    scheduler = LocalCluster(n_workers=0, processes=True, dashboard_address=":0")
    workers = []
    try:
        address = scheduler.scheduler_address
        early = cluster.connect(address)  # no worker yet: nothing to refuse
        workers.append(start_worker(address, {"PYTHONPATH": str(other)}, tmp_path))
        # Python without site packages, given the venv's packages but not the editable gtlib.
        workers.append(start_worker(address, {"PYTHONPATH": site}, tmp_path, "-S"))
        early.wait_for_workers(2, timeout=60)
        by_pid = {pid: worker for worker, pid in early.run(os.getpid).items()}
        edited, without = by_pid[workers[0].pid], by_pid[workers[1].pid]
        here = cluster.fingerprint()
        with pytest.raises(cluster.ClusterError) as err:
            cluster.connect(address)
        message = str(err.value)
        assert "\n" not in message
        assert message.startswith(f"Dask workers differ from this process (gtlib {here}): ")
        assert message.endswith("; start every worker from the same checkout and environment")
        assert f"{edited} runs gtlib 0.1.0 (code " in message and message.count(here) == 1
        assert f"{without} cannot import gtlib (" in message and "No module named 'gtlib'" in message
        # The workers joined after `early` connected: its task refuses to train on other code (a
        # worker without gtlib cannot even read a task: it leaves the cluster, and Dask moves the
        # task to another worker).
        store = Store(tmp_path / "store")
        with pytest.raises(cluster.ClusterError) as err:
            run_many(sweep(seeds=(0,), sparsities=()), store, progress=False, executor=early)
        found = re.fullmatch(rf"Dask worker {edited} runs gtlib (.*), the client gtlib (.*); start every "
                             r"worker from the same checkout and environment", str(err.value))
        assert found, str(err.value)
        assert found[2] == here and found[1] != here and found[1].startswith("0.1.0 (code ")
        assert not (store.root / "runs").exists()  # nothing trained, nothing stored
        early.close()
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        scheduler.close()


@pytest.mark.skipif(not CAN_KILL, reason="no SIGKILL on Windows")
def test_a_worker_killed_in_the_middle_of_a_batch_loses_nothing(client, tmp_path):
    """Two runs in one batch; the worker training them is killed (SIGKILL) right after their resume
    points at step 100. Dask reruns the task on the other worker, which resumes both from there."""
    runs = [tiny_config(seed=s, steps=300, **LONGER) for s in (0, 1)]
    reference = run_many(runs, Store(tmp_path / "reference"), progress=False)
    marker = tmp_path / "killed.pid"
    client.run(die_after_resume_point, 100, 1, str(marker))
    pids = set(client.run(os.getpid).values())
    store = Store(tmp_path / "store")
    got = run_many(runs, store, progress=False, resume_every=50, executor=client)
    assert int(marker.read_text()) in pids  # a worker did die, and the sweep finished anyway
    for run, expected in zip(got, reference):
        assert run.meta["resumed_from_step"] == 100 and run.meta["batch_size"] == 2
        assert_same_run(run, expected)
    assert sorted(p.name for p in (store.root / "runs").iterdir()) == sorted(c.key for c in runs)
    for run in got:
        verify(run.path)
    assert leftovers(store.root) == []
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker

