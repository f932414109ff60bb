"""A new analysis added by ONE registration: per-head attention entropy, written only for this test.

This module is the whole analysis package — function, result, figure builder, report section, CLI command and
regress metric kind — and `interp.units.register(UNIT)` (or `INTERP_UNITS=tests.unit.test_toy_unit:UNIT` for
a fresh process) is the only registration. The tests show it in the CLI, the API (`interp.entropy`), the
report and `interp regress`, without touching any other file (docs/architecture.md, "Adding an analysis").
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer

from interp.cli.common import DeviceOpt, JsonOpt, ModelArg, SeedOpt, emit
from interp.errors import UserError
from interp.kit.regress import EvalKind, MetricSpec, Param, mean_of
from interp.kit.section import Built, Finding, SectionSpec, ci_text, headline, require, verdict_vs
from interp.results import FrozenResult
from interp.units import Unit

ROOT = Path(__file__).resolve().parents[2]
HERE = "tests.unit.test_toy_unit"


# ----------------------------------------------------------------------------- the analysis (analysis layer)
@dataclass(frozen=True)
class EntropyResult(FrozenResult):
    kind: str = "entropy"
    model: str = ""
    prompt: str = ""
    seed: int = 0
    n_tokens: int = 0
    entropy: list = field(default_factory=list)  # (n_layers, n_heads) mean over query positions 1.., nats
    per_query: list = field(default_factory=list)  # (n_layers, n_heads, T-1)
    uniform: float = 0.0  # the same mean for uniform causal attention: mean_q log(q + 1)


def entropy(model: Any, prompt: str, *, device: str = "cpu", seed: int = 0) -> EntropyResult:
    """Mean entropy (nats) of each head's attention over query positions 1..T-1, with the uniform baseline."""
    import torch

    from interp import hooked
    from interp.text_input import check_prompt
    from interp.tokens import encode

    check_prompt(prompt)
    bridge, info = hooked.load_model(model, device)
    ids = torch.tensor([encode(bridge.tokenizer, prompt)])  # (1, T)
    if ids.shape[1] < 2:
        raise UserError("the prompt needs at least 2 tokens for an attention entropy")
    _, cache = bridge.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_pattern"))
    rows = []
    for layer in range(bridge.cfg.n_layers):
        p = cache[f"blocks.{layer}.attn.hook_pattern"][0, :, 1:].double()  # (H, T-1, T)
        rows.append((-(p * p.clamp_min(1e-30).log()).sum(-1)).tolist())  # (H, T-1)
    t = ids.shape[1]
    return EntropyResult(model=info.name, prompt=prompt, seed=seed, n_tokens=t,
                         entropy=[[sum(q) / len(q) for q in head] for head in rows], per_query=rows,
                         uniform=sum(math.log(q + 1) for q in range(1, t)) / (t - 1))


def figures(result: dict[str, Any]) -> list[tuple[str, Any]]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    im = ax.imshow(result["entropy"], aspect="auto", cmap="viridis")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(f"attention entropy (uniform {result['uniform']:.2f} nats)", fontsize=8)
    fig.colorbar(im, ax=ax)
    return [("entropy", fig)]


# ----------------------------------------------------------------------------- report section (interp.kit only)
def _ratio_ci(samples: list[float], uniform: float) -> tuple[float, float, float]:
    from interp.stats import bootstrap

    lo, hi = bootstrap([s / uniform for s in samples], seed=0)
    return sum(samples) / len(samples) / uniform, lo, hi


def _findings(stage: Any) -> list[Finding]:
    d = stage.data
    grid, uni = require(d, "entropy", "grid"), d["uniform"]
    layer, head = min(((i, j) for i, r in enumerate(grid) for j in range(len(r))), key=lambda lh: grid[lh[0]][lh[1]])
    mean, lo, hi = _ratio_ci(d["per_query"][layer][head], uni)
    return [Finding(f"Sharpest head {layer}.{head}: entropy / uniform", f"{mean:.2f}",
                    verdict_vs(lo, hi, 1.0, "uniform attention"), interval=ci_text(lo, hi),
                    baseline="1.0 = uniform attention")]


def _build(stage: Any) -> Built:
    from interp.kit.document import Figure
    from interp.kit.section import grid_table

    d = stage.data
    b = Built(used={"entropy", "per_query"})
    b.blocks += [Figure(f"{f.rel}: entropy per head", png=f.png, svg=f.svg) for f in stage.figures]
    table = grid_table(require(d, "entropy", "grid"), "mean attention entropy (nats) per layer × head")
    if table is not None:
        b.blocks.append(table)
    b.blocks.append(headline([("uniform baseline (nats)", d["uniform"]), ("tokens", d["n_tokens"])]))
    return b


SECTION = SectionSpec(kind="entropy", title="Attention entropy (toy unit)", order=33,
                      guide=lambda stage: "Entropy of each head's attention row, averaged over query positions; "
                                          "uniform causal attention is the baseline (ratio 1).",
                      findings=_findings, build=_build)


