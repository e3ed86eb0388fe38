import contextlib
import json

import numpy as np
import pytest
import torch

import gtlib.runs
from conftest import tiny_config
from gtlib.config import derive
from gtlib.runs import run
from gtlib.store import CorruptRunError, Store, seal
from gtlib.train import resolve_device


@contextlib.contextmanager
def crash_after_saving(monkeypatch, step: int, seed: int | None = None):
    """Within the block, training is killed right after the resume state at ``step`` is saved (for
    the run with ``seed``, or any)."""
    real_save = gtlib.store.RunWriter.save_resume_state

    def save_then_crash(self, state):
        real_save(self, state)
        if state["step"] == step and seed in (None, self.cfg.seed):
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(gtlib.store.RunWriter, "save_resume_state", save_then_crash)
        yield


def test_a_second_request_trains_nothing(store, tiny, monkeypatch):
    first = run(tiny, store, progress=False)
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: pytest.fail("trained again"))
    second = run(tiny, store, progress=False)
    assert second.path == first.path
    np.testing.assert_array_equal(second.history["test_acc"], first.history["test_acc"])


def test_a_run_folder_holds_config_provenance_history_and_checkpoints(store, tiny):
    result = run(tiny, store, progress=False)
    assert result.path == store.root / "runs" / tiny.key
    assert json.loads((result.path / "config.json").read_text())["steps"] == 60
    meta = result.meta
    for field in ("device", "git", "torch", "wall_seconds", "config", "finished"):
        assert field in meta
    assert meta["device"] == str(resolve_device("auto")) and meta["key"] == tiny.key
    assert result.checkpoint_steps == [0, 20, 40, 60]
    assert result.history.steps.tolist() == list(range(0, 61, 5))
    assert not (store.root / "partial" / tiny.key).exists()


def test_a_ticket_trains_its_missing_parent_first_and_rewinds_to_its_theta0(store, tiny):
    ticket_cfg = derive(tiny, sparsity=0.6)
    ticket = run(ticket_cfg, store, progress=False)
    parent = store.load(tiny)
    assert parent is not None  # trained on demand
    masks, theta0, ticket0 = ticket.masks(), parent.weights(0), ticket.weights(0)
    kept = sum(m.sum().item() for m in masks.values())
    assert kept == round(0.4 * sum(m.numel() for m in masks.values()))
    for n in masks:
        assert torch.equal(ticket0[n], theta0[n])  # rewound: the same θ0, not the trained weights
    trained = torch.cat([parent.weights()[n].abs().flatten() for n in masks])
    kept_values = torch.cat([parent.weights()[n].abs()[masks[n] == 1] for n in masks])
    assert kept_values.min() >= trained.kthvalue(round(0.6 * trained.numel())).values


def test_an_interrupted_run_leaves_no_entry_and_resumes_from_its_last_checkpoint(store, tiny, monkeypatch):
    uninterrupted = run(tiny, Store(store.root.parent / "other"), progress=False)
    with crash_after_saving(monkeypatch, step=40), pytest.raises(KeyboardInterrupt):
        run(tiny, store, progress=False)
    assert store.load(tiny) is None and not (store.root / "runs" / tiny.key).exists()
    resumed = run(tiny, store, progress=False)
    assert resumed.meta["resumed_from_step"] == 40
    for name, values in uninterrupted.history.series.items():
        np.testing.assert_array_equal(resumed.history[name], values, err_msg=name)
    assert torch.equal(resumed.weights()["W_U"], uninterrupted.weights()["W_U"])


def test_force_retrains(store, tiny, monkeypatch):
    trained = []
    real_train = gtlib.runs.train
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    first = run(tiny, store, progress=False)
    again = run(tiny, store, progress=False, force=True)
    assert len(trained) == 2
    assert again.meta["finished"] >= first.meta["finished"]
    np.testing.assert_array_equal(again.history["train_loss"], first.history["train_loss"])


def test_read_only_roots_are_found_and_never_written(tmp_path, tiny):
    published = Store(tmp_path / "results")
    run(tiny, published, progress=False)
    store = Store(tmp_path / "mine", read_only=(tmp_path / "results",))
    assert store.load(tiny).path.parent.parent == tmp_path / "results"
    assert not (tmp_path / "mine").exists()


def test_checkpoints_cannot_run_code(store, tiny):
    result = run(tiny, store, progress=False)
    torch.save({"W_E": np.array([1.0])}, result.path / "weights" / "step_0000000.pt")  # a pickled object
    (result.path / "checksums.json").unlink()
    seal(result.path)  # a results folder from elsewhere, its checksums consistent
    with pytest.raises(CorruptRunError, match="step_0000000.pt cannot be read .*Weights only load failed"):
        store.load(tiny).weights(0)


