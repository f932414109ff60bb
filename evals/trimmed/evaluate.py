"""Trimmed-head classification: zero-shot, calibrated, fitted head + linear probe (learning curve), full vocab.

Variants, reported side by side in one result (`evaluate_trimmed`):
- `trimmed`: argmax over the k label logits (the unembedding trimmed to the label tokens).
- `calibrated` (`calibrate=True`): contextual calibration (Zhao et al. 2021, "Calibrate Before Use").
  The content-free inputs "N/A", "" and "[MASK]" go through the same template and shots; their mean
  label probabilities estimate the prior p_cf, and  q ∝ softmax(logits) / p_cf  (W = diag(p_cf)^-1, b = 0).
- `fitted_head` (`fit_head=K | "all" | (K1, K2, ...)`): only the k × d_model trimmed head (+ bias) is trained,
  from the label rows (`fit.fit_head`, L-BFGS on standardised features, λ and early stopping on a validation
  split); with several sizes the variant is the LAST size, and `learning_curve` holds every size.
- `linear_probe`: the same fit from a random init, shrunk toward zero — the baseline the fitted head is
  compared with at every size.
- `full_vocab`: argmax over the whole vocabulary at the last position — how often it is a label token at
  all (`label_token_rate`) and its accuracy; predictions outside the labels count as "other".

Data for fitting. The usable train examples (labels in `labels`; a train label outside `labels` is an
error, as is a train text that is also evaluated) minus the k-shot demonstrations are split per class,
seeded by `seed`: `val_fraction` (default 10%, at least 1 when a class has ≥ 2) is the validation split,
the rest the fit pool. Each class's fit pool is shuffled once and size K takes its first K examples, so
the learning curve's training sets are nested and every size is scored on the same validation and test
examples. `"all"` = the whole fit pool.

k-shot prompts (`shots=K`): K examples drawn (seeded) from the train split, each rendered with the
template and followed by its label word, joined with blank lines, then the query prompt.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from evals.classification_metrics import classification_report
from evals.datasets import Example, LabeledData, overlap
from evals.stats import wilson
from evals.trimmed.features import FeatureCache, cached_features, full_argmax, label_rows, unembed
from evals.trimmed.fit import MAX_ITER, WEIGHT_DECAYS, fit_head
from evals.trimmed.prompts import (
    CONTENT_FREE,
    DEFAULT_TEMPLATE,
    cap_text,
    encode,
    label_token_ids,
    render,
    shots_prefix,
)
from interp.errors import UserError
from interp.results import FrozenResult

VARIANTS = ("trimmed", "calibrated", "fitted_head", "linear_probe", "full_vocab")
FitSize = int | str  # K examples per class, or "all"


def parse_fit_head(spec: int | str | Sequence[FitSize] | None) -> tuple[FitSize, ...]:
    """`--fit-head` → sizes: 0/None/"" → () (off); 16 → (16,); "all"; "16,64,all" → (16, 64, "all") (sorted)."""
    if spec is None or spec == "" or spec == 0:
        return ()
    items: list[Any] = list(spec) if isinstance(spec, (list, tuple)) else (
        [spec] if isinstance(spec, int) else [s.strip() for s in str(spec).split(",")])
    out: list[FitSize] = []
    for it in items:
        s = str(it).strip().lower()
        if s == "all":
            out.append("all")
        elif s.isdigit() and int(s) >= 1:
            out.append(int(s))
        elif s == "0" and len(items) == 1:
            return ()
        else:
            raise UserError(f"--fit-head {spec!r}: use all, K or K1,K2,... (K >= 1 examples per class)")
    if len(set(out)) != len(out):
        raise UserError(f"--fit-head {spec!r} repeats a size; list each once")
    return tuple(sorted((s for s in out if s != "all"), key=int)) + (("all",) if "all" in out else ())


@dataclass(frozen=True)
class TrimmedConfig:
    labels: tuple[str, ...]
    template: str = DEFAULT_TEMPLATE
    shots: int = 0  # k-shot examples from the train split
    calibrate: bool = False  # contextual calibration
    fit_head: int | str | tuple[FitSize, ...] = 0  # K per class, "all", or sizes for a learning curve (0 = off)
    fit_steps: int = MAX_ITER  # L-BFGS iterations at most, per weight decay
    fit_weight_decay: float | None = None  # None: choose from fit.WEIGHT_DECAYS on the validation split
    val_fraction: float = 0.1  # of each class's train examples, for early stopping and choosing λ
    batch_size: int = 8
    max_tokens: int | None = None  # context budget per prompt (default: the model's n_ctx)
    max_text_tokens: int | None = None  # cap each text to its first N tokens before templating
    seed: int = 0
    content_free: tuple[str, ...] = CONTENT_FREE

    def __post_init__(self) -> None:
        if "{text}" not in self.template:
            raise UserError(f"template {self.template!r} has no {{text}} placeholder; "
                            'use e.g. --template "Review: {text}\\nSentiment:"')
        unknown = sorted(set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", self.template)) - {"text"})
        if unknown:
            raise UserError(f"template {self.template!r} has unknown field(s) {', '.join('{' + u + '}' for u in unknown)}; "
                            "the only field is {text}")
        labels = [lab.strip() for lab in self.labels]
        if len(labels) < 2 or any(not lab for lab in labels):
            raise UserError(f"need at least two non-empty labels, got {list(self.labels)}; pass --labels a,b,...")
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dup:
            raise UserError(f"labels repeated: {', '.join(dup)}; list each label once")
        if self.shots < 0:
            raise UserError(f"shots={self.shots} must be >= 0")
        if isinstance(self.fit_head, int) and self.fit_head < 0:
            raise UserError(f"fit_head={self.fit_head} must be >= 0")
        object.__setattr__(self, "fit_head", parse_fit_head(self.fit_head))
        if self.fit_steps < 1:
            raise UserError(f"fit_steps={self.fit_steps} must be >= 1")
        wd = self.fit_weight_decay
        if wd is not None and not (wd >= 0 and wd != float("inf")):
            raise UserError(f"fit_weight_decay={wd} must be a finite number >= 0")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UserError(f"val_fraction={self.val_fraction} must be in [0, 1)")
        if self.batch_size < 1:
            raise UserError(f"batch_size={self.batch_size} must be >= 1")
        if self.max_tokens is not None and self.max_tokens < 2:
            raise UserError(f"max_tokens={self.max_tokens} must be >= 2")
        if self.max_text_tokens is not None and self.max_text_tokens < 1:
            raise UserError(f"max_text_tokens={self.max_text_tokens} must be >= 1")

    @property
    def fit_sizes(self) -> tuple[FitSize, ...]:
        return self.fit_head  # type: ignore[return-value]

    @property
    def needs_train(self) -> bool:
        return self.shots > 0 or bool(self.fit_sizes)


@dataclass(frozen=True)
class TrimmedEvalResult(FrozenResult):
    kind: str = "trimmed_eval"
    model: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)  # name, source, split, n, n_excluded, label_counts
    labels: tuple[str, ...] = ()
    label_tokens: tuple[dict[str, Any], ...] = ()  # label, token_id, token, n_tokens
    template: str = ""
    shots: tuple[dict[str, str], ...] = ()  # the k-shot demonstrations (text, label)
    config: dict[str, Any] = field(default_factory=dict)
    n_truncated: int = 0  # prompts cut from the left to fit the context
    n_text_truncated: int = 0  # texts cut to max_text_tokens
    gold: tuple[int, ...] = ()  # gold label index per example
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> report + predictions
    calibration: dict[str, Any] | None = None  # content_free, p_cf
    fit: dict[str, Any] | None = None  # fitted-head summary at the last size (+ the probe's)
    learning_curve: dict[str, Any] | None = None  # sizes, points (head + probe per size), baselines
    full_vocab: dict[str, Any] = field(default_factory=dict)  # label_token_rate, most frequent other tokens


def calibrate(logits: torch.Tensor, p_cf: torch.Tensor) -> torch.Tensor:
    """Contextual calibration: log(p / p_cf) for label logits (N, k) and a prior p_cf (k,).

    Its softmax is q ∝ p / p_cf, i.e. W = diag(p_cf)^-1, b = 0 applied to the probabilities p.
    """
    return logits.log_softmax(-1) - p_cf.clamp_min(1e-30).log()


def _report(gold: list[int], pred: list[int], labels: Sequence[str], n_pred: int | None = None) -> dict[str, Any]:
    rep = classification_report(gold, pred, labels, n_pred_classes=n_pred)
    rep["predictions"] = pred
    return rep


def _acc_ci(gold: Sequence[int], pred: Sequence[int]) -> dict[str, Any]:
    n, k = len(gold), sum(int(g == p) for g, p in zip(gold, pred, strict=True))
    lo, hi = wilson(k, n)
    return {"accuracy": k / n if n else 0.0, "correct": k, "n": n, "ci95": [lo, hi]}


def split_for_fit(pool: Sequence[Example], labels: Sequence[str], val_fraction: float, seed: int
                  ) -> tuple[dict[str, list[Example]], list[Example]]:
    """(per class: the shuffled fit pool, the validation examples) — see the module docstring."""
    rng = random.Random(seed)
    fit_pool: dict[str, list[Example]] = {}
    val: list[Example] = []
    for lab in labels:
        exs = [ex for ex in pool if ex.label == lab]
        rng.shuffle(exs)
        n_val = 0 if len(exs) < 2 or val_fraction == 0 else max(1, int(val_fraction * len(exs)))
        val += exs[:n_val]
        fit_pool[lab] = exs[n_val:]
    return fit_pool, val


def check_fit_sizes(sizes: Sequence[FitSize], fit_pool: dict[str, list[Example]], n_val: dict[str, int]) -> None:
    """UserError when a size K exceeds a class's fit pool (naming the class and its count); "all" is fine."""
    for lab, exs in fit_pool.items():
        if not exs and sizes:
            raise UserError(f"the train split has no examples of label {lab!r} left to fit the head on; "
                            "use a train file that covers every label")
        for s in sizes:
            if s != "all" and int(s) > len(exs):
                raise UserError(f"--fit-head {s} is more than the {len(exs)} train examples of class {lab!r} "
                                f"(after holding out {n_val.get(lab, 0)} for validation); use --fit-head all or "
                                f"K <= {min(len(e) for e in fit_pool.values())}")


