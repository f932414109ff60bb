"""Training curves: lr, train/val loss, grad norm and tokens/s against steps and tokens, for one run or
overlaid for several (a sweep's trials, a parent and its fine-tune).

    training_curves("runs/a", "runs/b")      # or a sweep dir (its trials), or a fine-tune run (parent + child)
    res.plot()                                # figures; res.to_dict() / res.save(dir) like every result

Reads run.json + metrics.jsonl + results.json only. A fine-tune's steps and tokens continue from its parent's
(the step/tokens it started from, run.json `parent`), so a parent/child pair reads as one axis with the
boundary marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.errors import UserError
from interp.results import FrozenResult

METRICS = ("lr", "train_loss", "val_loss", "grad_norm", "tokens_per_s")


@dataclass(frozen=True)
class TrainingCurvesResult(FrozenResult):
    kind: str = "training_curves"
    runs: tuple[dict[str, Any], ...] = ()  # label, run_dir, parent, step_offset, token_offset, points
    boundaries: tuple[dict[str, Any], ...] = ()  # fine-tune starts: label, step, tokens


def _read(p: Path) -> dict[str, Any]:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


def _points(run: Path, step_offset: int, token_offset: int) -> list[dict[str, Any]]:
    res = _read(run / "results.json")
    cfg = (_read(run / "run.json").get("config") or {})
    per_step = (res["tokens_seen"] / res["steps"]) if res.get("steps") else \
        cfg.get("batch_size", 0) * cfg.get("grad_accum", 1) * (cfg.get("model") or {}).get("n_ctx", 0)
    out = []
    try:
        lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for ln in lines:
        try:
            r = json.loads(ln)
        except ValueError:
            continue
        if "step" not in r:
            continue
        pt = {"step": int(r["step"]) + step_offset, "tokens": int(round(r["step"] * per_step)) + token_offset}
        pt.update({k: r[k] for k in METRICS if r.get(k) is not None})
        out.append(pt)
    return out


def _run_dirs(ref: Path) -> list[Path]:
    if (ref / "run.json").is_file():
        return [ref]
    trials = sorted(p for p in (ref / "trials").glob("trial-*") if (p / "run.json").is_file())
    if trials:
        return trials
    raise UserError(f"{str(ref)!r} is neither a training run (run.json) nor a sweep dir (trials/); pass run dirs")


def training_curves(*runs: str | Path, labels: list[str] | None = None, with_parent: bool = True) -> TrainingCurvesResult:
    """Curves of each run (a sweep dir expands to its trials; a fine-tune brings its parent when `with_parent`)."""
    if not runs:
        raise UserError("training_curves needs at least one run dir")
    dirs = [d for r in runs for d in _run_dirs(Path(r).expanduser())]
    if labels is not None and len(labels) != len(dirs):
        raise UserError(f"{len(labels)} labels for {len(dirs)} runs")
    entries: list[dict[str, Any]] = []
    bounds: list[dict[str, Any]] = []
    seen = {str(d.resolve()) for d in dirs}
    for i, d in enumerate(dirs):
        parent = _read(d / "run.json").get("parent")
        s0 = t0 = 0
        if parent:
            s0, t0 = parent.get("step") or 0, parent.get("tokens_seen") or 0
            bounds.append({"label": f"{d.name}: fine-tune starts", "step": s0, "tokens": t0})
            prun = parent.get("run")
            if with_parent and prun and Path(prun).is_dir() and str(Path(prun).resolve()) not in seen:
                seen.add(str(Path(prun).resolve()))
                pts = [p for p in _points(Path(prun), 0, 0) if p["step"] <= s0]
                entries.append({"label": f"{Path(prun).name} (parent)", "run_dir": str(prun), "parent": None,
                                "step_offset": 0, "token_offset": 0, "points": pts})
        entries.append({"label": labels[i] if labels else d.name, "run_dir": str(d),
                        "parent": parent.get("ref") if parent else None, "step_offset": s0, "token_offset": t0,
                        "points": _points(d, s0, t0)})
    return TrainingCurvesResult(runs=tuple(entries), boundaries=tuple(bounds))


TITLES = {"lr": "learning rate", "train_loss": "train loss (nats/token)", "val_loss": "val loss (nats/token)",
          "grad_norm": "gradient norm (before clipping)", "tokens_per_s": "throughput (tokens/s)"}


def plot_training_curves(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """Two figures (x = step, x = tokens): one panel per metric, a line per run, fine-tune starts dashed."""
    import matplotlib.pyplot as plt

    figs = []
    for x in ("step", "tokens"):
        fig, axes = plt.subplots(1, len(METRICS), figsize=(3.3 * len(METRICS), 3.0), squeeze=False,
                                 layout="constrained")
        for ax, m in zip(axes[0], METRICS, strict=True):
            for run in result["runs"]:
                pts = [(p[x], p[m]) for p in run["points"] if p.get(m) is not None]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1.1, label=run["label"][:30],
                            marker="." if m == "val_loss" else None)
            for b in result.get("boundaries") or ():
                ax.axvline(b[x], color="tab:purple", ls="--", lw=1)
            ax.set_title(TITLES[m], fontsize=9)
            ax.set_xlabel("tokens seen" if x == "tokens" else "optimizer step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if m == "lr":
                ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        handles, names = axes[0][1].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="outside right center", fontsize=7, frameon=False)
        if result.get("boundaries"):
            fig.suptitle("dashed: fine-tuning starts", fontsize=8)
        figs.append((f"training_curves_{x}", fig))
    return figs
