"""`interp report A_DIR B_DIR --compare`: two results trees side by side (two checkpoints, two models, a change).

Pairing: stages are matched by their folder relative to each tree (`coref/` with `coref/`); both trees must
hold the same folders with the same result kinds, else UserError. Each pair must have been computed on the
same eval data: `data_identity(stage, tree)` (below) must be equal, else UserError naming the folder — a
difference on different data is not a difference of the models.

Per pair, one section: the Findings of A and of B side by side, and where the kind has them
    accuracies (coref probe, trimmed-head classification): B − A. Both results hold per-item correctness on
        the same items (same data, checked above), so the interval is PAIRED: Newcombe's paired (method 10)
        95% interval with the exact McNemar p and the minimum detectable effect; verdict by whether the
        interval excludes 0. Where per-item results are missing (older results), the unpaired Newcombe
        interval is used and the table says "unpaired";
    per-head grids (coref accuracy, ablation-sweep Δloss, patching, induction): a diverging heatmap of B − A
        when the shapes agree (same architecture);
    perplexity: both with their window-bootstrap intervals and the bits/byte difference.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from interp.errors import UserError
from reports import charts
from reports.collect import Stage, collect
from reports.document import Block, Chart, Finding, Report, Section, Table
from reports.sections import check_stage, get_section, order_key
from reports.sections.base import is_number, matrix_shape, num, verdict_vs


# ----------------------------------------------------------------------------- same data?
def _split_sha(tree: list[Stage], split: str) -> str | None:
    for s in tree:
        if s.run:
            sp = ((s.run.get("data") or {}).get("splits") or {}).get(split) or {}
            if isinstance(sp, dict) and sp.get("sha256"):
                return str(sp["sha256"])
    return None


def _source_identity(source: Any, tree: list[Stage]) -> Any:
    """A results `source` like 'split:val' names the run's split: identify it by that split's sha256."""
    s = str(source or "")
    for split in ("train", "val", "test"):
        if s in (f"split:{split}", split) or s.startswith(f"{split} split"):
            return {"split": split, "sha256": _split_sha(tree, split)}
    return s


def data_identity(stage: Stage, tree: list[Stage]) -> Any:
    """What identifies the eval data of a result (JSON-able; equal ⇔ same data). A result may carry its own
    `data_sha256`; otherwise it is derived per kind from the fields that describe the data."""
    d = stage.data
    if isinstance(d.get("data_sha256"), str):
        return d["data_sha256"]
    k = stage.kind
    if k == "coref_probe":
        return d.get("examples_sha256") or [d.get("probe_set"), d.get("n_examples")]
    if k == "trimmed_eval":
        ds = d.get("dataset") if isinstance(d.get("dataset"), dict) else {}
        gold = json.dumps([ds.get("name"), ds.get("source"), ds.get("split"), ds.get("n"), d.get("gold")])
        return hashlib.sha256(gold.encode()).hexdigest()
    if k == "perplexity":
        return [_source_identity(d.get("source"), tree), d.get("n_bytes"), d.get("n_chars")]
    if k in ("ablation", "ablation_sweep"):
        return [_source_identity(d.get("source"), tree), d.get("window_len"), d.get("n_windows")]
    if k in ("attention_maps", "attention_evolution", "generation"):
        return d.get("prompt")
    if k == "prompt_sensitivity":
        return d.get("prompts")
    if k == "patching":
        return [[p.get("clean"), p.get("corrupt")] for p in d.get("pairs") or [] if isinstance(p, dict)]
    if k == "training":
        return _split_sha(tree, "val")
    return None


# ----------------------------------------------------------------------------- per-kind extras
def accuracy_records(stage: Stage) -> dict[str, tuple[int, int]]:
    """{measure: (k, n)} of the accuracies a kind reports (for Newcombe intervals on B − A)."""
    d = stage.data
    out: dict[str, tuple[int, int]] = {}
    if stage.kind == "coref_probe":
        for key, name in (("head_mean", "head mean"), ("behaviour", "behaviour"),
                          ("best_head_heldout", "best head (held-out)")):
            x = d.get(key)
            if isinstance(x, dict) and isinstance(x.get("k"), int) and isinstance(x.get("n"), int) and x["n"]:
                out[name] = (x["k"], x["n"])
    elif stage.kind == "trimmed_eval":
        from reports.sections.trimmed import variant_stats

        for s in variant_stats(d):
            if s["n"]:
                out[s["variant"]] = (s["k"], s["n"])
    return out


def accuracy_items(stage: Stage) -> dict[str, list[bool]]:
    """{measure: per-item correctness} where the results carry it (same order as the eval data)."""
    d = stage.data
    out: dict[str, list[bool]] = {}
    if stage.kind == "coref_probe":
        rows = [r for r in d.get("examples") or [] if isinstance(r, dict)]
        if rows and all(isinstance(r.get("head_mean_correct"), bool) for r in rows):
            out["head mean"] = [r["head_mean_correct"] for r in rows]
        # behaviour: skipped examples (None) are not items; pairing needs the same items skipped in both
        beh = [r.get("behaviour_correct") for r in rows]
        if rows and all(b is None or isinstance(b, bool) for b in beh):
            out["behaviour"] = beh  # type: ignore[assignment]
    elif stage.kind == "trimmed_eval":
        gold = d.get("gold") or []
        variants = d.get("variants") if isinstance(d.get("variants"), dict) else {}
        for name, v in variants.items():
            pred = v.get("predictions") if isinstance(v, dict) else None
            if isinstance(pred, list) and gold and len(pred) == len(gold):
                out[name] = [p == g for p, g in zip(pred, gold, strict=True)]
    return out


def paired_accuracy(xa: list, xb: list, conf: float = 0.95) -> dict[str, Any] | None:
    """B − A on the same items (None entries = unscored; must match): Newcombe paired interval, exact McNemar
    p, MDE. None when the two per-item lists cannot be paired."""
    from interp import stats

    if len(xa) != len(xb) or any((u is None) != (v is None) for u, v in zip(xa, xb, strict=True)):
        return None
    pa = [bool(u) for u in xa if u is not None]
    pb = [bool(v) for v in xb if v is not None]
    if not pa:
        return None
    a, b, c, d = stats.paired_table(pb, pa)  # b: right in B only, c: right in A only
    lo, hi = stats.newcombe_paired_diff(a, b, c, d, conf)
    return {"n": len(pa), "ka": a + c, "kb": a + b, "lo": lo, "hi": hi, "p": stats.mcnemar_p(b, c),
            "b_only": b, "a_only": c, "mde": stats.mde_paired_proportion(len(pa), b + c, conf)}


def grid_of(stage: Stage) -> tuple[str, Any] | None:
    """(name, 2-D grid) of the kind's per-head picture, for a B − A heatmap."""
    d = stage.data
    if stage.kind == "coref_probe":
        return "coreference accuracy per head", d.get("head_accuracy")
    if stage.kind == "ablation_sweep":
        return "Δloss per ablated head (nats)", d.get("delta_loss")
    if stage.kind == "attention_evolution":
        cks = [c for c in d.get("checkpoints") or [] if isinstance(c, dict)]
        return ("induction score per head (last checkpoint)", cks[-1].get("induction")) if cks else None
    if stage.kind == "patching":
        from reports.sections.patching import _first_grid

        g = _first_grid(d)
        return (f"patching {g[0]} ({g[1]}): fraction restored", g[2]) if g else None
    return None


