"""Attention-head selections: parse `--heads` once, validate against the model, reuse everywhere.

Syntax (TransformerLens numbering, both 0-based): a comma list of `LAYER.HEAD` terms, where either
side may be `*` for "all":

    0.1,1.3     head 1 of layer 0 and head 3 of layer 1
    1.*         every head of layer 1
    *.0         head 0 of every layer
    *.*         every head of the model

`HeadSpec.parse(text)` checks the syntax only (no model needed, so the CLI fails fast);
`spec.resolve(n_layers, n_heads)` expands wildcards against a model's shape and rejects heads out of
range and heads listed twice (also through overlapping wildcards, `1.*,1.2`). Both raise a one-line
`UserError`; resolve's names the valid range, e.g. "valid heads are 0.0–3.3 (layers 0–3, heads 0–3)".
The result is a tuple of `(layer, head)` pairs in the order given, wildcards expanded layer-major.
For GQA models (Gemma) heads are query heads: `n_heads` of `blocks.L.attn.hook_z` (B, T, n_heads, d_head).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from interp.errors import UserError

Head = tuple[int, int]  # (layer, head)

SYNTAX = "use LAYER.HEAD terms separated by commas, e.g. 0.1,1.3; * means all: 1.* or *.0"
_TERM = re.compile(r"^(\*|\d+)\.(\*|\d+)$")


@dataclass(frozen=True)
class HeadSpec:
    """A parsed `--heads` value: terms (layer, head), `None` standing for `*`."""

    terms: tuple[tuple[int | None, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> HeadSpec:
        parts = [p.strip() for p in str(text).split(",")]
        if not any(parts):
            raise UserError(f"no heads given in {text!r}; {SYNTAX}")
        terms = []
        for p in parts:
            m = _TERM.match(p)
            if not m:
                raise UserError(f"bad head {p!r} in {text!r}; {SYNTAX}")
            terms.append(tuple(None if g == "*" else int(g) for g in m.groups()))
        return cls(tuple(terms))  # type: ignore[arg-type]

    @classmethod
    def all(cls) -> HeadSpec:
        return cls(((None, None),))

    def __str__(self) -> str:
        return ",".join(f"{'*' if lyr is None else lyr}.{'*' if h is None else h}" for lyr, h in self.terms)

    def resolve(self, n_layers: int, n_heads: int) -> tuple[Head, ...]:
        """Expand against a model with `n_layers` × `n_heads`; reject out-of-range and duplicate heads."""
        valid = f"valid heads are 0.0–{n_layers - 1}.{n_heads - 1} (layers 0–{n_layers - 1}, heads 0–{n_heads - 1})"
        out: list[Head] = []
        seen: set[Head] = set()
        for lyr, h in self.terms:
            if lyr is not None and lyr >= n_layers or h is not None and h >= n_heads:
                term = f"{'*' if lyr is None else lyr}.{'*' if h is None else h}"
                raise UserError(f"head {term} does not exist in this model; {valid}")
            for layer in range(n_layers) if lyr is None else (lyr,):
                for head in range(n_heads) if h is None else (h,):
                    if (layer, head) in seen:
                        raise UserError(f"head {layer}.{head} is listed twice in {str(self)!r}; {valid}")
                    seen.add((layer, head))
                    out.append((layer, head))
        return tuple(out)

    def resolve_for(self, bridge) -> tuple[Head, ...]:
        """`resolve` against a `TransformerBridge` (its cfg.n_layers, cfg.n_heads)."""
        return self.resolve(int(bridge.cfg.n_layers), int(bridge.cfg.n_heads))


def format_heads(heads: tuple[Head, ...] | list[Head]) -> str:
    """(layer, head) pairs → "0.1,1.3" (parses back to the same heads)."""
    return ",".join(f"{layer}.{head}" for layer, head in heads)
