"""Pairing a baseline's and a candidate's per-item results, and naming the items that changed.

Two results are paired when both carry per-item ids (`MetricValue.items`) and the ids are the same multiset
(the same items, in any order; a repeated id pairs by occurrence). Otherwise the comparison is unpaired and
`pairing_note` says why (no per-item results on one side, or the item sets differ).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from interp.kit.regress import MetricValue

MAX_LISTED = 10  # items listed per kind of change


def _keyed(items: tuple[str, ...]) -> list[tuple[str, int]]:
    seen: dict[str, int] = defaultdict(int)
    out = []
    for i in items:
        out.append((i, seen[i]))
        seen[i] += 1
    return out


def align(base: MetricValue, cur: MetricValue) -> tuple[np.ndarray, np.ndarray] | None:
    """Index arrays (ib, ic) so base.samples[ib[j]] and cur.samples[ic[j]] are the same item; None if unpaired."""
    if base.items is None or cur.items is None or base.samples is None or cur.samples is None:
        return None
    kb, kc = _keyed(base.items), _keyed(cur.items)
    if sorted(kb) != sorted(kc):
        return None
    pos = {k: j for j, k in enumerate(kb)}
    ic = np.arange(len(kc))
    ib = np.array([pos[k] for k in kc], dtype=np.int64)
    return ib, ic


def pairing_note(base: MetricValue, cur: MetricValue) -> str:
    """Why a comparison is unpaired (or 'paired on N items')."""
    if base.items is None and cur.items is None:
        return "unpaired: this metric has no per-item results"
    if base.items is None:
        return "unpaired: the baseline has no per-item results"
    if cur.items is None:
        return "unpaired: the current run has no per-item results"
    if align(base, cur) is None:
        sb, sc = set(base.items), set(cur.items)
        return (f"unpaired: the items differ ({len(sb - sc)} only in the baseline, {len(sc - sb)} only in the "
                "current run)")
    return f"paired on {len(cur.items)} items"


def changed_items(base: MetricValue, cur: MetricValue, ib: np.ndarray, ic: np.ndarray,
                  limit: int = MAX_LISTED) -> dict[str, Any]:
    """Proportions: the flipped items (right → wrong, wrong → right); means: the items that moved most."""
    assert base.samples is not None and cur.samples is not None and cur.items is not None
    xb = np.asarray(base.samples, dtype=np.float64)[ib]
    xc = np.asarray(cur.samples, dtype=np.float64)[ic]
    ids = [cur.items[j] for j in ic]
    if base.stat == "proportion":
        to_wrong = [ids[j] for j in np.flatnonzero((xb > 0.5) & (xc <= 0.5))]
        to_right = [ids[j] for j in np.flatnonzero((xb <= 0.5) & (xc > 0.5))]
        return {"n_to_wrong": len(to_wrong), "n_to_right": len(to_right),
                "to_wrong": to_wrong[:limit], "to_right": to_right[:limit]}
    d = xc - xb
    order = np.argsort(-np.abs(d), kind="stable")[:limit]
    return {"n_changed": int(np.count_nonzero(d)),
            "moved_most": [{"item": ids[j], "baseline": float(xb[j]), "current": float(xc[j]), "delta": float(d[j])}
                           for j in order if d[j] != 0]}
