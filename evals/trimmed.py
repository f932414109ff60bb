"""Trimmed-head ("decoder trimming") zero/few-shot classification with a decoder-only LM.

A prompt template turns each text into a prompt that the label word should follow:

    template  "Review: {text}\nSentiment:"         labels  negative, positive
    prompt    "Review: one long string of cliches .\nSentiment:"   →  next token " negative" ?

Instead of decoding over the whole vocabulary, the unembedding is *trimmed* to the k label tokens:

    h      = ln_final.hook_out at the LAST real position          # (N, d_model)
    W_k    = W_U[:, label_token_ids]                              # (d_model, k)  k rows of the unembedding
    logits = h @ W_k + b_U[label_token_ids]                       # (N, k)
    pred   = argmax(logits)

The forward pass stops at `ln_final.hook_out` (a hook grabs the last position and aborts the pass), so
the full-vocabulary logits (T × d_vocab per example — 262k columns for Gemma-3) are never computed.
A label's token is the first token of " " + label (the label follows the template after a space, or
without one when the template ends in whitespace); two labels sharing a first token are an error.

Batches are right-padded (positions of the real tokens are unchanged) and the hidden state is gathered
at each row's last real position; causal attention means the padding cannot influence it.
Prompts longer than the context (`max_tokens`, default n_ctx) are truncated from the left, keeping
the BOS token and the end (the template's tail that the label must follow).

Variants, reported side by side in one result:
- `trimmed`: argmax over the k label logits.
- `calibrated` (`calibrate=True`): contextual calibration (Zhao et al. 2021, "Calibrate Before Use").
  The content-free inputs "N/A", "" and "[MASK]" go through the same template and shots; their mean
  label probabilities estimate the prior p_cf, and  q ∝ softmax(logits) / p_cf  (W = diag(p_cf)^-1, b = 0).
- `fitted_head` (`fit_head=K`): only the trimmed head (weights k × d_model, bias k) is trained, on K
  labeled examples per class from the train split: initialised from the label rows of W_U / b_U, full
  batch Adam on the *change* from that init with an L2 penalty on it (weight decay toward the init, not
  toward zero; default 1 in loss units: best on average in 8-per-class cross-validation on the SST-2 and
  AG News *train* samples with Gemma-3-270M, where SST-2 preferred 30-100 and AG News 0.1-1);
  features are the final-LN hidden states at the last position; evaluated on the eval split.
- `full_vocab`: argmax over the whole vocabulary at the last position — how often it is a label token
  at all (`label_token_rate`) and its accuracy; predictions outside the labels count as "other".

k-shot prompts (`shots=K`): K examples drawn (seeded) from the train split, each rendered with the
template and followed by its label word, joined with blank lines, then the query prompt.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from evals.classification_metrics import classification_report
from evals.datasets import Example, LabeledData
from interp.errors import UserError
from interp.results import FrozenResult

DEFAULT_TEMPLATE = "Review: {text}\nSentiment:"
CONTENT_FREE = ("N/A", "", "[MASK]")
SHOT_SEPARATOR = "\n\n"
LN_FINAL = "ln_final.hook_out"
VARIANTS = ("trimmed", "calibrated", "fitted_head", "full_vocab")


@dataclass(frozen=True)
class TrimmedConfig:
    labels: tuple[str, ...]
    template: str = DEFAULT_TEMPLATE
    shots: int = 0  # k-shot examples from the train split
    calibrate: bool = False  # contextual calibration
    fit_head: int = 0  # K examples per class to fit the trimmed head on (0 = off)
    fit_steps: int = 300
    fit_lr: float = 1e-2
    fit_weight_decay: float = 1.0  # L2 penalty on the change from the W_U init
    batch_size: int = 8
    max_tokens: int | None = None  # context budget per prompt (default: the model's n_ctx)
    seed: int = 0
    content_free: tuple[str, ...] = CONTENT_FREE

    def __post_init__(self) -> None:
        if "{text}" not in self.template:
            raise UserError(f"template {self.template!r} has no {{text}} placeholder; "
                            'use e.g. --template "Review: {text}\\nSentiment:"')
        labels = [lab.strip() for lab in self.labels]
        if len(labels) < 2 or any(not lab for lab in labels):
            raise UserError(f"need at least two non-empty labels, got {list(self.labels)}; pass --labels a,b,...")
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dup:
            raise UserError(f"labels repeated: {', '.join(dup)}; list each label once")
        for name in ("shots", "fit_head"):
            if getattr(self, name) < 0:
                raise UserError(f"{name}={getattr(self, name)} must be >= 0")
        if self.fit_steps < 1 or self.fit_lr <= 0 or self.fit_weight_decay < 0:
            raise UserError("fit_steps must be >= 1, fit_lr > 0 and fit_weight_decay >= 0")
        if self.batch_size < 1:
            raise UserError(f"batch_size={self.batch_size} must be >= 1")
        if self.max_tokens is not None and self.max_tokens < 2:
            raise UserError(f"max_tokens={self.max_tokens} must be >= 2")

    @property
    def needs_train(self) -> bool:
        return self.shots > 0 or self.fit_head > 0


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
    gold: tuple[int, ...] = ()  # gold label index per example
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> report + predictions
    calibration: dict[str, Any] | None = None  # content_free, p_cf
    fit: dict[str, Any] | None = None  # fitted-head training summary
    full_vocab: dict[str, Any] = field(default_factory=dict)  # label_token_rate, most frequent other tokens


# ----------------------------------------------------------------------------- prompts and tokens
def label_separator(template: str) -> str:
    """What goes between the rendered template and the label word."""
    return "" if template[-1:].isspace() else " "


def render(template: str, text: str) -> str:
    return template.replace("{text}", text)


def label_token_ids(tokenizer, labels: Sequence[str], template: str) -> list[dict[str, Any]]:
    """First token of each label word as it follows the template; shared first tokens are an error."""
    sep = label_separator(template)
    out = []
    for lab in labels:
        ids = tokenizer(sep + lab, add_special_tokens=False)["input_ids"]
        if not ids:
            raise UserError(f"label {lab!r} tokenizes to nothing; choose another label word")
        out.append({"label": lab, "token_id": int(ids[0]), "token": tokenizer.decode([ids[0]]),
                    "n_tokens": len(ids)})
    by_token: dict[int, list[str]] = {}
    for t in out:
        by_token.setdefault(t["token_id"], []).append(t["label"])
    clash = [names for names in by_token.values() if len(names) > 1]
    if clash:
        desc = "; ".join(" and ".join(repr(n) for n in names) + f" (first token {out[labels.index(names[0])]['token']!r})"
                         for names in clash)
        raise UserError(f"labels share a first token, so the trimmed head cannot tell them apart: {desc}; "
                        "use label words (--labels / --label-map) that start differently")
    return out


def shots_prefix(shots: Sequence[Example], template: str) -> str:
    sep = label_separator(template)
    return "".join(render(template, ex.text) + sep + ex.label + SHOT_SEPARATOR for ex in shots)


def encode(tokenizer, prompts: Sequence[str], max_tokens: int) -> tuple[list[list[int]], int]:
    """Token ids per prompt, left-truncated to `max_tokens` (keeping a leading BOS); n truncated."""
    bos = tokenizer.bos_token_id
    out, n_trunc = [], 0
    for p in prompts:
        ids = list(tokenizer(p)["input_ids"])
        if not ids:
            raise UserError("a prompt tokenized to nothing; check the template")
        if len(ids) > max_tokens:
            n_trunc += 1
            keep_bos = bos is not None and ids[0] == bos
            ids = ([bos] if keep_bos else []) + ids[len(ids) - (max_tokens - int(keep_bos)):]
        out.append(ids)
    return out, n_trunc


# ----------------------------------------------------------------------------- the forward pass
class _StopForward(Exception):
    """Raised by the ln_final hook: nothing after the final norm (the unembedding) is computed."""


@torch.no_grad()
def last_hidden(bridge, id_lists: Sequence[Sequence[int]], batch_size: int = 8, progress: bool = False,
                desc: str = "forward") -> torch.Tensor:
    """Final-LN hidden state at each prompt's last token: (N, d_model), float32, input order.

    Prompts are sorted by length (less padding), right-padded, run up to ln_final only, and the last
    real position of each row is gathered inside the hook.
    """
    from tqdm import tqdm

    n = len(id_lists)
    if n == 0:
        return torch.zeros(0, bridge.cfg.d_model)
    pad = bridge.tokenizer.pad_token_id if bridge.tokenizer.pad_token_id is not None else 0
    device = bridge.W_U.device
    order = sorted(range(n), key=lambda i: (-len(id_lists[i]), i))
    out = torch.zeros(n, bridge.cfg.d_model)
    grabbed: dict[str, torch.Tensor] = {}
    for start in tqdm(range(0, n, batch_size), desc=desc, disable=not progress, leave=False, unit="batch"):
        rows = order[start:start + batch_size]
        lengths = torch.tensor([len(id_lists[i]) for i in rows])
        T = int(lengths.max())
        ids = torch.full((len(rows), T), pad, dtype=torch.long)
        mask = torch.zeros(len(rows), T, dtype=torch.long)
        for r, i in enumerate(rows):
            ids[r, : len(id_lists[i])] = torch.tensor(id_lists[i])
            mask[r, : len(id_lists[i])] = 1
        last = (lengths - 1).to(device)

        def grab(x: torch.Tensor, hook, last=last) -> None:  # x: (B, T, d_model)
            grabbed["h"] = x[torch.arange(x.shape[0], device=x.device), last].detach().float()
            raise _StopForward

        try:
            bridge.run_with_hooks(ids.to(device), fwd_hooks=[(LN_FINAL, grab)], attention_mask=mask.to(device))
        except _StopForward:
            pass
        if "h" not in grabbed:
            raise RuntimeError(f"hook {LN_FINAL} did not fire; the bridge has no final-LN hook point")
        out[torch.tensor(rows)] = grabbed.pop("h").cpu()
    return out


def _softcap(bridge) -> float | None:
    cap = getattr(getattr(bridge.original_model, "config", None), "final_logit_softcapping", None)
    return float(cap) if cap else None


def unembed(bridge, h: torch.Tensor, token_ids: Sequence[int] | None = None) -> torch.Tensor:
    """Logits from final-LN hidden states (N, d_model): trimmed to `token_ids` (N, k), or full (N, d_vocab)."""
    W_U, b_U = bridge.W_U.detach().float().cpu(), bridge.b_U.detach().float().cpu()  # (d_model, V), (V,)
    if token_ids is not None:
        idx = torch.tensor(list(token_ids))
        logits = h @ W_U[:, idx] + b_U[idx]
    else:
        logits = h @ W_U + b_U
    cap = _softcap(bridge)
    return cap * torch.tanh(logits / cap) if cap else logits


def _full_argmax(bridge, h: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Full-vocabulary argmax at the last position, in chunks of rows (bounded memory)."""
    return torch.cat([unembed(bridge, h[i:i + chunk]).argmax(-1) for i in range(0, h.shape[0], chunk)]) \
        if h.shape[0] else torch.zeros(0, dtype=torch.long)