def test_a_missing_checkpoint_names_the_saved_ones(store, tiny):
    with pytest.raises(ValueError, match="no checkpoint at step 30; saved: \\[0, 20, 40, 60\\]"):
        run(tiny, store, progress=False).weights(30)


def test_a_stored_run_serves_requests_for_fewer_checkpoints_and_retrains_for_more(store, tiny, monkeypatch):
    import dataclasses

    run(tiny, store, progress=False)  # checkpoints every 20 steps
    fewer = dataclasses.replace(tiny, checkpoint_every=None)
    trained = []
    real_train = gtlib.runs.train
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    assert run(fewer, store, progress=False).checkpoint_steps == [0, 20, 40, 60]
    assert not trained
    more = dataclasses.replace(tiny, checkpoint_every=10)
    assert run(more, store, progress=False).checkpoint_steps == [0, 10, 20, 30, 40, 50, 60]
    assert trained


def _count_training(monkeypatch) -> list:
    trained, real_train = [], gtlib.runs.train
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    return trained


def test_requests_for_one_run_with_other_checkpoints_train_it_once_keeping_all(store, tiny, monkeypatch):
    import dataclasses

    trained = _count_training(monkeypatch)
    a = dataclasses.replace(tiny, checkpoint_every=20)
    b = dataclasses.replace(tiny, checkpoint_every=15, probes=("per_matrix_norms",))
    ra, rb = gtlib.runs.run_many([a, b], store, progress=False)
    assert trained == [1] and ra.path == rb.path
    assert rb.checkpoint_steps == list(range(0, 61, 5)) and "l2_per_matrix" in ra.history.series


def test_runs_of_one_batch_keep_exactly_their_own_checkpoints(store, tiny, monkeypatch):
    """Analyses read every checkpoint a run has (Figure 7's mask distances): a run trained in a batch
    with runs that keep other checkpoints must not get theirs."""
    import dataclasses

    trained = _count_training(monkeypatch)
    a = dataclasses.replace(tiny, seed=1, checkpoint_every=20)
    b = dataclasses.replace(tiny, seed=2, checkpoint_every=15)
    ra, rb = gtlib.runs.run_many([a, b], store, progress=False)
    assert trained == [1]  # one batch
    assert ra.checkpoint_steps == [0, 20, 40, 60] and rb.checkpoint_steps == [0, 15, 30, 45, 60]


def test_a_loaded_run_reads_its_own_copy_after_another_request_replaced_it(store, tiny, monkeypatch):
    """A `Run` reads its weights lazily; another process may meanwhile retrain the same run (same
    key) to keep more checkpoints. The replaced copy is retired, not deleted, and still read."""
    import dataclasses

    old = run(tiny, store, progress=False)
    new = run(dataclasses.replace(tiny, checkpoint_every=15), store, progress=False)
    assert new.path == old.path and new.checksums != old.checksums
    assert old._folder().parent == store.root / "retired"
    for step in old.checkpoint_steps:  # every file of the old copy, checked against its own checksums
        for name, weight in old.weights(step).items():
            if step in new.checkpoint_steps:
                assert torch.equal(weight, new.weights(step)[name])  # the same training, bit for bit
    assert old.masks().keys() == new.masks().keys()
    assert new._folder() == new.path
    # Retired copies are removed after RETIRED_KEEP_SECONDS; each retrain prunes the older ones.
    monkeypatch.setattr(gtlib.store, "RETIRED_KEEP_SECONDS", 0)
    forced = run(tiny, store, force=True, progress=False)  # retires the second copy
    assert len(list((store.root / "retired").iterdir())) == 1
    store.discard(forced.path)
    with pytest.raises(CorruptRunError, match="weights/step_0000040.pt is missing"):
        old.weights(40)  # no copy with its checksums is left: one line, never a wrong result


@pytest.mark.parametrize("use, p", [("l1_norm", 1), ("l2_norm", 2)])
def test_norm_matched_control_is_dense_theta0_at_the_tickets_initial_norm(store, tiny, use, p):
    from gtlib.metrics import weight_norms

    ticket = run(derive(tiny, sparsity=0.6), store, progress=False)
    control = run(derive(tiny, sparsity=0.6, use=use), store, progress=False)
    assert all(m.all() for m in control.masks().values())  # dense
    theta0 = store.load(tiny).weights(0)
    ticket0 = ticket.effective_weights(0)
    control0 = control.weights(0)
    add_axis = lambda d: {n: t[None] for n, t in d.items()}  # noqa: E731
    target = weight_norms(add_axis(ticket0))[p - 1].item()
    assert weight_norms(add_axis(control0))[p - 1].item() == pytest.approx(target, rel=1e-5)
    ratio = control0["W_U"] / theta0["W_U"]
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio))  # one scalar for every weight
    assert 0.2 < ratio.flatten()[0] < 0.95
    # The authors' ratio of summed per-matrix norms: the same for L1 (norms add up), not for L2.
    per_matrix = run(derive(tiny, sparsity=0.6, use=use, norm_ratio="per_matrix"), store, progress=False)
    same = torch.allclose(per_matrix.weights(0)["W_U"], control0["W_U"])
    assert same == (p == 1)


