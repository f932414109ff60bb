"""Last-position features: the forward up to `ln_final.hook_out`, once per prompt, cached on disk.

    h      = ln_final.hook_out at the LAST real position          # (N, d_model)
    W_k    = W_U[:, label_token_ids]                              # (d_model, k)  k columns of the unembedding
    logits = h @ W_k + b_U[label_token_ids]                       # (N, k)

The forward stops at `ln_final.hook_out` (a hook grabs the last position and aborts the pass), so the
full-vocabulary logits (T × d_vocab per example; 262k columns for Gemma-3) are never computed. Batches are
right-padded (positions of the real tokens are unchanged; causal attention keeps padding out) and sorted
by length.

Feature cache (`FeatureCache`): one folder per model under `$INTERP_CACHE/trimmed-features/<model key>/`,
holding safetensors chunks `h` (n, d_model) float32 whose metadata lists each row's key. The model key is a
sha256 of the architecture, the tokenizer and the weights (every parameter's shape, sum and a strided
sample of its values), so another model, or the same name retrained, never reuses a cache. A row's key is
sha256(model key, prompt token ids): the ids encode the template, the shots, the text (data hash) and any
truncation, so a prompt from another template is never reused either. Only missing rows run the model;
new rows are appended as one more chunk (atomic write), so refits, learning curves and reruns cost no forwards.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from interp.errors import UserError

LN_FINAL = "ln_final.hook_out"
CACHE_SUBDIR = "trimmed-features"


class _StopForward(Exception):
    """Raised by the ln_final hook: nothing after the final norm (the unembedding) is computed."""


@torch.no_grad()
def last_hidden(bridge, id_lists: Sequence[Sequence[int]], batch_size: int = 8, progress: bool = False,
                desc: str = "forward", bar: Any = None) -> torch.Tensor:
    """Final-LN hidden state at each prompt's last token: (N, d_model), float32, input order.

    Prompts are sorted by length (less padding), right-padded, run up to ln_final only, and the last real
    position of each row is gathered inside the hook. The progress bar counts examples (with an ETA);
    `bar`: an open tqdm bar to advance instead.
    """
    from interp.progress import progress_bar

    n = len(id_lists)
    if n == 0:
        return torch.zeros(0, bridge.cfg.d_model)
    pad = bridge.tokenizer.pad_token_id if bridge.tokenizer.pad_token_id is not None else 0
    device = bridge.W_U.device
    order = sorted(range(n), key=lambda i: (-len(id_lists[i]), i))
    out = torch.zeros(n, bridge.cfg.d_model)
    grabbed: dict[str, torch.Tensor] = {}
    own = bar is None
    if own:
        bar = progress_bar(total=n, desc=desc, disable=None if progress else True, leave=False, unit="ex")
    for start in range(0, n, batch_size):
        rows = order[start:start + batch_size]
        lengths = torch.tensor([len(id_lists[i]) for i in rows])
        T = int(lengths.max())
        ids = torch.full((len(rows), T), pad, dtype=torch.long)  # (B, T)
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
        bar.update(len(rows))
    if own:
        bar.close()
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


def label_rows(bridge, token_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The trimmed head as (W0: (k, d_model), b0: (k,)): the label tokens' rows of W_U.T and b_U."""
    idx = torch.tensor(list(token_ids))
    return bridge.W_U.detach().float().cpu()[:, idx].T.contiguous(), bridge.b_U.detach().float().cpu()[idx]