def _diff_grid(a: Any, b: Any) -> list[list[float | None]] | None:
    sa, sb = matrix_shape(a), matrix_shape(b)
    if sa is None or sa != sb or len(sa) != 2:
        return None
    return [[(y - x) if is_number(x) and is_number(y) else None for x, y in zip(ra, rb, strict=True)]
            for ra, rb in zip(a, b, strict=True)]


def _accuracy_block(a: Stage, b: Stage, na: str, nb: str) -> tuple[list[Finding], list[Block]]:
    from interp.stats import newcombe_diff, wilson

    ra, rb = accuracy_records(a), accuracy_records(b)
    ia, ib = accuracy_items(a), accuracy_items(b)
    rows, findings = [], []
    for name in [m for m in ra if m in rb]:
        pr = paired_accuracy(ia[name], ib[name]) if name in ia and name in ib else None
        if pr is not None:
            ka, n_a, kb, n_b = pr["ka"], pr["n"], pr["kb"], pr["n"]
            lo, hi = pr["lo"], pr["hi"]
            how = (f"paired on {pr['n']} items: {pr['b_only']} right only in {nb}, {pr['a_only']} only in {na}; "
                   f"McNemar p {pr['p']:.3g}; cannot see a change < {pr['mde']:.3f}")
            label = "Newcombe paired 95% CI"
        else:
            (ka, n_a), (kb, n_b) = ra[name], rb[name]
            lo, hi = newcombe_diff(kb, n_b, ka, n_a)
            how = "unpaired (no per-item results to pair)"
            label = "Newcombe 95% CI (unpaired)"
        d = kb / n_b - ka / n_a
        la, ha = wilson(ka, n_a)
        lb, hb = wilson(kb, n_b)
        verdict = {"above 0": f"{nb} better", "below 0": f"{na} better"}.get(verdict_vs(lo, hi, 0.0, "0"),
                                                                             "difference not distinguishable from 0")
        rows.append((name, f"{ka}/{n_a} = {ka / n_a:.3f} [{la:.2f}, {ha:.2f}]",
                     f"{kb}/{n_b} = {kb / n_b:.3f} [{lb:.2f}, {hb:.2f}]", f"{d:+.3f}", f"[{lo:+.3f}, {hi:+.3f}]",
                     how, verdict))
        findings.append(Finding(f"{get_section(a.kind).title}, {name}: {nb} − {na}", f"{d:+.3f}", verdict,
                                interval=f"{label} [{lo:+.2f}, {hi:+.2f}]",
                                baseline=f"{ka / n_a:.2f} → {kb / n_b:.2f}"))
    blocks: list[Block] = []
    if rows:
        blocks.append(Table(columns=("accuracy", na, nb, f"{nb} − {na}", "95% CI", "pairing", "verdict"),
                            rows=tuple(rows), caption="accuracy with Wilson intervals; the difference with Newcombe's "
                            "paired interval and exact McNemar p when both scored the same items, else unpaired"))
    return findings, blocks


