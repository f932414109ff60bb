"""Fine-tuning (`interp train --init-from`): exact start, frozen parameters, parent record, one series, bad input."""

from __future__ import annotations

import json
import random

import pytest
import torch

from interp.presets import get_preset
from interp.train import TrainConfig, train
from tests.cli_helpers import assert_user_error, run_cli, snapshot_tree

WORDS = "the king said that he would go to the sea and the queen said no one will follow".split()


def _corpus(d, seed: int, n_docs: int = 6, words: list[str] = WORDS):
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for i in range(n_docs):
        (d / f"doc{i}.txt").write_text(" ".join(rng.choice(words) for _ in range(400)) + "\n")
    return d


def _cfg(corpus, **kw) -> TrainConfig:
    base = dict(model=get_preset("tiny", n_ctx=16, d_model=32, n_heads=2), preset="tiny", corpus=str(corpus),
                tokenizer="char", batch_size=4, max_epochs=1, max_steps=6, warmup_steps=1, eval_tokens=128,
                val_frac=0.2, test_frac=0.2, save_at="2", seed=0)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    run = root / "parent"
    train(_cfg(_corpus(root / "old", 0)), run, progress=False)
    return root, run


def _child(root, parent_run, name: str, **flags):
    new = _corpus(root / "new", 1, words=WORDS[::3] + ["sea"] * 6)  # same alphabet, other word frequencies
    cfg = TrainConfig.from_flags(init_from=str(parent_run), corpus=str(new), batch_size=4, epochs=1, max_steps=4,
                                 warmup_steps=1, eval_tokens=128, eval_every=1, val_frac=0.2, test_frac=0.2,
                                 seed=3, **flags)
    train(cfg, root / name, progress=False)
    return root / name, cfg


def test_first_step_loss_is_the_parents_loss_on_that_batch(parent):
    import torch.nn.functional as F
    from transformers import GPT2LMHeadModel

    from interp.train import epoch_windows, prepare_data
    from interp.train.finetune import load_tokenizer, resolve_parent

    root, run = parent
    child, cfg = _child(root, run, "child")
    first = json.loads((child / "metrics.jsonl").read_text().splitlines()[0])
    assert first["step"] == 1
    p = resolve_parent(str(run))
    assert p.dir == run / "checkpoints" / "best"
    model = GPT2LMHeadModel.from_pretrained(str(p.dir)).eval()  # dropout 0: eval == train mode
    _, _, ids = prepare_data(cfg, tokenizer=load_tokenizer(p.dir))
    starts = epoch_windows(len(ids["train"]), 16, cfg.seed, 0)[: cfg.batch_size]
    w = torch.as_tensor(ids["train"], dtype=torch.long)[torch.as_tensor(starts)[:, None] + torch.arange(17)]
    with torch.no_grad():
        logits = model(w[:, :-1]).logits
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1)).item()
    assert first["train_loss"] == pytest.approx(loss, rel=1e-5, abs=1e-6)

    meta = json.loads((child / "run.json").read_text())
    assert meta["parent"]["ref"] == str(run) and len(meta["parent"]["weights_sha256"]) == 64
    assert meta["config"]["init_from"] == str(run) and meta["tokenizer"]["kind"] == "char"
    assert meta["parent"]["step"] == json.loads((p.dir / "trainer_state.json").read_text())["step"]


def test_frozen_parameters_stay_bitwise_equal(parent):
    from safetensors.torch import load_file

    root, run = parent
    child, _ = _child(root, run, "frozen", freeze="embeddings,blocks.0")
    before = load_file(str(run / "checkpoints" / "best" / "model.safetensors"))
    after = load_file(str(child / "checkpoints" / "epoch-001" / "model.safetensors"))
    frozen = json.loads((child / "run.json").read_text())["frozen_parameters"]
    assert "transformer.wte.weight" in frozen and "transformer.h.0.attn.c_attn.weight" in frozen
    assert not any(n.startswith("transformer.h.1.") for n in frozen)
    for name in frozen:
        assert torch.equal(before[name], after[name]), name
    assert not torch.equal(before["transformer.h.1.attn.c_attn.weight"], after["transformer.h.1.attn.c_attn.weight"])