def evaluate_trimmed(bridge, data: LabeledData, config: TrimmedConfig, train: LabeledData | None = None,
                     model_name: str = "", progress: bool = False, cache: FeatureCache | None = None
                     ) -> TrimmedEvalResult:
    """Trimmed / calibrated / fitted-head / linear-probe / full-vocabulary classification of `data`."""
    labels = [lab.strip() for lab in config.labels]
    present = {ex.label for ex in data.examples}
    if not data.examples:
        raise UserError(f"dataset {data.name} ({data.split}) has no examples")
    missing = [lab for lab in labels if lab not in present]
    if missing:
        raise UserError(f"label(s) {', '.join(map(repr, missing))} do not occur in {data.name} ({data.split}); "
                        f"its labels are {', '.join(sorted(present))} (map raw labels with --label-map)")
    examples = [ex for ex in data.examples if ex.label in labels]
    n_excluded = len(data.examples) - len(examples)
    if config.needs_train and (train is None or not train.examples):
        raise UserError("--shots/--fit-head need a non-empty train split; pass --train-file or a dataset with one")

    pool: list[Example] = []
    if train is not None and config.needs_train:
        check_train(train, examples, labels)
        pool = list(train.examples)

    tok = bridge.tokenizer
    lab_tokens = label_token_ids(tok, labels, config.template)
    token_ids = [t["token_id"] for t in lab_tokens]
    n_ctx = int(bridge.cfg.n_ctx)
    max_tokens = min(config.max_tokens or n_ctx, n_ctx)
    shots, fit_pool, val = plan_train(pool, labels, config)
    prefix = shots_prefix(shots, config.template)
    n_text_trunc = 0

    def feats(exs: Sequence[str], desc: str) -> tuple[torch.Tensor, int]:
        nonlocal n_text_trunc
        texts = []
        for x in exs:
            t, cut = cap_text(tok, x, config.max_text_tokens)
            n_text_trunc += cut
            texts.append(prefix + render(config.template, t))
        ids, n_tr = encode(tok, texts, max_tokens)
        return cached_features(bridge, ids, config.batch_size, progress, desc, cache), n_tr

    H, n_trunc = feats([ex.text for ex in examples], "eval features")  # (N, d_model)
    n_text_eval = n_text_trunc
    gold = [labels.index(ex.label) for ex in examples]
    k = len(labels)

    logits = unembed(bridge, H, token_ids)  # (N, k)
    variants: dict[str, dict[str, Any]] = {"trimmed": _report(gold, logits.argmax(-1).tolist(), labels)}

    calibration, cal_pred = None, None
    if config.calibrate or config.fit_sizes:  # the calibrated baseline sits beside the learning curve
        cf_ids, _ = encode(tok, [prefix + render(config.template, x) for x in config.content_free], max_tokens)
        p_cf = unembed(bridge, cached_features(bridge, cf_ids, config.batch_size, False, "content-free", cache),
                       token_ids).softmax(-1).mean(0)
        cal_pred = calibrate(logits, p_cf).argmax(-1).tolist()
        calibrated = _report(gold, cal_pred, labels)
        if config.calibrate:
            variants["calibrated"] = calibrated
        calibration = {"content_free": list(config.content_free),
                       "p_cf": {lab: float(p) for lab, p in zip(labels, p_cf.tolist(), strict=True)},
                       "accuracy": calibrated["accuracy"]}

    fit, curve = None, None
    if config.fit_sizes:
        fit, curve, head_rep, probe_rep = _fit_curve(bridge, config, labels, token_ids, fit_pool, val, H, gold,
                                                    variants["trimmed"], cal_pred, feats)
        variants["fitted_head"], variants["linear_probe"] = head_rep, probe_rep

    full = full_argmax(bridge, H)  # (N,) token ids
    tok_to_label = {t: i for i, t in enumerate(token_ids)}
    full_pred = [tok_to_label.get(int(t), k) for t in full]  # k = "other"
    variants["full_vocab"] = _report(gold, full_pred, labels, n_pred=k + 1)
    others = Counter(int(t) for t in full if int(t) not in tok_to_label)
    full_info = {
        "label_token_rate": sum(p < k for p in full_pred) / len(full_pred),
        "accuracy": variants["full_vocab"]["accuracy"],
        "top_other_tokens": [{"token_id": t, "token": tok.decode([t]), "count": c}
                             for t, c in sorted(others.items(), key=lambda tc: (-tc[1], tc[0]))[:5]],
    }
    counts = Counter(gold)
    dataset = {"name": data.name, "source": data.source, "split": data.split, "n": len(examples),
               "n_excluded": n_excluded, "label_counts": {lab: counts.get(i, 0) for i, lab in enumerate(labels)},
               "majority_rate": max(counts.values()) / len(gold), "chance": 1.0 / k,
               "n_train": len(train.examples) if train is not None and config.needs_train else 0,
               "n_train_deduped": train.n_deduped if train is not None and config.needs_train else 0}
    cfg = {"shots": config.shots, "calibrate": config.calibrate, "fit_head": list(config.fit_sizes),
           "fit_steps": config.fit_steps, "fit_weight_decay": config.fit_weight_decay,
           "weight_decay_grid": list(WEIGHT_DECAYS) if config.fit_weight_decay is None else [config.fit_weight_decay],
           "val_fraction": config.val_fraction, "batch_size": config.batch_size, "max_tokens": max_tokens,
           "max_text_tokens": config.max_text_tokens, "seed": config.seed,
           "d_vocab": int(bridge.cfg.d_vocab), "d_model": int(bridge.cfg.d_model)}
    return TrimmedEvalResult(
        model=model_name, dataset=dataset, labels=tuple(labels), label_tokens=tuple(lab_tokens),
        template=config.template, shots=tuple({"text": s.text, "label": s.label} for s in shots), config=cfg,
        n_truncated=n_trunc, n_text_truncated=n_text_eval, gold=tuple(gold), variants=variants,
        calibration=calibration, fit=fit, learning_curve=curve, full_vocab=full_info,
    )


