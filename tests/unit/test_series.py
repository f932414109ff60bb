"""CheckpointSeries: every source (interp run, HF Trainer, numbered dirs, explicit list, hub revisions, nanoGPT),
ordering, metadata, loss curves, errors; attention evolution and head formation over a series."""

from __future__ import annotations

import json

import pytest

from interp import attention as A
from interp import series as S
from interp import series_hub as SH
from interp.errors import UserError
from interp.results import dumps
from tests.unit.series_helpers import interp_run, save_gpt2, trainer_output

PROMPT = "The cat sat on the mat. The cat"


@pytest.fixture(scope="module")
def run(tmp_path_factory, toy_tokenizer):
    return interp_run(tmp_path_factory.mktemp("run"), toy_tokenizer, step_ckpts=(1, 2, 4, 8))  # step 8 = epoch 1


def test_run_dir_epoch_and_step_checkpoints_ordered_by_step(run):
    s = S.as_series(str(run))
    assert s.kind == "run"
    assert [c.label for c in s.checkpoints] == ["step-000001", "step-000002", "step-000004", "epoch-001", "epoch-002"]
    assert [c.step for c in s.checkpoints] == [1, 2, 4, 8, 16]  # step-000008 = epoch-001: the epoch one kept
    assert [c.tokens_seen for c in s.checkpoints] == [256, 512, 1024, 2048, 4096]
    assert [c.epoch for c in s.checkpoints] == [0.125, 0.25, 0.5, 1, 2]  # step dirs: fractional, from metrics.jsonl
    assert s.default_x() == "tokens" and s.check_x("step") == "step"
    assert len(s.loss_curve) == 16 and s.loss_curve[7]["tokens"] == 2048 and s.loss_curve[7]["val_loss"] is not None


def test_trainer_dir_tokenizer_from_parent_and_log_history(tmp_path, toy_tokenizer):
    root = trainer_output(tmp_path / "out", toy_tokenizer, steps=(1500, 500, 1000))
    s = S.as_series(str(root))
    assert s.kind == "trainer" and [c.step for c in s.checkpoints] == [500, 1000, 1500]
    assert [c.tokens_seen for c in s.checkpoints] == [500 * 512, 1000 * 512, 1500 * 512]
    assert s.checkpoints[0].epoch == 0.5 and all(c.tokenizer == str(root) for c in s.checkpoints)
    assert [p["train_loss"] for p in s.loss_curve if p["train_loss"] is not None] == [5.0, 4.0, 3.0]
    bridge = S.load_checkpoint(s.checkpoints[0])
    assert bridge.tokenizer is not None and bridge.cfg.n_layers == 2
    bare = trainer_output(tmp_path / "bare", toy_tokenizer, steps=(10,), tokenizer_in_parent=False)
    with pytest.raises(UserError, match="no tokenizer files.*--tokenizer"):
        S.as_series(str(bare))
    assert S.as_series(str(bare), tokenizer=str(root)).checkpoints[0].tokenizer == str(root)


def test_numbered_dirs_explicit_list_and_errors(tmp_path, toy_tokenizer):
    folder = tmp_path / "models"
    for n, seed in ((200, 1), (30, 2), (1000, 3)):
        save_gpt2(folder / f"ckpt-{n}", toy_tokenizer, seed)
    s = S.as_series(str(folder))
    assert s.kind == "dirs" and [c.step for c in s.checkpoints] == [30, 200, 1000] and s.default_x() == "step"
    with pytest.raises(UserError, match="tokens seen unknown"):
        s.check_x("tokens")
    lst = S.as_series([str(folder / "ckpt-1000"), str(folder / "ckpt-30")])
    assert lst.kind == "list" and [c.label for c in lst.checkpoints] == ["ckpt-1000", "ckpt-30"]
    save_gpt2(folder / "ckpt-5", toy_tokenizer, 4, n_layer=3)
    with pytest.raises(UserError, match=r"'ckpt-5' is gpt2 3 layers.*one architecture"):
        S.as_series(str(folder))
    dup = tmp_path / "dup"
    save_gpt2(dup / "a-7", toy_tokenizer, 1)
    save_gpt2(dup / "b-7", toy_tokenizer, 2)
    with pytest.raises(UserError, match="both step 7"):
        S.as_series(str(dup))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no checkpoints"):
        S.as_series(str(tmp_path / "empty"))
    pickled = tmp_path / "pk" / "m-1"
    save_gpt2(pickled, toy_tokenizer, 1)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    with pytest.raises(UserError, match="only pickled weights"):
        S.as_series(str(tmp_path / "pk"))