def compare_pair(a: Stage, b: Stage, na: str, nb: str, index: int) -> Section:
    """One section comparing stage `a` (tree A) with stage `b` (tree B) of the same kind."""
    spec = get_section(a.kind)
    fa, fb = spec.findings(a), spec.findings(b)
    blocks: list[Block] = []
    g = grid_of(a)
    if g is not None:
        gb = grid_of(b)
        diff = _diff_grid(g[1], gb[1] if gb else None)
        if diff is not None:
            title = f"{g[0]}: {nb} − {na}"
            blocks.append(Chart(caption=f"{title} (red: higher in {nb}, blue: higher in {na})",
                                draw=lambda fig: charts.draw_heatmap(fig, diff, title, center_zero=True,
                                                                     colorbar_label=f"{nb} − {na}"),
                                height=min(4.2, 1.4 + 0.3 * len(diff))))
    acc_findings, acc_blocks = _accuracy_block(a, b, na, nb)
    blocks += acc_blocks
    if a.kind == "perplexity":
        from reports.sections.perplexity import ppl_interval

        rows = []
        for name, s in ((na, a), (nb, b)):
            ci = ppl_interval(s.data)
            rows.append((name, f"{num(s.data, 'perplexity'):.2f}", f"{ci[0]:.2f} – {ci[1]:.2f}" if ci else "—",
                         f"{num(s.data, 'bits_per_byte'):.3f}"))
        blocks.append(Table(columns=("results", "perplexity", "95% CI (window bootstrap)", "bits/byte"), rows=tuple(rows),
                            caption="perplexity (compare bits/byte across tokenizers)"))
    n = max(len(fa), len(fb))
    blocks.append(Table(columns=("", na, nb), caption="findings of each",
                        rows=tuple(((fa[i] if i < len(fa) else fb[i]).label,
                                    fa[i].value + (f" {fa[i].interval}" if fa[i].interval else "") + f" — {fa[i].verdict}"
                                    if i < len(fa) else "—",
                                    fb[i].value + (f" {fb[i].interval}" if fb[i].interval else "") + f" — {fb[i].verdict}"
                                    if i < len(fb) else "—") for i in range(n))))
    findings = acc_findings or [Finding(f"{spec.title}: {fa[0].label}" if fa else spec.title,
                                        f"{na}: {fa[0].value} | {nb}: {fb[0].value}" if fa and fb else "—",
                                        f"{na}: {fa[0].verdict}; {nb}: {fb[0].verdict}" if fa and fb else "")]
    where = a.rel if a.rel != "." else "top level"
    sid = f"s{index}-{a.kind.replace('_', '-')}"
    from dataclasses import replace

    return Section(id=sid, title=f"{spec.title} ({where})", kind=a.kind, source=f"{a.source} vs {b.source}",
                   guide=spec.guide(b) + f" Here: {na} vs {nb}, same eval data.", blocks=tuple(blocks),
                   findings=tuple(replace(f, section_id=sid) for f in findings))