# ----------------------------------------------------------------------------- regress metric kind
def _adapter(model: Any, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
    res = entropy(model, p["prompt"], seed=ctx.seed)
    layer, head = (int(x) for x in p["head"].split("."))
    return {"entropy": mean_of(res.per_query[layer][head])}


KIND = EvalKind(name="entropy", doc="Mean attention entropy of one head (toy unit).",
                params={"prompt": Param("str", doc="prompt text"), "head": Param("str", doc="LAYER.HEAD")},
                metrics={"entropy": MetricSpec("entropy", "higher", "mean", "mean entropy over query positions")},
                adapter=_adapter)


# ----------------------------------------------------------------------------- CLI (shell layer)
app = typer.Typer()


@app.command("entropy")
def entropy_cmd(model: ModelArg, prompt: Annotated[str, typer.Option("--prompt", help="Prompt text.")],
                out: Annotated[Path, typer.Option("--out", "-o", help="Output dir.")] = Path("entropy"),
                device: DeviceOpt = "cpu", seed: SeedOpt = 0, as_json: JsonOpt = False) -> None:
    """Per-head attention entropy of PROMPT (toy analysis unit of the test suite)."""
    res = entropy(model, prompt, device=device, seed=seed)
    res.save(out)
    emit(res.to_dict(), None, as_json, f"entropy per head written to {out / 'results.json'}")


# ----------------------------------------------------------------------------- the ONE registration
UNIT = Unit(name="entropy", function=f"{HERE}:entropy", kinds=("entropy",), figures={"entropy": f"{HERE}:figures"},
            sections={"entropy": f"{HERE}:SECTION"}, cli=HERE, regress={"entropy": f"{HERE}:KIND"})


@pytest.fixture
def registered():
    from interp.units import register, unregister

    register(UNIT)
    yield UNIT
    unregister(UNIT.name)


PROMPT = "John lost his keys and he looked for them"


def test_entropy_matches_an_independent_computation(tiny_gpt2_dir, tiny_bridge):
    """Against HF's own attention probabilities (output_attentions) and scipy's entropy."""
    import torch
    from scipy.stats import entropy as scipy_entropy

    from interp.tokens import encode

    res = entropy(tiny_bridge, PROMPT)
    ids = torch.tensor([encode(tiny_bridge.tokenizer, PROMPT)])
    hf = tiny_bridge.original_model
    hf.config._attn_implementation = "eager"
    with torch.no_grad():
        att = hf(ids, output_attentions=True).attentions
    for layer, a in enumerate(att):
        for h in range(a.shape[1]):
            ref = [float(scipy_entropy(a[0, h, q, : q + 1].double().numpy())) for q in range(1, ids.shape[1])]
            assert res.per_query[layer][h] == pytest.approx(ref, abs=1e-5)
    assert all(e <= res.uniform + 1e-9 for row in res.entropy for e in row)


def test_one_registration_reaches_cli_api_report_and_regress(registered, tiny_gpt2_dir, tmp_path):
    from typer.testing import CliRunner

    import interp
    from interp.cli.app import build_app
    from interp.figures import FIGURES
    from reports.api import report

    # CLI
    out = tmp_path / "results" / "entropy"
    r = CliRunner().invoke(build_app(), ["entropy", str(tiny_gpt2_dir), "--prompt", PROMPT, "--out", str(out)])
    assert r.exit_code == 0, r.output
    cli_json = json.loads((out / "results.json").read_text())
    assert (out / "entropy.png").exists() and FIGURES["entropy"] == f"{HERE}:figures"
    # API: the same results JSON as the CLI
    assert "entropy" in interp.__all__
    assert interp.entropy(str(tiny_gpt2_dir), PROMPT).to_dict() == cli_json
    # report: the section renders with its finding
    rep = report(tmp_path / "results", out=tmp_path / "report.html", format="html")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Attention entropy (toy unit)" in html and "entropy / uniform" in html, rep
    # regress: a suite with kind = "entropy"
    suite = tmp_path / "suite.toml"
    suite.write_text(f'model = "{tiny_gpt2_dir}"\n[[eval]]\nname = "ent"\nkind = "entropy"\n'
                     f'prompt = "{PROMPT}"\nhead = "0.1"\n')
    first = interp.regress(str(suite), update_baseline=True)
    first.write_baseline()
    again = interp.regress(str(suite))
    assert first.passed and again.passed
    assert [c.metric for c in again.checks] == ["entropy"]


def test_unregistered_it_is_gone(tiny_gpt2_dir):
    import interp
    from interp.api import API
    from interp.units import sections_table

    assert "entropy" not in API and "entropy" not in sections_table()
    with pytest.raises(AttributeError):
        interp.entropy  # noqa: B018


def test_a_fresh_process_sees_units_named_in_INTERP_UNITS(tiny_gpt2_dir, tmp_path):
    env = {**os.environ, "INTERP_UNITS": f"{HERE}:UNIT", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "e"
    p = subprocess.run([sys.executable, "-m", "interp", "entropy", str(tiny_gpt2_dir), "--prompt", PROMPT,
                        "--out", str(out), "--json"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout)["kind"] == "entropy" and (out / "results.json").exists()
    bad = subprocess.run([sys.executable, "-m", "interp", "--help"], capture_output=True, text=True, cwd=ROOT,
                         env={**env, "INTERP_UNITS": "no.such.module:UNIT"}, timeout=300)
    assert bad.returncode != 0 and "INTERP_UNITS" in bad.stderr
