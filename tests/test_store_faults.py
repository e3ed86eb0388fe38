"""The store under faults: processes killed at random moments, two processes asking for one run,
corrupt or truncated files, an interrupted finish, and the lock."""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import filelock
import numpy as np
import pytest
import torch

import gtlib.runs
import gtlib.store
from conftest import tiny_config
from gtlib.__main__ import main
from gtlib.runs import run, run_many
from gtlib.store import REPO_ROOT, CorruptRunError, Store, seal
from test_store import crash_after_saving, dataclasses_replace

LONGER = dict(eval_every=50, checkpoint_every=1000)


def long_config(steps: int):
    return tiny_config(steps=steps, **LONGER)


LONG = long_config(1500)
RESUME_EVERY = 50
PAUSE = 0.025  # after each resume point: a child takes at least 30 * PAUSE s, on any machine

# A child process that trains one run into a store. It logs its pid to a file each time it trains,
# says "training" once its steps run (after its first resume point: building the optimiser first
# takes a second), pauses after each resume point, and prints the run's path and test loss at the end.
CHILD = """
import json, os, sys, time
sys.path.insert(0, {tests!r})
import torch
torch.set_num_threads(1)
import gtlib.runs
import gtlib.store
from conftest import tiny_config
from gtlib.store import Store

store, log, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
real_train, real_save = gtlib.runs.train, gtlib.store.RunWriter.save_resume_state
saved = []

def train(*args, **kwargs):
    with open(log, "a") as handle:
        handle.write(f"{{os.getpid()}}\\n")
    return real_train(*args, **kwargs)

def save_resume_state(self, state):
    real_save(self, state)
    if not saved:
        print("training", flush=True)
    saved.append(state.step)
    time.sleep({pause})

gtlib.runs.train = train
gtlib.store.RunWriter.save_resume_state = save_resume_state
cfg = tiny_config(steps=steps, **{longer!r})
result = gtlib.runs.run(cfg, Store(store), progress=False, resume_every={resume_every})
print(json.dumps({{"path": str(result.path), "test_loss": result.history["test_loss"].tolist()}}),
      flush=True)
"""


def start_child(tmp_path: Path, store: Path, steps: int = LONG.steps) -> subprocess.Popen:
    script = tmp_path / "child.py"
    if not script.exists():
        script.write_text(CHILD.format(tests=str(Path(__file__).parent), longer=LONGER,
                                       resume_every=RESUME_EVERY, pause=PAUSE))
    with open(tmp_path / "child.err", "a") as err:
        return subprocess.Popen([sys.executable, str(script), str(store), str(tmp_path / "trained.log"),
                                 str(steps)], stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO_ROOT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})


def wait_until_training(child: subprocess.Popen) -> bool:
    """True once the child says it trains; False if it ended without training."""
    for line in child.stdout:
        if line.strip() == "training":
            return True
    return False


def child_result(child: subprocess.Popen, tmp_path: Path) -> dict:
    out, _ = child.communicate(timeout=120)
    assert child.returncode == 0, (tmp_path / "child.err").read_text()
    return json.loads(out.strip().splitlines()[-1])


def trained_count(tmp_path: Path) -> int:
    log = tmp_path / "trained.log"
    return len(log.read_text().split()) if log.exists() else 0


def assert_same_run(got, expected):
    np.testing.assert_array_equal(got.history.steps, expected.history.steps)
    assert got.history.series.keys() == expected.history.series.keys()
    for name, values in expected.history.series.items():
        np.testing.assert_array_equal(got.history[name], values, err_msg=name)
    assert got.checkpoint_steps == expected.checkpoint_steps
    for step in expected.checkpoint_steps:
        for n, w in expected.weights(step).items():
            assert torch.equal(got.weights(step)[n], w), (step, n)
    for n, m in expected.masks().items():
        assert torch.equal(got.masks()[n], m)


def leftovers(root: Path) -> list[Path]:
    """Anything but finished runs and lock files: runs in progress, temporary files."""
    in_progress = lambda p: p.relative_to(root).parts[0] == "partial" and p.name != "partial"
    return [p for p in root.rglob("*") if p.name.startswith(".") or in_progress(p)]