def test_parent_and_child_read_as_one_series_with_the_boundary(parent):
    from interp.series import as_series

    root, run = parent
    child = root / "child" if (root / "child").exists() else _child(root, run, "child")[0]
    s = as_series(child)
    parent_step = json.loads((run / "checkpoints" / "best" / "trainer_state.json").read_text())["step"]
    assert s.boundary is not None and s.boundary["step"] == parent_step
    labels = [c.label for c in s.checkpoints]
    assert labels[0] == "step-000002" and labels[-1] == "ft/epoch-001"
    steps = [c.step for c in s.checkpoints]
    assert steps == sorted(steps) and steps[-1] == parent_step + 4
    assert [c.step for c in s.checkpoints if not c.label.startswith("ft/")][-1] == parent_step
    assert s.to_dict()["boundary"]["checkpoint"] == sum(not c.startswith("ft/") for c in labels) - 0.5


def test_freeze_patterns_match_hf_names_aliases_and_globs():
    from interp.errors import UserError
    from interp.train.finetune import frozen_names

    names = ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
             "transformer.h.1.attn.c_attn.weight", "transformer.h.1.mlp.c_fc.weight", "transformer.ln_f.weight"]
    assert frozen_names(names, ("embeddings",)) == sorted(names[:2])
    assert frozen_names(names, ("blocks.1",)) == names[3:5]
    assert frozen_names(names, ("blocks.*.attn.*",)) == names[2:4]
    assert frozen_names(names, ("transformer.ln_f.weight",)) == names[5:]
    with pytest.raises(UserError, match="matches no parameter"):
        frozen_names(names, ("blocks.7",))
    with pytest.raises(UserError, match="every parameter"):
        frozen_names(names, ("*",))


def test_bad_fine_tune_input_one_line_exit_2_nothing_written(parent, tmp_path):
    root, run = parent
    (tmp_path / "greek.txt").write_text("αβγδεζηθικλμνξοπρστυφχψω " * 200)
    new = _corpus(tmp_path / "new", 2)
    base = ["train", "out", "--init-from", str(run), "--corpus", str(new)]
    cases = [
        (["--n-layers", "3"], "--n-layers 3 contradicts"),
        (["--tokenizer", "bpe"], "--tokenizer bpe contradicts"),
        (["--freeze", "blocks.9"], "matches no parameter"),
    ]
    before = snapshot_tree(tmp_path)
    for extra, match in cases:
        assert_user_error(run_cli([*base, *extra], cwd=tmp_path), match)
    r = run_cli(["train", "out", "--init-from", str(run), "--corpus", str(tmp_path / "greek.txt")], cwd=tmp_path)
    assert_user_error(r, "unknown")
    assert snapshot_tree(tmp_path) == before


def test_training_curves_put_parent_and_child_on_one_axis_and_render(parent, tmp_path):
    from interp.train.curves import training_curves
    from reports.build import build_report

    root, run = parent
    child = root / "child" if (root / "child").exists() else _child(root, run, "child")[0]
    res = training_curves(child)
    d = res.to_dict()
    labels = [r["label"] for r in d["runs"]]
    assert labels == ["parent (parent)", "child"]
    start = json.loads((child / "run.json").read_text())["parent"]["step"]
    assert d["boundaries"][0]["step"] == start
    assert all(p["step"] <= start for p in d["runs"][0]["points"])
    assert min(p["step"] for p in d["runs"][1]["points"]) == start + 1
    assert {"lr", "train_loss", "grad_norm", "tokens_per_s", "val_loss"} <= set(d["runs"][1]["points"][0])
    figs = res.plot()
    assert len(figs) == 2
    res.save(tmp_path / "curves")
    rep = build_report(tmp_path)
    (sec,) = [s for s in rep.sections if s.kind == "training_curves"]
    assert sec.tailored and sec.findings and len(sec.blocks) >= 3


