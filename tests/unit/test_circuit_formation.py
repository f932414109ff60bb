"""circuit-formation over a tiny series: per-checkpoint results, formation index, torchrun 2 ranks = 1 process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

PAIRS = [{"clean": "John lost his keys. Sarah said", "corrupt": "Mary lost his keys. Sarah said", "answer": " the",
          "wrong": " cat"},
         {"clean": "The cat sat on the mat. The", "corrupt": "The the sat on the mat. The", "answer": " the",
          "wrong": " cat"}]


@pytest.fixture(scope="module")
def series_dirs(tiny_gpt2_dir, tmp_path_factory):
    from transformers import AutoTokenizer, GPT2LMHeadModel

    root = tmp_path_factory.mktemp("circ_series")
    tok = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    out = []
    for k in range(3):
        m = GPT2LMHeadModel.from_pretrained(tiny_gpt2_dir)
        g = torch.Generator().manual_seed(k)
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.02 * k * torch.randn(p.shape, generator=g))
        d = root / f"checkpoint-{k * 10}"
        m.save_pretrained(d)
        tok.save_pretrained(d)
        out.append(d)
    pairs = root / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS), encoding="utf-8")
    return out, pairs


def test_formation_index():
    from interp.circuits.formation import formation_index

    assert formation_index([0.1, 0.9, 0.5, 0.85, 0.9], 0.8) == 3
    assert formation_index([0.9, 0.9], 0.8) == 0
    assert formation_index([0.9, 0.1], 0.8) is None
    assert formation_index([None, 0.9], 0.8) == 1


def test_circuit_formation_runs(series_dirs, tmp_path):
    from interp.circuits.formation import circuit_formation

    dirs, pairs = series_dirs
    res = circuit_formation([str(d) for d in dirs], pairs=pairs, method="eap-ig:2", size=10, n_boot=20)
    d = res.to_dict()
    assert len(d["faithfulness"]) == 3 and d["x_name"] in ("step", "checkpoint")
    assert len(d["edge_scores"]) == 10 and all(len(v) == 3 for v in d["edge_scores"].values())
    assert {p.name for p in res.save(tmp_path / "results" / "cf")} >= {"circuit_formation.png", "results.json"}
    from reports.api import report

    rep = report(tmp_path / "results", out=tmp_path / "report", format="html")
    assert "Circuit formation" in open(rep.outputs["html"], encoding="utf-8").read()


@pytest.mark.skipif(shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
                    reason="torchrun not installed")
def test_torchrun_two_ranks_byte_identical(series_dirs, tmp_path):
    dirs, pairs = series_dirs
    exe = Path(sys.executable)
    interp_cli = [str(exe.with_name("interp"))]
    args = ["circuit-formation", *map(str, dirs), "--pairs", str(pairs), "--method", "eap-ig:2", "--size", "10",
            "--n-boot", "20"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    one = subprocess.run([*interp_cli, *args, "--out", str(tmp_path / "one")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([str(exe.with_name("torchrun")), "--nproc_per_node=2", "--master_port=29731", "-m",
                          "interp.cli", *args, "--out", str(tmp_path / "two")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    assert (tmp_path / "one" / "results.json").read_bytes() == (tmp_path / "two" / "results.json").read_bytes()