def test_hub_revision_parsing_and_ordering_offline():
    assert SH.parse_hub_spec("EleutherAI/pythia-70m@step1000,step0") == ("EleutherAI/pythia-70m", "step1000,step0")
    s = S.as_series("EleutherAI/pythia-70m@step2000,step0,step1000")
    assert s.kind == "hub" and [c.revision for c in s.checkpoints] == ["step0", "step1000", "step2000"]
    assert [c.tokens_seen for c in s.checkpoints] == [0, 1000 * 2_097_152, 2000 * 2_097_152]
    assert SH.select_revisions("main,v1", None) == ["main", "v1"]
    for bad in ("EleutherAI/pythia-70m@", "pythia@step0", "EleutherAI/pythia-70m@step0,,step1",
                "EleutherAI/pythia-70m@every:x", "EleutherAI/pythia-70m@step0,step0"):
        with pytest.raises(UserError):
            S.as_series(bad)
    refs = ["main", "step0", "step1", "step2", "step3", "step4", "step8", "step512", "step1000", "step2000", "step143000"]
    assert SH.select_revisions("log", refs) == ["step0", "step1", "step2", "step4", "step8", "step512", "step1000",
                                               "step2000", "step143000"]
    assert SH.select_revisions("every:1000", refs) == ["step0", "step1000", "step2000", "step143000"]


def test_hub_offline_fails_fast_and_download_path_with_stub(monkeypatch, tiny_gpt2_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from interp import hooked

    monkeypatch.setattr(hooked, "hub_reachable", lambda *a, **k: False)
    with pytest.raises(UserError, match="no network"):
        S.as_series("EleutherAI/pythia-70m@log")
    s = S.as_series("EleutherAI/pythia-70m@step0,step1")
    with pytest.raises(UserError, match="no network"):
        A.attention_evolution(s, PROMPT)
    monkeypatch.setattr(hooked, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(SH, "_list_refs", lambda repo: ["step0", "step1", "step2", "step3", "main"])
    calls = []

    def fake(what, repo, revision):
        calls.append((what, repo, revision))
        cls = AutoTokenizer if what == "tokenizer" else AutoModelForCausalLM
        return cls.from_pretrained(str(tiny_gpt2_dir))

    monkeypatch.setattr(S, "_from_pretrained", fake)
    r = A.attention_evolution("EleutherAI/pythia-70m@log", PROMPT, induction_len=8, induction_batch=1)
    assert r.labels == ("step0", "step1", "step2") and r.x == "tokens" and r.series_kind == "hub"
    assert [c[2] for c in calls if c[0] == "model"] == ["step0", "step1", "step2"]


def test_evolution_over_run_series_x_axis_and_loss_curve(run):
    r = A.attention_evolution(str(run), PROMPT, induction_len=8, induction_batch=2, x="step")
    assert r.x == "step" and r.x_values == (1, 2, 4, 8, 16) and r.labels[-1] == "epoch-002"
    assert r.steps == (1, 2, 4, 8, 16) and r.tokens_seen[0] == 256 and len(r.loss_curve) == 16
    d = json.loads(dumps(r))
    assert all(len(c["duplicate_token"]) == 2 for c in d["checkpoints"])
    default = A.attention_evolution(str(run), PROMPT, induction_len=8, induction_batch=2)
    assert default.x == "tokens" and default.x_values == (256, 512, 1024, 2048, 4096)
    import matplotlib.pyplot as plt

    for _, fig in A.attention_evolution_figures(d):
        plt.close(fig)


def test_head_formation_over_run(run):
    r = A.head_formation(str(run), induction_len=8, induction_batch=2, thresholds="prev_token=0.05")
    d = r.to_dict()
    assert d["kind"] == "head_formation" and d["x"] == "tokens" and len(d["labels"]) == 5
    assert d["thresholds"]["prev_token"] == 0.05 and {s["type"] for s in d["summary"]} == set(A.HEAD_TYPES)
    assert all(len(d["scores"][t]) == 5 for t in A.HEAD_TYPES) and d["js_distance_mean"][0] is None
    import matplotlib.pyplot as plt

    figs = A.plot_head_formation(json.loads(json.dumps(d)))
    assert [n for n, _ in figs] == ["head_formation"]
    plt.close(figs[0][1])


def test_one_model_alive_at_a_time(run, monkeypatch):
    import gc
    import weakref

    alive: list[weakref.ref] = []
    most = []
    real = S.load_checkpoint

    def spy(c, device="cpu"):
        gc.collect()
        most.append(sum(r() is not None for r in alive))  # models still alive when the next one loads
        b = real(c, device=device)
        alive.append(weakref.ref(b))
        return b

    monkeypatch.setattr(S, "load_checkpoint", spy)
    A.attention_evolution(str(run), PROMPT, induction_len=4, induction_batch=1)
    assert len(most) == 5 and max(most) == 0