def test_a_batched_sweep_equals_the_same_runs_one_by_one(tmp_path, tiny):
    from gtlib.runs import run_many

    sweep = [tiny, dataclasses_replace(tiny, seed=1)]
    sweep += [derive(c, sparsity=s) for c in sweep for s in (0.3, 0.6)]
    sweep += [derive(tiny, sparsity=0.6, step=0, pruner="snip")]
    batched = run_many(sweep, Store(tmp_path / "batched"), progress=False)
    assert {r.meta["batch_size"] for r in batched} == {2, 5}  # 2 base runs, then 5 derived runs
    alone = Store(tmp_path / "alone")
    for got in batched:
        single = run(got.config, alone, progress=False)
        assert single.meta["batch_size"] == 1
        for name, values in single.history.series.items():
            np.testing.assert_allclose(got.history[name], values, rtol=1e-4, atol=1e-6, err_msg=name)
        for n, m in single.masks().items():
            assert torch.equal(got.masks()[n], m)


def test_an_interrupted_batch_resumes_each_run_from_its_checkpoint(tmp_path, tiny, monkeypatch):
    from gtlib.runs import run_many

    sweep = [tiny, dataclasses_replace(tiny, seed=1)]
    reference = run_many(sweep, Store(tmp_path / "ref"), progress=False)
    store = Store(tmp_path / "store")
    with crash_after_saving(monkeypatch, step=20, seed=1), pytest.raises(KeyboardInterrupt):
        run_many(sweep, store, progress=False)
    states = sorted((tmp_path / "store").rglob("resume.pt"))
    assert len(states) == 2
    for path in states:  # each file holds its own run's tensors only, not the batch's storage
        state = torch.load(path, weights_only=True)
        tensors = [*state["weights"].values(),
                   *(v for s in state["optimizer"]["state"].values() for v in s.values() if v.dim())]
        for t in tensors:
            assert t.shape[0] == 1 and t.untyped_storage().nbytes() == t.numel() * t.element_size()
    resumed = run_many(sweep, store, progress=False)
    for got, ref in zip(resumed, reference):
        assert got.meta["resumed_from_step"] == 20
        np.testing.assert_array_equal(got.history["test_loss"], ref.history["test_loss"])


def dataclasses_replace(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, **changes)


def test_resume_points_do_not_depend_on_the_checkpoints_kept(store, tiny, monkeypatch):
    """A run that keeps only θ0 and its last weights still resumes from its last resume point."""
    lean = dataclasses_replace(tiny, checkpoint_every=None)
    with crash_after_saving(monkeypatch, step=30), pytest.raises(KeyboardInterrupt):
        run(lean, store, progress=False, resume_every=15)
    resumed = run(lean, store, progress=False, resume_every=15)
    assert resumed.meta["resumed_from_step"] == 30
    assert resumed.checkpoint_steps == [0, 60]


def test_the_store_lists_what_it_holds(store, tiny):
    run(derive(tiny, sparsity=0.6), store, progress=False)
    table = store.listing()
    assert set(table["key"]) == {tiny.key, derive(tiny, sparsity=0.6).key}
    ticket = table.set_index("key").loc[derive(tiny, sparsity=0.6).key]
    assert (ticket["parent"], ticket["pruner"], ticket["sparsity"], ticket["start"]) == (
        tiny.key, "magnitude", 0.6, "mask")
    assert ticket["steps"] == 60 and ticket["problem"] == ""


def test_a_probe_is_logged_and_a_stored_run_without_it_is_retrained(store, tiny, monkeypatch):
    import dataclasses

    plain = run(tiny, store, progress=False)
    assert "l2_per_matrix" not in plain.history.series
    probed = run(dataclasses.replace(tiny, probes=("per_matrix_norms",)), store, progress=False)
    assert probed.config.key == tiny.key  # which probes are logged is not part of the identity
    per_matrix = probed.history["l2_per_matrix"]
    assert per_matrix.shape == probed.history["l2"].shape
    # The authors' per-matrix mean is below the global norm of the four matrices together.
    assert np.all(per_matrix < probed.history["l2"])
    np.testing.assert_array_equal(probed.history["test_loss"], plain.history["test_loss"])
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: pytest.fail("trained again"))
    assert run(tiny, store, progress=False).path == probed.path  # serves requests without probes


