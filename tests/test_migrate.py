"""`gtlib.migrate`: a schema-1 store re-keyed without retraining, its duplicate run merged."""
import json
import shutil

import numpy as np
import pytest

import gtlib.runs
from gtlib.__main__ import main
from gtlib.config import derive, to_json
from gtlib.migrate import migrate
from gtlib.runs import run
from gtlib.store import CHECKSUMS, Store, seal, verify


def as_schema1(folder, old_key, config_json, store_root):
    """Move a sealed run folder to ``runs/<old_key>`` as schema 1 wrote it: its config.json as
    given, no ``schema`` in meta.json, sealed again."""
    target = store_root / "runs" / old_key
    shutil.copytree(folder, target)
    (target / CHECKSUMS).unlink()
    (target / "config.json").write_text(json.dumps(config_json, indent=1, sort_keys=True))
    meta = json.loads((target / "meta.json").read_text())
    del meta["schema"]
    (target / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    seal(target)
    return target


def test_a_schema1_store_is_rekeyed_by_what_it_holds_and_its_duplicates_merged(tmp_path, tiny, monkeypatch):
    made = Store(tmp_path / "made")
    dense = run(tiny, made, progress=False)  # weights every 20 steps
    with_weights = derive(tiny, sparsity=0.5, checkpoint_every=None)
    without = derive(tiny, sparsity=0.5, checkpoint_every=0)
    a = run(with_weights, made, progress=False)
    b = run(without, Store(tmp_path / "made_apart"), progress=False)  # its own folder, no weights
    old = tmp_path / "old"
    # Schema 1: the dense run's config.json said "θ0 and the last step" while it held more (a later
    # request kept more); one ticket asked with step=None, the same ticket with the explicit step.
    dense_json = {k: v for k, v in to_json(tiny).items() if k != "checkpoint_every"}
    as_schema1(dense.path, "1111111111111111", dense_json, old)
    ticket_json = to_json(with_weights)
    del ticket_json["mask"]["step"]
    as_schema1(a.path, "2222222222222222", ticket_json, old)
    as_schema1(b.path, "3333333333333333", to_json(without), old)
    before = {p.name: p.read_bytes() for p in (old / "runs" / "1111111111111111" / "weights").iterdir()}

    moved = migrate(old)
    assert moved == {"1111111111111111": tiny.key, "2222222222222222": with_weights.key,
                     "3333333333333333": with_weights.key}
    assert sorted(p.name for p in (old / "runs").iterdir()) == sorted({tiny.key, with_weights.key})
    for folder in (old / "runs").iterdir():
        verify(folder)
    kept = json.loads((old / "runs" / with_weights.key / "meta.json").read_text())
    assert kept["schema1_key"] == "2222222222222222"
    assert list(kept["schema1_duplicates"]) == ["3333333333333333"]
    after = {p.name: p.read_bytes() for p in (old / "runs" / tiny.key / "weights").iterdir()}
    assert after == before  # the files moved, unchanged

    monkeypatch.setattr(gtlib.runs, "train", lambda *a, **k: pytest.fail("trained"))
    store = Store(tmp_path / "new", read_only=(old,))
    assert store.load(tiny).checkpoint_steps == [0, 20, 40, 60]
    served = run(without, store, progress=False)  # the merged copy's requests: no weights
    assert served.checkpoint_steps == [] and served.path.name == with_weights.key
    np.testing.assert_array_equal(served.history["test_acc"], a.history["test_acc"])
    assert migrate(old) == {}  # a second migration changes nothing


def test_migrate_on_the_command_line(tmp_path, capsys):
    assert main(["migrate", str(tmp_path / "nowhere")]) == 2
    assert "no store at" in capsys.readouterr().err
    (tmp_path / "runs").mkdir()
    assert main(["migrate", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"0 runs re-keyed in {tmp_path}"
