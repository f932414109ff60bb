"""An interrupted training stage of the demo resumes from its last checkpoint: `--resume-every N` keeps a rolling
resumable checkpoint (checkpoints/resume), the demo's train stage reruns as `train --resume RUN`, and the finished
run equals an uninterrupted one bit for bit (on CPU)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file


@pytest.fixture()
def corpus(tmp_path):
    from tests.conftest import TOY_TEXT

    f = tmp_path / "corpus.txt"
    f.write_text(TOY_TEXT * 3, encoding="utf-8")
    return f


def _kw(corpus) -> dict:
    return dict(preset="tiny", corpus=str(corpus), vocab_size=300, epochs=2, eval_tokens=512, warmup_steps=1,
                batch_size=4, resume_every=3, save_at="log", progress=False, seed=0)


def test_interrupted_demo_training_resumes_from_the_rolling_checkpoint(tmp_path, corpus):
    from interp.checkpoint import read_state, resumable_checkpoints
    from interp.cli import run
    from interp.demo import STAGES, DemoConfig
    from interp.train import train
    from interp.train.hooks import Hooks

    full = train(tmp_path / "full", **_kw(corpus))
    spe = full.steps // 2
    assert spe > 4
    cut_at = spe + 4 if (spe + 4) % 3 else spe + 5  # mid epoch 2, past a rolling checkpoint
    demo = DemoConfig(out=tmp_path / "demo", gemma=False)
    with pytest.raises(KeyboardInterrupt):
        train(demo.out / "run", _hooks=Hooks(interrupt_after_step=cut_at), **_kw(corpus))
    last = resumable_checkpoints(demo.out / "run")[-1]
    assert last.name == "resume" and read_state(last)["step"] == cut_at - cut_at % 3 > spe  # not the epoch one

    argv = next(s for s in STAGES if s.name == "train").argv(demo)
    assert argv == ["train", "--resume", str(demo.out / "run")]  # what the rerun demo does
    assert run(argv) == 0
    assert not (demo.out / "run" / "checkpoints" / "resume").exists()  # removed once training finished
    a = load_file(str(tmp_path / "full" / "checkpoints" / "epoch-002" / "model.safetensors"))
    b = load_file(str(demo.out / "run" / "checkpoints" / "epoch-002" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=0, rtol=0)
    steps = [json.loads(x)["step"] for x in (demo.out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))


def test_demo_trains_with_a_rolling_checkpoint():
    from interp.demo import RESUME_EVERY, STAGES, DemoConfig

    argv = next(s for s in STAGES if s.name == "train").argv(DemoConfig(gemma=False))
    assert argv[argv.index("--resume-every") + 1] == str(RESUME_EVERY) and 0 < RESUME_EVERY <= 200
