"""Head formation over training: when do previous-token, induction, duplicate-token and sink heads appear?

From an attention-evolution sweep (`interp.attention.evolution`, scores per checkpoint × layer × head):

- **emergence** of a head for a head type = the first checkpoint at which its score is ≥ the type's threshold
  AND stays ≥ it at every later checkpoint (a head that crosses and falls back has not formed). Reported
  with that checkpoint's label, step, tokens seen and epoch (whatever the series knows).
- the "heads formed" table: every formed head, its crossing and its final score; per type the first head to
  form, the count, and the best final score (so "no induction head yet" is stated, not implied).
- the loss curve of the run (interp's metrics.jsonl, the HF Trainer's log_history) on the same x axis — the
  induction "bump" of Olsson et al. (2022) shows in the loss when induction heads form.

Default thresholds (`THRESHOLDS`, overridable): previous-token 0.5 (half of the attention one key back, on
the prompt), induction 0.4 and duplicate-token 0.4 (on random tokens repeated twice, where a uniform
head scores ~1/(position) ≪ 0.1), sink 0.5 (half of the attention on position 0).

Scores follow our definitions (`interp.attention.scores`: mean over query positions 1..T-1); the
TransformerLens head-detector convention differs by the row-0 term — see `scores.detection_score`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from interp.errors import UserError
from interp.results import FrozenResult

HEAD_TYPES = ("prev_token", "induction", "duplicate_token", "sink")
THRESHOLDS = {"prev_token": 0.5, "induction": 0.4, "duplicate_token": 0.4, "sink": 0.5}
DEFAULT_PROMPT = ("The king said that he would not go to the city, and the queen said that she would go "
                  "with him to the city.")


def parse_thresholds(text: str | None) -> dict[str, float]:
    """'prev_token=0.6,induction=0.3' -> THRESHOLDS with those replaced (names and values checked)."""
    out = dict(THRESHOLDS)
    if text is None or not text.strip():
        return out
    for part in text.split(","):
        m = re.fullmatch(r"\s*([a-z_]+)\s*=\s*([0-9.eE+-]+)\s*", part)
        if not m:
            raise UserError(f"threshold {part!r} does not parse; use TYPE=VALUE pairs like prev_token=0.5,induction=0.4")
        name, val = m.group(1), float(m.group(2))
        if name not in THRESHOLDS:
            raise UserError(f"unknown head type {name!r}; choose from {', '.join(HEAD_TYPES)}")
        if not math.isfinite(val) or not 0 < val <= 1:
            raise UserError(f"threshold for {name} must be in (0, 1], got {m.group(2)}")
        out[name] = val
    return out


def emergence_index(values: list[float | None], threshold: float) -> int | None:
    """First index i with values[j] >= threshold for every j >= i (None: never formed / fell back at the end)."""
    first = None
    for i, v in enumerate(values):
        if v is not None and v >= threshold:
            if first is None:
                first = i
        else:
            first = None
    return first


@dataclass(frozen=True)
class HeadFormationResult(FrozenResult):
    kind: str = "head_formation"
    source: str = ""
    series_kind: str = ""
    prompt: str = ""  # the text of the previous-token and sink scores (mean A[q, q−1] / A[q, 0] over q ≥ 1)
    n_prompt_tokens: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    n_layers: int = 0
    n_heads: int = 0
    induction_len: int = 0
    x: str = "checkpoint"
    x_values: tuple[float | None, ...] = ()
    labels: tuple[str, ...] = ()
    steps: tuple[int | None, ...] = ()
    tokens_seen: tuple[int | None, ...] = ()
    epochs: tuple[float | int | None, ...] = ()
    thresholds: dict[str, float] = field(default_factory=dict)
    scores: dict[str, list] = field(default_factory=dict)  # type -> [checkpoint][layer][head]
    js_distance_mean: tuple[float | None, ...] = ()  # mean over heads, per checkpoint (None for the first)
    formed: tuple[dict[str, Any], ...] = ()  # one row per formed head (the "heads formed" table)
    summary: tuple[dict[str, Any], ...] = ()  # one row per head type
    loss_curve: tuple[dict[str, Any], ...] = ()
    boundary: dict[str, Any] | None = None  # a parent → fine-tune series: where fine-tuning starts
    induction_sampling: str = ""  # which tokens the induction/duplicate-token sequences use
    prev_token_sampling: str = "the prompt"
    icl: tuple[dict[str, float] | None, ...] = ()  # per checkpoint: interp.attention.icl.ICLScore fields
    icl_source: str = ""
    # per marker (induction, prev_token, icl, loss_bump, circuit): {"checkpoint", "label", "step", "tokens_seen",
    # "x", "rule"} or None — where each signal changes (interp.attention.phase); "circuit" is left None here
    markers: dict[str, Any] = field(default_factory=dict)
    # for the circuit-formation analysis (interp.circuits): the candidate prev-token -> induction edge and the
    # checkpoints (labels/steps/tokens_seen above) its per-checkpoint score is to be plotted against
    circuit_hook: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if d.get("boundary") is None:
            d.pop("boundary", None)
        return d


def _markers(evo: dict[str, Any], sc: dict[str, list], thr: dict[str, float], L: int) -> dict[str, Any]:
    """Per signal, the checkpoint where it changes (rules in interp.attention.phase); circuit left None."""
    from interp.attention import phase

    icl_vals = [None if ck.get("icl") is None else ck["icl"]["score"] for ck in evo["checkpoints"]]
    held_out = [None if ck.get("icl") is None else ck["icl"]["loss"] for ck in evo["checkpoints"]]
    xs = [t if t is not None else s for t, s in zip(evo.get("tokens_seen") or [], evo.get("steps") or [], strict=False)]
    found = {
        "induction": (phase.stays_from(phase.best_per_checkpoint(sc["induction"], min(1, L - 1)),
                                       lambda v: v >= thr["induction"]),
                      f"best induction head (layers >= 1) >= {thr['induction']:g} from here on"),
        "prev_token": (phase.stays_from(phase.best_per_checkpoint(sc["prev_token"]), lambda v: v >= thr["prev_token"]),
                       f"best previous-token head >= {thr['prev_token']:g} from here on"),
        "icl": (phase.halfway_index(icl_vals), "ICL score <= half-way between its first value and its minimum "
                                               "from here on"),
        "loss_bump": (phase.steepest_drop_index(xs, held_out) if len(xs) == len(held_out) else None,
                      "end of the steepest fall of the held-out (ICL windows) loss per log(tokens), after 5% of training"),
    }
    out: dict[str, Any] = {k: None if i is None else {**_at(evo, i), "rule": rule} for k, (i, rule) in found.items()}
    out["circuit"] = None
    return out


def _circuit_hook(sc: dict[str, list], L: int, H: int) -> dict[str, Any]:
    """The prev-token (layer 0) and induction (layer >= 1) heads with the best final scores, and their K-edge."""
    if L < 2 or not sc["prev_token"] or not sc["prev_token"][-1] or not sc["induction"][-1]:
        return {}
    p = max((sc["prev_token"][-1][0][h], h) for h in range(H))
    i = max((sc["induction"][-1][layer][h], layer, h) for layer in range(1, L) for h in range(H))
    return {"prev_token_head": f"L0.H{p[1]}", "induction_head": f"L{i[1]}.H{i[2]}",
            "edge": f"L0.H{p[1]}->L{i[1]}.H{i[2]}.k",
            "note": "K-composition edge of the induction circuit; a circuit-formation result over the same "
                    "checkpoints (labels/steps/tokens_seen) fills markers['circuit'] and plots beside these scores"}


def _at(evo: dict[str, Any], i: int) -> dict[str, Any]:
    return {"checkpoint": i, "label": evo["labels"][i] if evo.get("labels") else str(i),
            "step": (evo.get("steps") or [None] * (i + 1))[i], "tokens_seen": (evo.get("tokens_seen") or [None] * (i + 1))[i],
            "epoch": (evo.get("epochs") or [None] * (i + 1))[i], "x": (evo.get("x_values") or [None] * (i + 1))[i]}


def head_formation_from_evolution(evo: dict[str, Any], thresholds: dict[str, float] | None = None,
                                  config: dict[str, Any] | None = None) -> HeadFormationResult:
    """Emergence table + summary from an `attention_evolution` result DICT (pure; no model)."""
    thr = dict(THRESHOLDS if thresholds is None else thresholds)
    cks = evo["checkpoints"]
    L, H = int(evo["n_layers"]), int(evo["n_heads"])
    sc = {t: [ck.get(t) for ck in cks] for t in HEAD_TYPES}
    formed, summary = [], []
    for t in HEAD_TYPES:
        rows = []
        for layer in range(L):
            for head in range(H):
                vals = [None if m is None or not m else m[layer][head] for m in sc[t]]
                i = emergence_index(vals, thr[t])
                if i is not None:
                    rows.append({"type": t, "layer": layer, "head": head, "head_name": f"L{layer}.H{head}",
                                 **_at(evo, i), "score_at_crossing": vals[i], "final_score": vals[-1]})
        rows.sort(key=lambda r: (r["checkpoint"], -r["final_score"]))
        finals = [(sc[t][-1][layer][head], layer, head) for layer in range(L) for head in range(H)] if sc[t][-1] else []
        best = max(finals) if finals else None
        summary.append({"type": t, "threshold": thr[t], "n_formed": len(rows), "n_heads_total": L * H,
                        "first": rows[0] if rows else None,
                        "best_final": None if best is None else {"head_name": f"L{best[1]}.H{best[2]}", "score": best[0]}})
        formed += rows
    js = tuple(None if ck.get("js_distance") is None else
               sum(sum(r) for r in ck["js_distance"]) / (L * H) for ck in cks)
    return HeadFormationResult(
        source=evo.get("run_dir", ""), series_kind=evo.get("series_kind", ""), prompt=evo.get("prompt", ""),
        n_prompt_tokens=len(evo.get("tokens") or ()),
        config={**(config or {}), "evolution": evo.get("config", {})}, n_layers=L, n_heads=H,
        induction_len=int(evo.get("induction_len", 0)), x=evo.get("x", "checkpoint"),
        x_values=tuple(evo.get("x_values") or ()), labels=tuple(evo.get("labels") or ()),
        steps=tuple(evo.get("steps") or ()), tokens_seen=tuple(evo.get("tokens_seen") or ()),
        epochs=tuple(evo.get("epochs") or ()), thresholds=thr, scores={t: v for t, v in sc.items()},
        js_distance_mean=js, formed=tuple(formed), summary=tuple(summary), loss_curve=tuple(evo.get("loss_curve") or ()),
        induction_sampling=evo.get("induction_sampling", ""), icl=tuple(ck.get("icl") for ck in cks),
        icl_source=evo.get("icl_source", ""), markers=_markers(evo, sc, thr, L), circuit_hook=_circuit_hook(sc, L, H),
        boundary=evo.get("boundary"))


def head_formation(run_or_series: Any, prompt: str = DEFAULT_PROMPT, *, thresholds: str | dict[str, float] | None = None,
                   x: str | None = None, induction_len: int = 32, induction_batch: int = 4,
                   max_tokens: int | None = None, tokenizer: str | None = None, meta: str | None = None,
                   device: str = "cpu", seed: int = 0, induction_sampling: str = "auto",
                   texts: dict[str, str] | None = None) -> HeadFormationResult:
    """When heads form over a checkpoint series: per-head scores, emergence table, loss curve (see module doc).

    `run_or_series`: anything `interp.attention.attention_evolution` takes. `thresholds`: 'TYPE=V,...' or a dict.
    `induction_sampling`: vocab | frequent | auto (frequent when a train text is known: an interp run dir's
    train split, or texts["sample"]). The ICL score is computed when a held-out text is known (the run's val
    split, or texts["icl"]). `texts`: see `attention_evolution`.
    """
    from interp.attention.evolution import attention_evolution

    thr = parse_thresholds(thresholds) if thresholds is None or isinstance(thresholds, str) else \
        parse_thresholds(",".join(f"{k}={v}" for k, v in thresholds.items()))
    texts = {**run_texts(run_or_series), **(texts or {})}
    sampling = ("frequent" if texts.get("sample") else "vocab") if induction_sampling == "auto" else induction_sampling
    evo = attention_evolution(run_or_series, prompt, x=x, induction_len=induction_len, induction_batch=induction_batch,
                              max_tokens=max_tokens, tokenizer=tokenizer, meta=meta, device=device, seed=seed,
                              grid=False, texts=texts, induction_sampling=sampling)
    return head_formation_from_evolution(evo.to_dict(), thr, config={"seed": seed, "x": x,
                                                                     "induction_sampling": sampling})


MAX_SAMPLE_CHARS = 2_000_000  # of the train split, for the token frequencies (the first documents, in order)


def run_texts(source: Any) -> dict[str, str]:
    """For an interp run dir (run.json): its train split (first MAX_SAMPLE_CHARS) and val split texts; else {}."""
    import json
    from pathlib import Path

    from interp.data import DOC_SEPARATOR, split_texts

    if not isinstance(source, (str, Path)) or not (Path(source) / "run.json").is_file():
        return {}
    try:
        meta = json.loads((Path(source) / "run.json").read_text())
        train, val = split_texts(meta, "train"), split_texts(meta, "val")
    except (OSError, ValueError, KeyError, UserError):
        return {}  # a run whose corpus is gone: fall back to the vocabulary sampling, no ICL score
    return {"sample": DOC_SEPARATOR.join(train)[:MAX_SAMPLE_CHARS], "sample_source": "the run's train split",
            "icl": DOC_SEPARATOR.join(val), "icl_source": "the run's val split"}


# ----------------------------------------------------------------------------- figure (from the dict)
TITLES = {"prev_token": "previous-token", "induction": "induction", "duplicate_token": "duplicate-token",
          "sink": "sink (first token)"}


def _loss_points(result: dict[str, Any], key: str) -> list[tuple[float, float]]:
    xk = {"tokens": "tokens", "step": "step", "epoch": "epoch"}.get(result.get("x", ""))
    if xk is None:
        return []
    return [(p[xk], p[key]) for p in result.get("loss_curve", ()) if p.get(xk) is not None and p.get(key) is not None]


def plot_head_formation(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """One panel per head type (every head's score; formed heads coloured, crossing marked, threshold dashed)
    and the loss curve beside them on the same x axis."""
    import matplotlib.pyplot as plt

    from interp.attention.plots import X_LABELS, mark_boundary, set_x_scale

    xs = list(result["x_values"]) if result.get("x") != "checkpoint" else list(range(len(result["labels"])))
    xlabel = X_LABELS.get(result.get("x", ""), result.get("x", ""))
    types = [t for t in HEAD_TYPES if result["scores"].get(t) and all(result["scores"][t])]
    fig, axes = plt.subplots(1, len(types) + 1, figsize=(3.6 * (len(types) + 1), 3.5), squeeze=False,
                             layout="constrained")
    formed = {(r["type"], r["layer"], r["head"]): r for r in result["formed"]}
    for ax, t in zip(axes[0], types, strict=False):
        per = result["scores"][t]
        for layer in range(result["n_layers"]):
            for head in range(result["n_heads"]):
                ys = [m[layer][head] for m in per]
                r = formed.get((t, layer, head))
                if r is None:
                    ax.plot(xs, ys, color="0.75", lw=0.7, zorder=1)
                    continue
                (line,) = ax.plot(xs, ys, lw=1.5, marker="o", ms=2.5, label=f"L{layer}.H{head}", zorder=2)
                cx = xs[r["checkpoint"]]
                ax.axvline(cx, color=line.get_color(), ls=":", lw=1)
                ax.plot([cx], [ys[r["checkpoint"]]], marker="*", ms=10, color=line.get_color(), zorder=3)
        ax.axhline(result["thresholds"][t], color="k", ls="--", lw=0.8)
        n = sum(1 for r in result["formed"] if r["type"] == t)
        ax.set_title(f"{TITLES[t]} — {n} formed (≥ {result['thresholds'][t]:g})", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        set_x_scale(ax, result.get("x", ""), xs)
        mark_boundary(ax, result)
        if n:
            ax.legend(fontsize=6, frameon=False, loc="upper left")
    ax = axes[0][-1]
    drawn = False
    for key, name in (("train_loss", "train"), ("val_loss", "val")):
        pts = _loss_points(result, key)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1.2, marker="." if key == "val_loss" else None, label=name)
            drawn = True
    if drawn:
        for r in result["formed"]:
            if r["type"] == "induction" and r["x"] is not None:
                ax.axvline(r["x"], color="tab:red", ls=":", lw=1)
        ax.legend(fontsize=7, frameon=False)
        set_x_scale(ax, result.get("x", ""), xs)  # the same scale as the score panels
        mark_boundary(ax, result)
    else:
        ax.text(0.5, 0.5, "no loss curve logged\nfor this series", ha="center", va="center", transform=ax.transAxes,
                fontsize=8)
    ax.set_title("loss (induction crossings dotted)", fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle(f"head formation over training — {result.get('source', '')[:60]}", fontsize=9, parse_math=False)
    return [("head_formation", fig)]
