"""Regress baselines: the stored values (+ per-item samples) a suite is compared against.

The baseline JSON stores, per eval, a hash of its configuration (kind + parameters + the content of any
input file + the seed when it samples), and per metric the value, n and the samples the statistical
bounds need; plus the model's weights hash, the suite hash and package versions. An eval whose
configuration changed since the baseline was recorded is refused (re-record it) rather than compared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evals.regress.protocol import MetricValue
from evals.regress.suite import Suite, file_sha256
from interp.errors import UserError

BASELINE_KIND = "regress_baseline"
BASELINE_VERSION = 2  # 2: per-item results (item ids + samples) for paired comparisons
RERECORD = "re-record it (`update_baseline`)"


def model_sha256(model_ref: str) -> str | None:
    """sha256 over the model's safetensors files, or of a .gguf file (None for hub / packaged refs)."""
    from interp import hooked

    try:
        kind, path = hooked.resolve(model_ref)
    except UserError:
        return None
    if kind == "gguf" and path is not None:
        return file_sha256(path)
    if kind != "local" or path is None:
        return None
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")):
        h.update(f.name.encode() + b"\0" + file_sha256(f).encode())
    return h.hexdigest()


def make_baseline(suite: Suite, current: Mapping[str, Mapping[str, MetricValue]], model_ref: str,
                  model_hash: str | None = None, versions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The baseline document: values + samples per metric, eval config hashes, model/suite hash, versions."""
    return {
        "schema_version": BASELINE_VERSION,
        "kind": BASELINE_KIND,
        "suite": Path(suite.path).name,
        "suite_sha256": suite.sha256,
        "model": model_ref,
        "model_sha256": model_hash,
        "seed": suite.seed,
        "versions": dict(versions or {}),
        "evals": {
            ev.name: {
                "kind": ev.kind,
                "config_sha256": ev.config_sha256,
                "metrics": {m: current[ev.name][m].to_dict() for m in sorted(current[ev.name])},
            }
            for ev in suite.evals
        },
    }


def read_baseline(path: str | Path) -> Any:
    """The baseline document at `path` (UserError when it is missing, a folder or not JSON)."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"baseline path {str(p)!r} is a directory; give a .json file path")
    if not p.is_file():
        raise UserError(f"no baseline at {str(p)!r}; record one first (`update_baseline`)")
    try:
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read baseline {str(p)!r} ({type(e).__name__}); fix it or {RERECORD}") from None


def check_baseline(suite: Suite, baseline: Any, source: str = "baseline") -> dict[str, dict[str, MetricValue]]:
    """Validate a baseline against the suite BEFORE evaluating; return its metric values."""
    if not isinstance(baseline, dict) or baseline.get("kind") != BASELINE_KIND or not isinstance(
            baseline.get("evals"), dict):
        raise UserError(f"{source} is not a regress baseline (kind {BASELINE_KIND!r}); {RERECORD}")
    version = baseline.get("schema_version")
    if version != BASELINE_VERSION:
        raise UserError(f"{source} is baseline format {version} (this version reads format {BASELINE_VERSION}, with "
                        "per-item results for paired comparisons); re-run `interp regress --update-baseline`")
    out: dict[str, dict[str, MetricValue]] = {}
    for ev in suite.evals:
        b = baseline["evals"].get(ev.name)
        if not isinstance(b, dict):
            raise UserError(f"eval {ev.name!r} is not in the baseline {source}; {RERECORD}")
        if b.get("kind") != ev.kind or b.get("config_sha256") != ev.config_sha256:
            raise UserError(f"eval {ev.name!r} changed since the baseline {source} was recorded (kind, parameters, "
                            f"input file or seed differ); {RERECORD}")
        out[ev.name] = {}
        for m in ev.metrics:
            md = (b.get("metrics") or {}).get(m.metric)
            if md is None:
                raise UserError(f"metric {ev.name}/{m.metric} is not in the baseline {source}; {RERECORD}")
            try:
                mv = MetricValue.from_dict(md)
            except (KeyError, TypeError, ValueError) as e:
                raise UserError(f"baseline {source} entry {ev.name}/{m.metric} is malformed ({e}); {RERECORD}") from None
            if m.tolerance.kind == "statistical" and not mv.supports_statistical:
                raise UserError(f"baseline {source} has no samples for {ev.name}/{m.metric}, which the "
                                f"statistical tolerance needs; {RERECORD}")
            out[ev.name][m.metric] = mv
    return out