# ----------------------------------------------------------------------------- calibration + fitted head
def calibrate(logits: torch.Tensor, p_cf: torch.Tensor) -> torch.Tensor:
    """Contextual calibration: log(p / p_cf) for label logits (N, k) and a prior p_cf (k,).

    Its softmax is q ∝ p / p_cf, i.e. W = diag(p_cf)^-1, b = 0 applied to the probabilities p.
    """
    return logits.log_softmax(-1) - p_cf.clamp_min(1e-30).log()

def fit_head(H: torch.Tensor, y: torch.Tensor, W0: torch.Tensor, b0: torch.Tensor, steps: int, lr: float,
             weight_decay: float, seed: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Fit the trimmed head W: (k, d_model), b: (k,) on features H: (n, d_model), labels y: (n,).

    Full-batch Adam on the change (dW, db) from the init (W0, b0), minimising
        mean cross-entropy(H @ (W0 + dW).T + b0 + db, y)  +  weight_decay * (|dW|^2 + |db|^2)
    i.e. weight decay toward the init (an L2 penalty in loss units, so its strength does not depend on
    Adam's step normalisation). Deterministic: no sampling, fixed init.
    """
    torch.manual_seed(seed)
    H, W0, b0 = H.detach().float(), W0.detach().float(), b0.detach().float()
    dW = torch.zeros_like(W0, requires_grad=True)
    db = torch.zeros_like(b0, requires_grad=True)
    opt = torch.optim.Adam([dW, db], lr=lr)
    ce = torch.nn.functional.cross_entropy

    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = ce(H @ (W0 + dW).T + (b0 + db), y) + weight_decay * (dW.pow(2).sum() + db.pow(2).sum())
            loss.backward()
            opt.step()
    W, b = (W0 + dW).detach(), (b0 + db).detach()
    with torch.no_grad():
        final = H @ W.T + b
        info = {
            "init_train_loss": float(ce(H @ W0.T + b0, y)),
            "final_train_loss": float(ce(final, y)),
            "train_accuracy": float((final.argmax(-1) == y).float().mean()),
            "relative_weight_change": float(dW.norm() / W0.norm().clamp_min(1e-12)),
        }
    return W, b, info


def _sample_per_class(pool: Sequence[Example], labels: Sequence[str], k: int, rng: random.Random) -> list[Example]:
    chosen = []
    for lab in labels:
        idx = [i for i, ex in enumerate(pool) if ex.label == lab]
        if not idx:
            raise UserError(f"the train split has no examples of label {lab!r} to fit the head on; "
                            "use a train file that covers every label")
        chosen += sorted(rng.sample(idx, min(k, len(idx))))
    return [pool[i] for i in chosen]


# ----------------------------------------------------------------------------- the evaluation
def _report(gold: list[int], pred: list[int], labels: Sequence[str], n_pred: int | None = None) -> dict[str, Any]:
    rep = classification_report(gold, pred, labels, n_pred_classes=n_pred)
    rep["predictions"] = pred
    return rep


def evaluate_trimmed(bridge, data: LabeledData, config: TrimmedConfig, train: LabeledData | None = None,
                     model_name: str = "", progress: bool = False) -> TrimmedEvalResult:
    """Trimmed / calibrated / fitted-head / full-vocabulary classification of `data` (see module doc)."""
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

    tok = bridge.tokenizer
    lab_tokens = label_token_ids(tok, labels, config.template)
    token_ids = [t["token_id"] for t in lab_tokens]
    n_ctx = int(bridge.cfg.n_ctx)
    max_tokens = min(config.max_tokens or n_ctx, n_ctx)
    rng = random.Random(config.seed)

    shots: list[Example] = []
    pool: list[Example] = []
    if train is not None and config.needs_train:
        pool = [ex for ex in train.examples if ex.label in labels]
        if config.shots:
            if config.shots > len(pool):
                raise UserError(f"--shots {config.shots} exceeds the {len(pool)} usable train examples")
            shot_idx = sorted(rng.sample(range(len(pool)), config.shots))
            shots = [pool[i] for i in shot_idx]
            taken = set(shot_idx)
            pool = [ex for i, ex in enumerate(pool) if i not in taken]  # fit examples exclude the shots
    prefix = shots_prefix(shots, config.template)

    def prompts(exs: Sequence[str]) -> list[str]:
        return [prefix + render(config.template, x) for x in exs]

    ids, n_trunc = encode(tok, prompts([ex.text for ex in examples]), max_tokens)
    H = last_hidden(bridge, ids, config.batch_size, progress, desc="eval")  # (N, d_model)
    gold = [labels.index(ex.label) for ex in examples]
    k = len(labels)

    logits = unembed(bridge, H, token_ids)  # (N, k)
    variants: dict[str, dict[str, Any]] = {"trimmed": _report(gold, logits.argmax(-1).tolist(), labels)}

    calibration = None
    if config.calibrate:
        cf_ids, _ = encode(tok, prompts(list(config.content_free)), max_tokens)
        p_cf = unembed(bridge, last_hidden(bridge, cf_ids, config.batch_size), token_ids).softmax(-1).mean(0)
        variants["calibrated"] = _report(gold, calibrate(logits, p_cf).argmax(-1).tolist(), labels)
        calibration = {"content_free": list(config.content_free),
                       "p_cf": {lab: float(p) for lab, p in zip(labels, p_cf.tolist(), strict=True)}}

    fit = None
    if config.fit_head:
        fit_set = _sample_per_class(pool, labels, config.fit_head, rng)
        fit_ids, _ = encode(tok, prompts([ex.text for ex in fit_set]), max_tokens)
        H_train = last_hidden(bridge, fit_ids, config.batch_size, progress, desc="fit features")
        y_train = torch.tensor([labels.index(ex.label) for ex in fit_set])
        idx = torch.tensor(token_ids)
        W0 = bridge.W_U.detach().float().cpu()[:, idx].T.contiguous()  # (k, d_model)
        b0 = bridge.b_U.detach().float().cpu()[idx]  # (k,)
        W, b, info = fit_head(H_train, y_train, W0, b0, config.fit_steps, config.fit_lr,
                              config.fit_weight_decay, config.seed)
        variants["fitted_head"] = _report(gold, (H @ W.T + b).argmax(-1).tolist(), labels)
        counts = Counter(ex.label for ex in fit_set)
        fit = {"k_per_class": config.fit_head, "n_train": len(fit_set),
               "per_class": {lab: counts.get(lab, 0) for lab in labels}, "steps": config.fit_steps,
               "lr": config.fit_lr, "weight_decay": config.fit_weight_decay, "optimizer": "Adam, full batch, L2 toward the W_U init",
               **info}

    full = _full_argmax(bridge, H)  # (N,) token ids
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

    dataset = {"name": data.name, "source": data.source, "split": data.split, "n": len(examples),
               "n_excluded": n_excluded, "label_counts": {lab: gold.count(i) for i, lab in enumerate(labels)}}
    cfg = {"shots": config.shots, "calibrate": config.calibrate, "fit_head": config.fit_head,
           "fit_steps": config.fit_steps, "fit_lr": config.fit_lr, "fit_weight_decay": config.fit_weight_decay,
           "batch_size": config.batch_size, "max_tokens": max_tokens, "seed": config.seed,
           "d_vocab": int(bridge.cfg.d_vocab), "d_model": int(bridge.cfg.d_model)}
    return TrimmedEvalResult(
        model=model_name, dataset=dataset, labels=tuple(labels), label_tokens=tuple(lab_tokens),
        template=config.template, shots=tuple({"text": s.text, "label": s.label} for s in shots), config=cfg,
        n_truncated=n_trunc, gold=tuple(gold), variants=variants, calibration=calibration, fit=fit,
        full_vocab=full_info,
    )


# ----------------------------------------------------------------------------- summary + figure
def summary_table(result: dict[str, Any]) -> str:
    """Variants side by side: accuracy and macro-F1 (from the result dict)."""
    lines = [f"{'variant':<12} {'accuracy':>8} {'macro-F1':>8}"]
    for name in VARIANTS:
        if name in result["variants"]:
            v = result["variants"][name]
            lines.append(f"{name:<12} {v['accuracy']:8.3f} {v['macro_f1']:8.3f}")
    fv = result["full_vocab"]
    lines.append(f"full-vocab argmax is a label token for {fv['label_token_rate']:.1%} of {result['dataset']['n']} "
                 "examples")
    return "\n".join(lines)


def plot_confusions(result: dict[str, Any]):
    """One confusion matrix per variant (rows: gold, columns: predicted; colour = row fraction)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(result["labels"])
    names = [n for n in VARIANTS if n in result["variants"]]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names) + 1, 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        v = result["variants"][name]
        cm = torch.tensor(v["confusion"], dtype=torch.float32)  # (k, k) or (k, k+1)
        frac = cm / cm.sum(1, keepdim=True).clamp_min(1)
        ax.imshow(frac.numpy(), vmin=0, vmax=1, cmap="Blues")
        cols = labels + (["other"] if cm.shape[1] > len(labels) else [])
        ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels), fontsize=7)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
        ax.set_title(f"{name}\nacc {v['accuracy']:.3f}  F1 {v['macro_f1']:.3f}", fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
    axes[0][0].set_ylabel("gold", fontsize=7)
    fig.suptitle(f"{result.get('model', '')} on {result['dataset']['name']} ({result['dataset']['split']})", fontsize=9)
    fig.tight_layout()
    return fig