def plan_train(pool: Sequence[Example], labels: Sequence[str], config: TrimmedConfig
               ) -> tuple[list[Example], dict[str, list[Example]], list[Example]]:
    """(k-shot demonstrations, per-class fit pool, validation examples) from the train examples, seeded.

    Raises UserError when --shots exceeds the pool or a --fit-head size exceeds a class's fit pool.
    """
    rng = random.Random(config.seed)
    pool = list(pool)
    shots: list[Example] = []
    if config.shots:
        if config.shots > len(pool):
            raise UserError(f"--shots {config.shots} exceeds the {len(pool)} usable train examples")
        shot_idx = sorted(rng.sample(range(len(pool)), config.shots))
        shots = [pool[i] for i in shot_idx]
        taken = set(shot_idx)
        pool = [ex for i, ex in enumerate(pool) if i not in taken]  # fit examples exclude the shots
    fit_pool, val = split_for_fit(pool, labels, config.val_fraction, config.seed) if config.fit_sizes else ({}, [])
    check_fit_sizes(config.fit_sizes, fit_pool, Counter(ex.label for ex in val))
    return shots, fit_pool, val


def check_train(train: LabeledData, evaluated: Sequence[Example], labels: Sequence[str]) -> None:
    """Train labels must be in `labels`; no train text may also be evaluated (normalised text)."""
    extra = sorted({ex.label for ex in train.examples} - set(labels))
    if extra:
        raise UserError(f"the train split ({train.name}) has label(s) {', '.join(map(repr, extra))} that are not in "
                        f"--labels ({', '.join(labels)}); add them to --labels or drop those train rows")
    n = overlap(train.examples, evaluated)
    if n:
        raise UserError(f"{n} of {len(train.examples)} train rows ({train.name}) have the same normalised text as "
                        "evaluated rows; remove them from the train file so nothing evaluated is fitted on")


