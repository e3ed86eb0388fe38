import contextlib
import json

import numpy as np
import pytest
import torch

import gtlib.runs
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
        if state.step == step and seed in (None, self.cfg.seed):
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
    assert store.load(tiny) is None  # the parent the mask needs keeps θ0 and its last step only
    parent = store.load(ticket_cfg.mask.parent)
    assert parent is not None and parent.checkpoint_steps == [0, 60]  # trained on demand
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


def test_a_stored_run_serves_requests_for_fewer_checkpoints_and_more_is_a_new_run(store, tiny, monkeypatch):
    import dataclasses

    kept = run(tiny, store, progress=False)  # checkpoints every 20 steps
    sealed = {p: p.read_bytes() for p in kept.path.rglob("*") if p.is_file()}
    fewer = dataclasses.replace(tiny, checkpoint_every=None)
    trained = _count_training(monkeypatch)
    served = run(fewer, store, progress=False)
    assert not trained and served.path == kept.path  # read from the stored run, as it keeps them
    assert served.checkpoint_steps == [0, 60] and served.config == fewer
    with pytest.raises(ValueError, match="no checkpoint at step 20"):
        served.weights(20)
    more = dataclasses.replace(tiny, checkpoint_every=10)
    again = run(more, store, progress=False)
    assert trained and again.path == store.root / "runs" / more.key != kept.path
    assert again.checkpoint_steps == [0, 10, 20, 30, 40, 50, 60]
    np.testing.assert_array_equal(again.history["test_loss"], kept.history["test_loss"])
    probed = run(dataclasses.replace(tiny, probes=("per_matrix_norms",)), store, progress=False)
    assert probed.path != kept.path
    # No request changed a byte of the sealed folder.
    assert {p: p.read_bytes() for p in kept.path.rglob("*") if p.is_file()} == sealed


def _count_training(monkeypatch) -> list:
    trained, real_train = [], gtlib.runs.train
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    return trained


def test_runs_that_differ_in_checkpoints_train_as_one_batch_and_in_probes_apart(store, tiny, monkeypatch):
    """A batch logs one set of probes, so that its runs' resume states stack: a run that logs other
    probes trains in a batch of its own, and each run's history holds exactly its own series."""
    import dataclasses

    trained = _count_training(monkeypatch)
    a = dataclasses.replace(tiny, checkpoint_every=20)
    b = dataclasses.replace(tiny, checkpoint_every=15)
    c = dataclasses.replace(tiny, checkpoint_every=30, probes=("per_matrix_norms",))
    ra, rb, rc = gtlib.runs.run_many([a, b, c], store, progress=False)
    assert trained == [1, 1] and len({ra.path, rb.path, rc.path}) == 3
    assert ra.checkpoint_steps == [0, 20, 40, 60] and rb.checkpoint_steps == [0, 15, 30, 45, 60]
    assert "l2_per_matrix" in rc.history.series and "l2_per_matrix" not in ra.history.series
    np.testing.assert_array_equal(ra.history["test_loss"], rc.history["test_loss"])


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


@pytest.mark.parametrize("use, p", [("l1_norm", 1), ("l2_norm", 2)])
def test_norm_matched_control_is_dense_theta0_at_the_tickets_initial_norm(store, tiny, use, p):
    from gtlib.metrics import weight_norms

    ticket = run(derive(tiny, sparsity=0.6), store, progress=False)
    control = run(derive(tiny, sparsity=0.6, use=use), store, progress=False)
    assert all(m.all() for m in control.masks().values())  # dense
    theta0 = store.load(ticket.config.mask.parent).weights(0)
    masks = ticket.masks()
    ticket0 = {n: w * masks[n] if n in masks else w for n, w in ticket.weights(0).items()}  # θ0 ⊙ m
    control0 = control.weights(0)
    add_axis = lambda d: {n: t[None] for n, t in d.items()}
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
                   *(v for s in state["optimizer"].values() for v in s.values() if v.dim())]
        assert set(state["optimizer"]) <= {"W_E", "W_in", "W_out", "W_U"}  # keyed by parameter name
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
    cfg = derive(tiny, sparsity=0.6)
    run(cfg, store, progress=False)
    table = store.listing()
    assert set(table["key"]) == {cfg.mask.parent.key, cfg.key}
    ticket = table.set_index("key").loc[cfg.key]
    assert (ticket["parent"], ticket["pruner"], ticket["sparsity"], ticket["start"]) == (
        cfg.mask.parent.key, "magnitude", 0.6, "mask")
    assert ticket["steps"] == 60 and ticket["problem"] == ""


def test_a_probe_is_logged_and_a_run_with_it_serves_requests_without_it(store, tiny, monkeypatch):
    import dataclasses

    probed_cfg = dataclasses.replace(tiny, probes=("per_matrix_norms",))
    probed = run(probed_cfg, store, progress=False)
    assert probed.config.key != tiny.key  # which probes are logged is part of the identity
    per_matrix = probed.history["l2_per_matrix"]
    assert per_matrix.shape == probed.history["l2"].shape
    # The authors' per-matrix mean is below the global norm of the four matrices together.
    assert np.all(per_matrix < probed.history["l2"])
    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: pytest.fail("trained again"))
    plain = run(tiny, store, progress=False)
    assert plain.path == probed.path and "l2_per_matrix" not in plain.history.series
    np.testing.assert_array_equal(probed.history["test_loss"], plain.history["test_loss"])


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
    git = lambda *args: subprocess.run(["git", "-C", str(repo), *args], check=True,
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
    # a request that keeps weights is another run, trained into its own folder
    again = run(derive(tiny, sparsity=0.5), store, progress=False)
    assert again.checkpoint_steps == tiny.checkpoint_steps  # derive keeps the parent's schedule
    assert again.path != ticket.path and list(ticket.path.glob("weights/*")) == []