CAN_KILL = hasattr(signal, "SIGKILL")  # not on Windows


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A run killed with SIGKILL (no cleanup runs, half-written files stay) three times at random
    moments, restarted each time, then finished by two processes started together. Starting a
    process costs seconds (torch), so the two tests below share these six."""
    tmp = tmp_path_factory.mktemp("killed")
    root, rng = tmp / "store", random.Random(0)
    kills = resumes = 0
    while CAN_KILL and kills < 3:
        resumes += (root / "partial" / LONG.key / "resume.pt").exists()
        child = start_child(tmp, root)
        if not wait_until_training(child):
            break  # finished by an earlier attempt
        time.sleep(rng.uniform(0.0, 0.2))  # three of them: shorter than the run (see PAUSE)
        if child.poll() is None:
            kills += 1
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    resumes += (root / "partial" / LONG.key / "resume.pt").exists()
    trained_before = trained_count(tmp)
    finishers = [start_child(tmp, root) for _ in range(2)]
    results = [child_result(c, tmp) for c in finishers]
    return dict(tmp=tmp, root=root, kills=kills, resumes=resumes, results=results,
                finishers_trained=trained_count(tmp) - trained_before)


@pytest.mark.skipif(not CAN_KILL, reason="no SIGKILL on Windows")
def test_a_run_killed_at_random_moments_ends_as_if_never_interrupted(killed, tmp_path):
    assert killed["kills"] >= 3, (killed["tmp"] / "child.err").read_text()
    assert killed["resumes"] >= 1  # the restarts did resume, not start over
    reference = run(LONG, Store(tmp_path / "reference"), progress=False, resume_every=RESUME_EVERY)
    assert_same_run(Store(killed["root"]).load(LONG), reference)
    assert leftovers(killed["root"]) == []


def test_two_processes_asking_for_one_missing_run_train_it_once(killed):
    assert killed["finishers_trained"] == 1
    first, second = killed["results"]
    assert first == second
    assert Path(first["path"]) == killed["root"] / "runs" / LONG.key


def corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        del data[len(data) // 2:]
    path.write_bytes(bytes(data))


def verify_output(capsys, *roots) -> tuple[int, str]:
    capsys.readouterr()
    status = main(["verify", *map(str, roots)])
    return status, capsys.readouterr().out


@pytest.mark.parametrize("name, how", [("weights/step_0000020.pt", "flip"), ("history.npz", "flip"),
                                       ("config.json", "flip"), ("weights/step_0000060.pt", "truncate")])
def test_a_corrupt_file_is_named_and_the_run_retrained(store, tiny, capsys, name, how):
    original = run(tiny, store, progress=False)
    assert verify_output(capsys, store.root) == (0, "1 runs checked, 0 corrupt\n")
    corrupt(original.path / name, how)
    with pytest.raises(CorruptRunError) as err:
        store.load(tiny)
    message = str(err.value)
    assert message == f"run {tiny.label} ({tiny.key}): {name} fails its checksum (corrupt or truncated)"
    status, out = verify_output(capsys, store.root)
    assert status == 1 and message in out and out.endswith("1 runs checked, 1 corrupt\n")
    again = run(tiny, store, progress=False)
    assert capsys.readouterr().err == f"{message}; retraining it\n"
    assert again.path == original.path
    assert_same_run(again, original)
    assert [p.name for p in (store.root / "runs").iterdir()] == [tiny.key]
    assert leftovers(store.root) == []
    assert verify_output(capsys, store.root)[0] == 0


def test_verify_on_the_command_line_exits_1_and_names_the_corrupt_run(tmp_path, tiny):
    store = Store(tmp_path / "store")
    corrupt(run(tiny, store, progress=False).path / "masks.pt", "flip")
    done = subprocess.run([sys.executable, "-m", "gtlib", "verify", str(store.root)], cwd=REPO_ROOT,
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1, done.stderr
    assert f"({tiny.key}): masks.pt fails its checksum" in done.stdout


def test_reading_weights_or_masks_checks_their_file(store, tiny):
    result = run(tiny, store, progress=False)
    corrupt(result.path / "weights" / "step_0000040.pt", "flip")
    corrupt(result.path / "masks.pt", "truncate")
    assert torch.is_tensor(result.weights(20)["W_U"])
    with pytest.raises(CorruptRunError, match=r"\): weights/step_0000040.pt fails its checksum"):
        result.weights(40)
    with pytest.raises(CorruptRunError, match=r"\): masks.pt fails its checksum"):
        result.masks()


def test_a_file_that_cannot_be_parsed_or_is_missing_is_one_line_too(store, tiny, capsys):
    path = run(tiny, store, progress=False).path
    (path / "history.npz").write_bytes(b"not an npz")
    (path / "checksums.json").unlink()
    seal(path)  # consistent checksums, unreadable content
    with pytest.raises(CorruptRunError, match=r"^run .*: history.npz cannot be read \(\w+: [^\n]*\)$"):
        store.load(tiny)
    (path / "checksums.json").write_text("{not json")
    with pytest.raises(CorruptRunError, match=r"\): checksums.json cannot be read \(JSONDecodeError"):
        store.load(tiny)
    assert run(tiny, store, progress=False).history.steps[-1] == 60  # retrained
    assert "checksums.json cannot be read" in capsys.readouterr().err
    (path / "weights" / "step_0000000.pt").unlink()
    with pytest.raises(CorruptRunError, match=r"\): weights/step_0000000.pt is missing$"):
        store.load(tiny)


def test_a_corrupt_run_in_a_read_only_root_is_retrained_into_the_writable_root(tmp_path, tiny, capsys):
    published = run(tiny, Store(tmp_path / "results"), progress=False)
    corrupt(published.path / "history.npz", "flip")
    before = {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    store = Store(tmp_path / "mine", read_only=(tmp_path / "results",))
    fresh = run(tiny, store, progress=False)
    assert "history.npz fails its checksum (corrupt or truncated); retraining it" in capsys.readouterr().err
    assert fresh.path == tmp_path / "mine" / "runs" / tiny.key
    assert {p: p.read_bytes() for p in (tmp_path / "results").rglob("*") if p.is_file()} == before
    assert store.load(tiny).path == fresh.path
    assert_same_run(fresh, run(tiny, Store(tmp_path / "reference"), progress=False))


def test_an_unsealed_folder_is_unfinished_and_seal_refuses_a_sealed_one(store, tiny):
    path = run(tiny, store, progress=False).path
    with pytest.raises(ValueError, match="is already sealed"):
        seal(path)
    (path / "checksums.json").unlink()
    (path / ".meta.json.tmp123").write_text("half written")
    assert store.find(tiny) is None and store.load(tiny) is None
    seal(path)  # a run written before checksums existed
    assert store.load(tiny).path == path and not (path / ".meta.json.tmp123").exists()


def fail_once(monkeypatch, target, name):
    """Make ``target.name`` raise KeyboardInterrupt (a killed process) the first time it is called."""
    real = getattr(target, name)

    def crash(*args, **kwargs):
        monkeypatch.setattr(target, name, real)
        raise KeyboardInterrupt

    monkeypatch.setattr(target, name, crash)


@pytest.mark.parametrize("target, name", [
    (gtlib.store, "seal"),           # history and meta written, not yet sealed
    (gtlib.store, "_publish"),       # sealed under partial/, not yet published
])
def test_a_process_killed_while_finishing_loses_no_finished_work(tmp_path, tiny, monkeypatch, target,
                                                                 name):
    reference = run(tiny, Store(tmp_path / "reference"), progress=False)
    store = Store(tmp_path / "store")
    fail_once(monkeypatch, target, name)
    with pytest.raises(KeyboardInterrupt):
        run(tiny, store, progress=False)
    assert store.load(tiny) is None  # nothing looks finished that is not
    trained = []
    real_train = gtlib.runs.train
    monkeypatch.setattr(gtlib.runs, "train",
                        lambda *a, **k: trained.append(k["resume"]) or real_train(*a, **k))
    result = run(tiny, store, progress=False)
    if name == "seal":  # resumed from its last resume point, the last step: no step trained again
        assert [r.step for r in trained] == [60] and result.meta["resumed_from_step"] == 60
    else:  # the sealed folder is published as it was
        assert trained == []
    assert_same_run(result, reference)
    assert leftovers(store.root) == []
    assert not (result.path / "resume.pt").exists()


def test_the_lock_is_a_filelock_that_blocks_a_second_holder_until_released(store, tiny):
    acquired = threading.Event()

    def second_holder():
        with store.lock(tiny):
            acquired.set()

    with store.lock(tiny):
        with pytest.raises(filelock.Timeout):
            filelock.FileLock(store.root / "locks" / f"{tiny.key}.lock").acquire(timeout=0)
        thread = threading.Thread(target=second_holder)
        thread.start()
        assert not acquired.wait(0.3)
    assert acquired.wait(10)
    thread.join()


def test_a_batch_interrupted_at_different_steps_resumes_each_run_alone(tmp_path, tiny, monkeypatch):
    """The planner sends each run with its own resume point to train alone (no batch waits on a
    lock another of its runs holds)."""
    sweep = [tiny, dataclasses_replace(tiny, seed=1)]
    reference = run_many(sweep, Store(tmp_path / "reference"), progress=False)
    store = Store(tmp_path / "store")
    with crash_after_saving(monkeypatch, step=20, seed=0), pytest.raises(KeyboardInterrupt):
        run_many(sweep, store, progress=False)
    resumed = run_many(sweep, store, progress=False)
    assert [r.meta["resumed_from_step"] for r in resumed] == [20, 0]
    assert [r.meta["batch_size"] for r in resumed] == [1, 1]
    for got, ref in zip(resumed, reference):
        # The reference trained as a batch of two, these alone: on a GPU other batch shapes can
        # use other kernels, so the floats agree closely rather than bit for bit.
        np.testing.assert_allclose(got.history["test_loss"], ref.history["test_loss"], rtol=1e-6)


def test_an_unknown_command_names_the_valid_ones(capsys):
    assert main(["grokked"]) == 2
    assert capsys.readouterr().err == ("python -m gtlib: unknown command 'grokked'; "
                                       "valid: across_tasks, band, claims, controls, edge_popup_table, expected, graphs, grokked_ticket, list, "
                                       "mask_dynamics, migrate, periodicity, sparsity, ticket_time, verify, "
                                       "weights_and_masks\n")
    with pytest.raises(SystemExit):
        main(["grokked_ticket", "--scale", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