@pytest.mark.parametrize("revision", ["0123456789abcdef-dirty", "unknown"])
def test_results_refuse_runs_from_code_no_commit_holds_before_training(tmp_path, tiny, monkeypatch,
                                                                      revision):
    committed = tmp_path / "results"
    monkeypatch.setattr(gtlib.runs, "COMMITTED", committed)
    monkeypatch.setattr(gtlib.runs, "git_revision", lambda: revision)
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(RuntimeError, match=r"refusing to train 1 run\(s\) into results/"):
        run(tiny, Store(committed), progress=False)
    assert not any(committed.rglob("*.json"))  # nothing half-written


def test_results_take_runs_from_a_clean_commit_and_other_stores_take_any(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(gtlib.runs, "COMMITTED", tmp_path / "results")
    monkeypatch.setattr(gtlib.runs, "git_revision", lambda: "0123456789abcdef")
    assert run(tiny, Store(tmp_path / "results"), progress=False).meta["git"] == "0123456789abcdef"
    monkeypatch.setattr(gtlib.runs, "git_revision", lambda: "0123456789abcdef-dirty")
    assert run(tiny, Store(tmp_path / "elsewhere"), progress=False).meta["git"].endswith("-dirty")


def test_the_revision_is_dirty_only_for_changes_to_the_training_code(tmp_path, monkeypatch):
    import subprocess
    repo = tmp_path / "repo"
    (repo / "gtlib").mkdir(parents=True)
    (repo / "gtlib" / "train.py").write_text("steps = 1\n")
    (repo / "README.md").write_text("words\n")
    git = lambda *args: subprocess.run(["git", "-C", str(repo), *args], check=True,  # noqa: E731
                                       capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(gtlib.runs, "REPO_ROOT", repo)

    def revision():
        gtlib.runs.git_revision.cache_clear()
        return gtlib.runs.git_revision()

    head = git("rev-parse", "HEAD")
    assert revision() == head
    (repo / "README.md").write_text("other words\n")  # not training code
    assert revision() == head
    (repo / "gtlib" / "new.py").write_text("x = 1\n")  # a new file of the package
    assert revision() == head + "-dirty"
    (repo / "gtlib" / "new.py").unlink()
    (repo / "gtlib" / "train.py").write_text("steps = 2\n")  # a tracked change
    assert revision() == head + "-dirty"
    gtlib.runs.git_revision.cache_clear()


def test_masks_are_stored_as_booleans_and_read_as_the_floats_they_were(store, tiny):
    ticket = run(derive(tiny, sparsity=0.5), store, progress=False)
    stored = torch.load(ticket.path / "masks.pt", weights_only=True)
    assert all(m.dtype == torch.bool for m in stored.values())
    masks = ticket.masks()
    assert all(m.dtype == torch.float32 and torch.equal(m, stored[n].float()) for n, m in masks.items())
    assert 0.4 < float(torch.cat([m.flatten() for m in masks.values()]).mean()) < 0.6


def test_a_run_asked_to_keep_no_weights_keeps_its_history_and_mask_only(store, tiny):
    parent = run(tiny, store, progress=False)
    ticket = run(derive(tiny, sparsity=0.5, checkpoint_every=0), store, progress=False)
    assert ticket.checkpoint_steps == [] and not list(ticket.path.glob("weights/*"))
    assert ticket.history.steps[-1] == tiny.steps and set(ticket.masks()) == set(parent.masks())
    with pytest.raises(ValueError, match="has no checkpoint at step 60; saved: \\[\\]"):
        ticket.weights()
    # a request that keeps weights is a request the stored copy cannot serve
    again = run(derive(tiny, sparsity=0.5), store, progress=False)
    assert again.checkpoint_steps == tiny.checkpoint_steps  # derive keeps the parent's schedule


def test_trim_keeps_what_is_asked_and_the_run_reads_the_same(store, tiny):
    from gtlib.store import trim
    ticket = run(derive(tiny, sparsity=0.5), store, progress=False)
    masks, history = ticket.masks(), ticket.history
    float_masks = {n: m.float() for n, m in torch.load(ticket.path / "masks.pt", weights_only=True).items()}
    torch.save(float_masks, ticket.path / "masks.pt")  # as the runs stored before boolean masks
    (ticket.path / "checksums.json").unlink()
    seal(ticket.path)
    assert trim(ticket.path, {tiny.steps}) > 0
    again = store.load(derive(tiny, sparsity=0.5, checkpoint_every=0))
    assert again.checkpoint_steps == [tiny.steps]
    assert all(torch.equal(again.masks()[n], m) for n, m in masks.items())
    assert np.array_equal(again.history.steps, history.steps)
    assert all(m.dtype == torch.bool for m in torch.load(ticket.path / "masks.pt", weights_only=True).values())