def build_comparison(a_dir: str | os.PathLike, b_dir: str | os.PathLike, title: str | None = None) -> Report:
    """Pair the stages of two trees, refuse mismatched kinds / data, build the comparison Report."""
    ca, cb = collect(a_dir), collect(b_dir)
    for s in (*ca.stages, *cb.stages):
        check_stage(s)
    na, nb = Path(a_dir).resolve().name or "A", Path(b_dir).resolve().name or "B"
    if na == nb:
        na, nb = f"A ({na})", f"B ({nb})"
    by_a = {s.rel: s for s in ca.stages}
    by_b = {s.rel: s for s in cb.stages}
    for rel in sorted(set(by_a) | set(by_b)):
        if rel not in by_a or rel not in by_b:
            have, lack = (a_dir, b_dir) if rel in by_a else (b_dir, a_dir)
            raise UserError(f"cannot compare: {have} has results in {rel!r} ({(by_a.get(rel) or by_b[rel]).kind}) "
                            f"but {lack} has none; compare trees with the same analyses")
        if by_a[rel].kind != by_b[rel].kind:
            raise UserError(f"cannot compare {rel!r}: kind {by_a[rel].kind!r} in {a_dir} vs {by_b[rel].kind!r} in "
                            f"{b_dir}")
        ia, ib = data_identity(by_a[rel], list(ca.stages)), data_identity(by_b[rel], list(cb.stages))
        if ia != ib:
            raise UserError(f"cannot compare {rel!r} ({by_a[rel].kind}): the results were computed on different eval "
                            f"data ({_short(ia)} vs {_short(ib)}); rerun both on the same data")
    pairs = sorted(((by_a[r], by_b[r]) for r in by_a), key=lambda p: order_key(p[0]))
    sections = tuple(compare_pair(a, b, na, nb, i) for i, (a, b) in enumerate(pairs, 1))
    meta = (("A", str(a_dir)), ("B", str(b_dir)), ("pairs", ", ".join(f"{a.rel} ({a.kind})" for a, _ in pairs)))
    return Report(title=title or f"interp comparison — {na} vs {nb}", results_dir=f"{a_dir} vs {b_dir}",
                  metadata=meta, sections=sections)


def _short(x: Any) -> str:
    s = json.dumps(x, sort_keys=True, default=str)
    return s if len(s) <= 60 else s[:57] + "…"