def _fit_curve(bridge, config: TrimmedConfig, labels: list[str], token_ids: list[int],
               fit_pool: dict[str, list[Example]], val: list[Example], H: torch.Tensor, gold: list[int],
               zero_shot: dict[str, Any], cal_pred: list[int] | None, feats):
    """Fit the trimmed head and the probe at every size; (fit summary, learning curve, head & probe reports)."""
    sizes = config.fit_sizes
    need = max((len(v) for v in fit_pool.values()), default=0) if "all" in sizes else max(int(s) for s in sizes)
    ordered = [ex for lab in labels for ex in fit_pool[lab][:need]]
    H_all, _ = feats([ex.text for ex in ordered + val], "train features")
    H_fit, H_val = H_all[: len(ordered)], H_all[len(ordered):]
    y_val = torch.tensor([labels.index(ex.label) for ex in val], dtype=torch.long)
    W0, b0 = label_rows(bridge, token_ids)
    grid = WEIGHT_DECAYS if config.fit_weight_decay is None else (config.fit_weight_decay,)
    starts, pos = {}, 0
    for lab in labels:
        starts[lab] = pos
        pos += min(len(fit_pool[lab]), need)
    points, head_rep, probe_rep, fit = [], {}, {}, {}
    for size in sizes:
        idx = [starts[lab] + j for lab in labels
               for j in range(len(fit_pool[lab]) if size == "all" else int(size))]
        Hs = H_fit[torch.tensor(idx)]
        ys = torch.tensor([labels.index(ordered[i].label) for i in idx], dtype=torch.long)
        point: dict[str, Any] = {"k_per_class": size, "n_train": len(idx),
                                 "per_class": {lab: sum(ordered[i].label == lab for i in idx) for lab in labels}}
        for name, init in (("head", "labels"), ("probe", "random")):
            W, b, info = fit_head(Hs, ys, W0, b0, H_val, y_val, init=init, weight_decays=grid,
                                  max_iter=config.fit_steps, seed=config.seed)
            pred = (H @ W.T + b).argmax(-1).tolist()
            point[name] = {**_acc_ci(gold, pred), "train_accuracy": info["train_accuracy"],
                           "val_accuracy": info["val_accuracy"], "weight_decay": info["weight_decay"],
                           "iterations": info["iterations"], "stopped": info["stopped"]}
            if size == sizes[-1]:
                rep = _report(gold, pred, labels)
                if name == "head":
                    head_rep, fit = rep, {**info, "test_accuracy": rep["accuracy"]}
                else:
                    probe_rep, fit["probe"] = rep, {**info, "test_accuracy": rep["accuracy"]}
        point["head_minus_probe"] = point["head"]["accuracy"] - point["probe"]["accuracy"]
        points.append(point)
    last = points[-1]
    fit.update({"k_per_class": last["k_per_class"], "n_train": last["n_train"], "per_class": last["per_class"],
                "n_val": len(val), "val_per_class": {lab: sum(ex.label == lab for ex in val) for lab in labels},
                "weight_decay_grid": list(grid), "max_iter": config.fit_steps})
    baselines = {"trimmed": _acc_ci(gold, zero_shot["predictions"])}
    if cal_pred is not None:
        baselines["calibrated"] = _acc_ci(gold, cal_pred)
    counts = Counter(gold)
    curve = {"sizes": list(sizes), "points": points, "baselines": baselines, "n_test": len(gold),
             "n_val": len(val), "majority_rate": max(counts.values()) / len(gold), "chance": 1.0 / len(labels),
             "head_at_least_probe": [p["head"]["accuracy"] >= p["probe"]["accuracy"] for p in points]}
    return fit, curve, head_rep, probe_rep