def test_js_distance_matches_scipy():
    from scipy.spatial.distance import jensenshannon

    from evals.finetune_compare import js_distance_rows

    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(5, 7, generator=g), -1).double()
    q = torch.softmax(torch.randn(5, 7, generator=g), -1).double()
    q[0, :3] = 0
    q[0] /= q[0].sum()
    ref = [jensenshannon(p[i].numpy(), q[i].numpy(), base=2) for i in range(5)]
    torch.testing.assert_close(js_distance_rows(p, q), torch.tensor(ref, dtype=torch.double), atol=1e-9, rtol=1e-7)
    assert js_distance_rows(p, p).abs().max() < 1e-6


def test_report_parent_child_compare(parent, tmp_path):
    from evals.finetune_compare import attention_distance, head_ablation
    from interp import hooked, tokens

    root, run = parent
    child = root / "child" if (root / "child").exists() else _child(root, run, "child")[0]
    r = run_cli(["report", str(run), str(child), "--compare", "--out", str(tmp_path / "cmp"), "--format", "html"],
                cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "cmp" / "compare" / "results.json").read_text())
    assert res["kind"] == "finetune_compare" and res["n_layers"] == 2 and res["n_heads"] == 2
    for corpus in ("old", "new"):
        for who in ("parent", "child"):
            c = res["perplexity"][corpus][who]
            assert c["lo"] <= c["value"] <= c["hi"]
    assert res["forgetting"]["lo"] <= res["forgetting"]["value"] <= res["forgetting"]["hi"]
    assert (tmp_path / "cmp" / "report.html").is_file() and "What fine-tuning changed" in (
        tmp_path / "cmp" / "report.html").read_text()
    wrong = run_cli(["report", str(child), str(child), "--compare", "--out", str(tmp_path / "w")], cwd=tmp_path)
    assert_user_error(wrong, "was fine-tuned from")
    assert not (tmp_path / "w").exists()
    # a model compared with itself: zero distance, zero change (the same code path, exact reference)
    m = hooked.load(str(run))
    w = tokens.eval_windows(m.tokenizer, ["the king said that he would go to the sea " * 20], 16, 256)
    assert abs(attention_distance(m, m, w)).max() < 1e-6
    a1, a2 = head_ablation(m, w, 0), head_ablation(m, w, 0)
    assert (a1 == a2).all() and a1.shape == (len(w), 2, 2)


def test_head_formation_runs_across_parent_and_fine_tune_with_the_boundary(parent):
    from interp.attention.formation import head_formation

    root, run = parent
    child = root / "child" if (root / "child").exists() else _child(root, run, "child")[0]
    res = head_formation(child, "the king said that he would go", induction_len=6, induction_batch=2)
    d = res.to_dict()
    assert d["boundary"]["label"] == "fine-tune starts" and d["labels"][-1] == "ft/epoch-001"
    assert any(lab.startswith("ft/") for lab in d["labels"]) and not d["labels"][0].startswith("ft/")
    import matplotlib.pyplot as plt

    figs = res.plot()
    lines = [ln for f in figs for ax in f.axes for ln in ax.get_lines() if ln.get_label() == "fine-tune starts"]
    assert lines, "the boundary is drawn"
    plt.close("all")


def test_fine_tune_killed_before_a_checkpoint_resumes_from_the_parent(parent):
    from interp.train import resume
    from interp.train.hooks import Hooks

    root, run = parent
    child = root / "child" if (root / "child").exists() else _child(root, run, "child")[0]
    cfg = TrainConfig.from_dict(json.loads((child / "run.json").read_text())["config"])
    with pytest.raises(KeyboardInterrupt):
        train(cfg, root / "cut", progress=False, _hooks=Hooks(interrupt_after_step=2))
    res = resume(root / "cut", progress=False)
    want = json.loads((child / "results.json").read_text())
    assert res.final_val_loss == pytest.approx(want["final_val_loss"], rel=1e-6)
    assert res.best_val_loss == pytest.approx(want["best_val_loss"], rel=1e-6)
