"""The HTML feature view's data (torch-free: used by the report section)."""

from __future__ import annotations

from typing import Any


def feature_view_data(d: dict[str, Any], max_latents: int = 200) -> dict[str, Any]:
    """The data the HTML feature view needs (a subset of the result dict; JSON-safe)."""
    keep = ("id", "frequency", "frequency_lo", "frequency_hi", "max_act", "hist", "contexts", "logits_up",
            "logits_down")
    return {"hook": d.get("hook"), "num_latents": d.get("num_latents"), "n_tokens": d.get("n_tokens"),
            "latents": [{k: x.get(k) for k in keep} for x in list(d.get("latents") or [])[:max_latents]]}