def full_argmax(bridge, h: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """Full-vocabulary argmax at the last position, in chunks of rows (bounded memory)."""
    if not h.shape[0]:
        return torch.zeros(0, dtype=torch.long)
    return torch.cat([unembed(bridge, h[i:i + chunk]).argmax(-1) for i in range(0, h.shape[0], chunk)])


# ----------------------------------------------------------------------------- the cache
@torch.no_grad()
def model_key(bridge) -> str:
    """sha256 of architecture, tokenizer and weights (shape, sum and a strided sample of every parameter)."""
    hsh = hashlib.sha256()
    cfg = bridge.cfg
    tok = bridge.tokenizer
    hsh.update(json.dumps([type(bridge.original_model).__name__, int(cfg.d_model), int(cfg.n_layers),
                           int(cfg.d_vocab), len(tok), tok.bos_token_id, tok.eos_token_id]).encode())
    for name, p in sorted(bridge.original_model.named_parameters(), key=lambda kv: kv[0]):
        flat = p.detach().reshape(-1)
        step = max(1, flat.numel() // 1024)
        hsh.update(f"{name}{tuple(p.shape)}{float(flat.sum()):.6e}".encode())
        hsh.update(flat[::step].float().cpu().numpy().tobytes())
    return hsh.hexdigest()


def prompt_key(model: str, ids: Sequence[int]) -> str:
    return hashlib.sha256(f"{model}:{','.join(map(str, ids))}".encode()).hexdigest()


class FeatureCache:
    """Last-position features of one model, by prompt key (see the module docstring)."""

    def __init__(self, root: str | Path, model: str, d_model: int, meta: dict[str, str] | None = None):
        self.dir = Path(root) / CACHE_SUBDIR / model[:32]
        self.model, self.d_model, self.meta = model, int(d_model), dict(meta or {})
        self._rows: dict[str, torch.Tensor] | None = None
        self.n_hits = self.n_computed = 0

    def _load(self) -> dict[str, torch.Tensor]:
        if self._rows is None:
            from safetensors import SafetensorError
            from safetensors.torch import safe_open

            rows: dict[str, torch.Tensor] = {}
            for f in sorted(self.dir.glob("*.safetensors")):
                try:
                    with safe_open(str(f), framework="pt") as sf:
                        meta = sf.metadata() or {}
                        keys = json.loads(meta.get("keys", "[]"))
                        h = sf.get_tensor("h")
                except (SafetensorError, OSError, ValueError) as e:
                    raise UserError(f"feature cache file {f} is unreadable ({type(e).__name__}); delete it") from None
                if meta.get("model") != self.model or h.shape != (len(keys), self.d_model):
                    raise UserError(f"feature cache file {f} does not belong to this model; delete it")
                rows.update(zip(keys, h, strict=True))
            self._rows = rows
        return self._rows

    def get(self, keys: Sequence[str]) -> dict[str, torch.Tensor]:
        rows = self._load()
        return {k: rows[k] for k in keys if k in rows}

    def put(self, keys: Sequence[str], h: torch.Tensor) -> None:
        """Append rows as one new chunk (atomic)."""
        if not keys:
            return
        from safetensors.torch import save

        from interp.results import atomic_write_bytes

        meta = {**self.meta, "model": self.model, "keys": json.dumps(list(keys))}
        name = hashlib.sha256("".join(keys).encode()).hexdigest()[:24]
        atomic_write_bytes(self.dir / f"{name}.safetensors", save({"h": h.contiguous().float()}, metadata=meta))
        self._load().update(zip(keys, h, strict=True))


def cached_features(bridge, id_lists: Sequence[Sequence[int]], batch_size: int = 8, progress: bool = False,
                    desc: str = "features", cache: FeatureCache | None = None, chunk: int = 256) -> torch.Tensor:
    """`last_hidden` for each prompt, reading/writing `cache` when given: (N, d_model).

    Missing prompts run in chunks of `chunk`, each written to the cache as soon as it is done, so an
    interrupted pass resumes where it stopped. One progress bar (with ETA) covers the whole pass.
    """
    if cache is None:
        return last_hidden(bridge, id_lists, batch_size, progress, desc)
    from interp.progress import progress_bar

    keys = [prompt_key(cache.model, ids) for ids in id_lists]
    have = cache.get(keys)
    missing = list(dict.fromkeys(k for k in keys if k not in have))
    if missing:
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        bar = progress_bar(total=len(missing), desc=desc, disable=None if progress else True, leave=False, unit="ex")
        for start in range(0, len(missing), chunk):
            part = missing[start:start + chunk]
            h_new = last_hidden(bridge, [id_lists[first[k]] for k in part], batch_size, bar=bar)
            cache.put(part, h_new)
            have.update(zip(part, h_new, strict=True))
        bar.close()
    cache.n_hits += len(keys) - len(missing)
    cache.n_computed += len(missing)
    if not keys:
        return torch.zeros(0, bridge.cfg.d_model)
    return torch.stack([have[k] for k in keys])
