"""CI regression evals: a TOML suite of evals, a stored baseline, and a per-metric pass/fail bound.

    suite.toml ─► parse + validate (unknown keys/evals/tolerances → UserError naming key and line)
               ─► run each eval's adapter on the model: {metric: MetricValue(value, n, samples)}
               ─► --update-baseline: store values + samples (baseline JSON)
               ─► else compare with the baseline: one `Check` per metric (baseline, current, bound, pass)

Suite format (see examples/regress-suite.toml):

    model = "runs/tiny"          # model reference (run dir, checkpoint, HF dir, hub id); --model overrides
    seed = 0                     # seeds evals that sample and the bootstrap; --seed overrides
    baseline = "baseline.json"   # relative to the suite file; --baseline overrides

    [[eval]]
    name = "val-ppl"             # unique; names the JUnit testcase
    kind = "perplexity"          # a registered eval kind (see `KINDS` / `describe_kinds()`)
    split = "val"                # the kind's own parameters
    max_windows = 64

    [eval.metrics.perplexity]    # the metrics to check (default: all of the kind's, default tolerance)
    direction = "lower"          # lower/higher is better (default: the metric's natural direction)
    tolerance = "statistical"    # "absolute" | "relative" | "statistical"
    confidence = 0.95            # statistical: two-sided confidence of the interval (default 0.95)
    n_boot = 1000                # statistical, bootstrap metrics: resamples (default 1000)
    # amount = 0.05              # absolute: metric units; relative: fraction of |baseline|

Tolerances. `absolute`/`relative` give a fixed bound (baseline ± amount, baseline × (1 ± amount)).
A fixed bound ignores the sample size: ±0.02 accuracy is noise at n = 50 (the 95% Wilson interval of
40/50 is 0.67–0.89) yet a real drop at n = 10,000. `statistical` scales with n and asks "is the change
larger than the sampling error of the two measurements?":

  - proportions (accuracy k/n): Newcombe's hybrid-score interval for (current − baseline), built from
    the two Wilson score intervals. A regression is when the whole interval lies on the worse side of 0
    — i.e. the two proportions differ significantly (one-sided, α = (1 − confidence)/2). This is
    stricter about noise than "current below the baseline's own Wilson lower bound", which ignores the
    current measurement's error and so flags too often.
  - means of per-item samples (perplexity from per-window NLLs, Δloss, distinct-n): a seeded
    percentile bootstrap of stat(current*) − stat(baseline*) with windows/items resampled
    independently; a regression when the interval lies entirely on the worse side of 0.

Both treat baseline and current as independent samples of the eval population, which is conservative
when they score the same items (a paired test would also flag tiny systematic drifts such as a changed
BLAS); to detect smaller changes, raise n. The reported `bound` is the worst current value that would
still pass, so the table shows how sensitive each check is. What the statistical bound does NOT cover
is training variance: two training runs with different seeds differ by more than eval sampling noise
on a large eval set. To gate models retrained from different seeds, measure that seed-to-seed spread
and use a relative/absolute tolerance at least that wide (CI here retrains with a fixed seed, which
reproduces the weights bit-for-bit on CPU).

The baseline JSON stores, per eval, a hash of its configuration (kind + parameters + the content of any
input file), and per metric the value, n and the samples the statistical bounds need, plus the model's
weights hash, the suite hash and package versions. An eval whose configuration changed since the
baseline is refused (UserError: rerun with --update-baseline) rather than compared.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals import stats
from interp.errors import UserError
from interp.results import FrozenResult, to_jsonable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

DIRECTIONS = ("higher", "lower")
TOLERANCES = ("absolute", "relative", "statistical")
METRIC_STATS = ("proportion", "mean", "exp_mean")
BASELINE_KIND = "regress_baseline"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


# ============================================================================ metric values + registry
@dataclass(frozen=True)
class MetricValue:
    """One measured metric. `stat` says how it aggregates its items, which picks the statistical bound:

    "proportion"  value = k / n (accuracy); n is all the Wilson/Newcombe bound needs
    "mean"        value = weighted mean of `samples` (weights default 1)
    "exp_mean"    value = exp(weighted mean of `samples`)  (perplexity: per-window mean NLL, weights =
                  tokens per window, so value = exp(total NLL / total tokens))

    `fingerprint` (optional) identifies the scored inputs (e.g. a hash of the token windows): if the
    baseline's differs, the values are not comparable and the check fails saying so.
    """

    value: float
    n: int
    stat: str = "mean"
    samples: tuple[float, ...] | None = None
    weights: tuple[float, ...] | None = None
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        if self.stat not in METRIC_STATS:
            raise ValueError(f"MetricValue.stat must be one of {METRIC_STATS}, got {self.stat!r}")
        if self.samples is not None and self.weights is not None and len(self.samples) != len(self.weights):
            raise ValueError("MetricValue samples and weights differ in length")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": to_jsonable(float(self.value)), "n": int(self.n), "stat": self.stat}
        if self.samples is not None:
            d["samples"] = to_jsonable([float(x) for x in self.samples])
        if self.weights is not None:
            d["weights"] = to_jsonable([float(x) for x in self.weights])
        if self.fingerprint is not None:
            d["fingerprint"] = self.fingerprint
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricValue:
        v = d.get("value")
        return cls(value=float("nan") if v is None else float(v), n=int(d["n"]), stat=d.get("stat", "mean"),
                   samples=tuple(d["samples"]) if d.get("samples") is not None else None,
                   weights=tuple(d["weights"]) if d.get("weights") is not None else None,
                   fingerprint=d.get("fingerprint"))

    def normalized(self) -> MetricValue:
        """Round-trip through the JSON rounding, so a re-measured value equals its stored baseline exactly."""
        return MetricValue.from_dict(self.to_dict())

    @property
    def supports_statistical(self) -> bool:
        return self.stat == "proportion" or self.samples is not None


def proportion(k: int, n: int, fingerprint: str | None = None) -> MetricValue:
    """An accuracy-like metric: k successes out of n."""
    return MetricValue(value=k / n if n else float("nan"), n=n, stat="proportion", fingerprint=fingerprint)


def mean_of(samples: Iterable[float], weights: Iterable[float] | None = None, stat: str = "mean",
            fingerprint: str | None = None) -> MetricValue:
    """A metric that is the (exp-)mean of per-item samples, keeping the samples for the bootstrap."""
    s = tuple(float(x) for x in samples)
    w = tuple(float(x) for x in weights) if weights is not None else None
    value = stats.statistic(s, w, stat) if s else float("nan")
    return MetricValue(value=value, n=len(s), stat=stat, samples=s, weights=w, fingerprint=fingerprint)


@dataclass(frozen=True)
class MetricSpec:
    """A metric an eval kind produces: its natural direction (None = the suite must say) and how it
    aggregates (decides which tolerances are possible)."""

    name: str
    direction: str | None
    stat: str
    doc: str = ""
    default: bool = True  # checked when the suite lists no metrics for the eval

    @property
    def default_tolerance(self) -> str:
        return "statistical"


_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """A parameter of an eval kind. `type`: "str" | "int" | "float" | "bool" | "str_list" | "path"
    ("path": a file or folder, relative to the suite's folder, that must exist; its content is hashed
    into the eval's config hash). `check(value) -> error message | None` adds range checks."""

    type: str
    default: Any = _REQUIRED
    doc: str = ""
    check: Callable[[Any], str | None] | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True)
class EvalContext:
    """What adapters may use besides the model and their parameters."""

    model_ref: str
    base_dir: Path  # the suite's folder: relative "path" params are resolved against it (already done)
    seed: int = 0
    device: str = "cpu"

    def run_meta(self) -> dict[str, Any]:
        """run.json of the training run behind the model (for run splits); UserError if there is none."""
        from interp import hooked

        meta = hooked.run_metadata(self.model_ref)
        if meta is None:
            raise UserError(
                f"model {self.model_ref!r} is not from an `interp train` run (no run.json), so it has no "
                "run splits; use `file = \"text.txt\"` instead of `split` in the suite"
            )
        return meta


Adapter = Callable[[Any, dict[str, Any], EvalContext], dict[str, MetricValue]]


@dataclass(frozen=True)
class EvalKind:
    """A registered eval: parameters (unknown keys rejected), metrics, and the adapter
    `(model, params, ctx) -> {metric: MetricValue}` that calls the eval's pure function.
    `validate(params, metric_names) -> error | None` checks combinations (e.g. exactly one of split/file);
    `seeded` (or `seeded(params)`): the eval samples, so the seed is part of its configuration."""

    name: str
    params: dict[str, Param]
    metrics: dict[str, MetricSpec]
    adapter: Adapter
    doc: str = ""
    validate: Callable[[dict[str, Any], list[str]], str | None] | None = None
    seeded: bool | Callable[[dict[str, Any]], bool] = False


KINDS: dict[str, EvalKind] = {}


def register(kind: EvalKind) -> EvalKind:
    if kind.name in KINDS:
        raise ValueError(f"eval kind {kind.name!r} registered twice")
    KINDS[kind.name] = kind
    return kind


def describe_kinds() -> dict[str, Any]:
    """Registered kinds with their parameters and metrics (for --help text and docs)."""
    return {
        k.name: {
            "doc": k.doc,
            "params": {p: {"type": s.type, "required": s.required, "default": None if s.required else s.default,
                           "doc": s.doc} for p, s in k.params.items()},
            "metrics": {m: {"direction": s.direction, "stat": s.stat, "doc": s.doc} for m, s in k.metrics.items()},
        }
        for k in KINDS.values()
    }


# ============================================================================ suite
@dataclass(frozen=True)
class Tolerance:
    kind: str  # absolute | relative | statistical
    amount: float | None = None  # absolute / relative
    confidence: float = 0.95  # statistical
    n_boot: int = 1000  # statistical (bootstrap metrics)

    def describe(self, stat: str) -> str:
        if self.kind == "absolute":
            return f"absolute ±{self.amount:g}"
        if self.kind == "relative":
            return f"relative {self.amount * 100:g}%"
        method = "Wilson" if stat == "proportion" else f"bootstrap×{self.n_boot}"
        return f"statistical {self.confidence * 100:g}% {method}"


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    direction: str
    stat: str
    tolerance: Tolerance


@dataclass(frozen=True)
class EvalSpec:
    name: str
    kind: str
    params: tuple[tuple[str, Any], ...]  # sorted (key, value), defaults filled in, paths absolute
    metrics: tuple[MetricCheck, ...]
    line: int | None = None
    config_sha256: str = ""

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class Suite:
    path: str
    sha256: str
    model: str | None
    seed: int
    baseline: str | None  # as written, resolved against the suite folder by `baseline_path`
    evals: tuple[EvalSpec, ...]
    description: str = ""
    root: str = "."  # the suite's folder: relative paths in the suite are resolved against it

    @property
    def base_dir(self) -> Path:
        return Path(self.root).resolve()

    def baseline_path(self, override: str | Path | None = None) -> Path:
        if override is not None:
            return Path(override)
        if self.baseline:
            p = Path(self.baseline).expanduser()
            return p if p.is_absolute() else self.base_dir / p
        return self.base_dir / f"{Path(self.path).stem}.baseline.json"


# ---------------------------------------------------------------------------- TOML line locator
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEYLINE = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=""")


def _split_dotted(s: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in re.findall(r"""(?:"[^"]*"|'[^']*'|[^.]+)""", s))


def _line_index(text: str) -> dict[tuple, int]:
    """Map (table path with array-of-tables indices..., key) → 1-based line, for error messages.
    A line-based scan: good for hand-written suites; an unknown location falls back to the table's line."""
    index: dict[tuple, int] = {}
    counters: dict[tuple[str, ...], int] = {}
    path: tuple = ()
    in_multiline = False
    for i, line in enumerate(text.splitlines(), 1):
        toggles = bool(line.count('"""') % 2 or line.count("'''") % 2)  # opens or closes a multi-line string
        if in_multiline:  # inside a multi-line string value: no keys here
            in_multiline = not toggles
            continue
        in_multiline = toggles  # a `key = """...` line still names its key below
        m = _HEADER.match(line)
        if m:
            parts = _split_dotted(m.group(2))
            if m.group(1) == "[[":
                counters[parts] = counters.get(parts, -1) + 1
                for key in [k for k in counters if len(k) > len(parts) and k[: len(parts)] == parts]:
                    del counters[key]  # nested arrays restart inside a new element
            resolved: list = []
            for j in range(len(parts)):
                resolved.append(parts[j])
                if parts[: j + 1] in counters:
                    resolved.append(counters[parts[: j + 1]])
            path = tuple(resolved)
            index.setdefault(path, i)
            continue
        m = _KEYLINE.match(line)
        if m:
            index.setdefault(path + _split_dotted(m.group(1)), i)
    return index


class _Locator:
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.index = _line_index(text)

    def line(self, path: tuple) -> int | None:
        for n in range(len(path), 0, -1):
            if path[:n] in self.index:
                return self.index[path[:n]]
        return None

    def error(self, path: tuple, where: str, msg: str) -> UserError:
        ln = self.line(path)
        loc = f"{self.source}:{ln}" if ln else self.source
        return UserError(f"{loc}: {where}: {msg}")


# ---------------------------------------------------------------------------- parsing
_TOP_KEYS = ("model", "seed", "baseline", "description", "eval")
_EVAL_KEYS = ("name", "kind", "metrics")
_METRIC_KEYS = ("direction", "tolerance", "amount", "confidence", "n_boot")


def _type_ok(ptype: str, v: Any) -> bool:
    if ptype in ("str", "path"):
        return isinstance(v, str)
    if ptype == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if ptype == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if ptype == "bool":
        return isinstance(v, bool)
    if ptype == "str_list":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    raise ValueError(f"unknown param type {ptype!r}")


def _file_sha256(p: Path) -> str:
    """sha256 of a file's bytes; of a folder: over its files' relative paths and hashes."""
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(str(f.relative_to(p)).encode() + b"\0" + _file_sha256(f).encode())
        return h.hexdigest()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_sha256(kind: EvalKind, params: Mapping[str, Any], seed: int) -> str:
    """Hash of what determines an eval's inputs: kind, parameters, input-file contents, seed if it samples."""
    d: dict[str, Any] = {"kind": kind.name, "params": {}}
    for k, v in sorted(params.items()):
        if kind.params[k].type == "path" and v is not None:
            d["params"][k] = {"sha256": _file_sha256(Path(v))}
        else:
            d["params"][k] = v
    if kind.seeded(dict(params)) if callable(kind.seeded) else kind.seeded:
        d["seed"] = seed
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _parse_tolerance(loc: _Locator, path: tuple, where: str, spec: MetricSpec, m: dict[str, Any]) -> Tolerance:
    tol = m.get("tolerance", spec.default_tolerance)
    if tol not in TOLERANCES:
        raise loc.error(path + ("tolerance",), where, f"bad tolerance {tol!r}; use one of {', '.join(TOLERANCES)}")
    amount = m.get("amount")
    if tol in ("absolute", "relative"):
        if amount is None:
            raise loc.error(path + ("tolerance",), where,
                            f"tolerance {tol!r} needs `amount = ...` (absolute: metric units; relative: fraction)")
        if not _type_ok("float", amount) or not math.isfinite(amount) or amount < 0:
            raise loc.error(path + ("amount",), where, f"amount must be a number >= 0, got {amount!r}")
        for k in ("confidence", "n_boot"):
            if k in m:
                raise loc.error(path + (k,), where, f"`{k}` applies only to tolerance = \"statistical\"")
        return Tolerance(tol, amount=float(amount))
    if amount is not None:
        raise loc.error(path + ("amount",), where,
                        "`amount` applies only to absolute/relative tolerances; statistical uses `confidence`")
    conf = m.get("confidence", 0.95)
    if not _type_ok("float", conf) or not 0.5 <= conf < 1:
        raise loc.error(path + ("confidence",), where, f"confidence must be in [0.5, 1), got {conf!r}")
    n_boot = m.get("n_boot", 1000)
    if not _type_ok("int", n_boot) or not 100 <= n_boot <= 100_000:
        raise loc.error(path + ("n_boot",), where, f"n_boot must be an integer in [100, 100000], got {n_boot!r}")
    if spec.stat == "proportion" and "n_boot" in m:
        raise loc.error(path + ("n_boot",), where, f"metric {spec.name!r} is a proportion (Wilson bound); "
                        "`n_boot` applies only to bootstrap metrics")
    return Tolerance("statistical", confidence=float(conf), n_boot=int(n_boot))


def _parse_eval(loc: _Locator, i: int, e: Any, seed: int, base_dir: Path, names: set[str]) -> EvalSpec:
    path: tuple = ("eval", i)
    where = f"[[eval]] #{i + 1}"
    if not isinstance(e, dict):
        raise loc.error(path, where, "each [[eval]] must be a table")
    name = e.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise loc.error(path + ("name",), where,
                        f"needs `name = \"...\"` (letters, digits, . _ -), got {name!r}")
    where = f"[[eval]] {name!r}"
    if name in names:
        raise loc.error(path + ("name",), where, f"duplicate eval name {name!r}; names must be unique")
    names.add(name)
    kname = e.get("kind")
    if kname not in KINDS:
        raise loc.error(path + ("kind",), where,
                        f"unknown eval kind {kname!r}; choose one of: {', '.join(sorted(KINDS))}")
    kind = KINDS[kname]
    where = f"[[eval]] {name!r} (kind {kname})"
    params: dict[str, Any] = {}
    for key, v in e.items():
        if key in _EVAL_KEYS:
            continue
        if key not in kind.params:
            allowed = ", ".join([*_EVAL_KEYS, *kind.params])
            raise loc.error(path + (key,), where, f"unknown key {key!r}; allowed: {allowed}")
        p = kind.params[key]
        if not _type_ok(p.type, v):
            raise loc.error(path + (key,), where, f"`{key}` must be of type {p.type}, got {v!r}")
        if p.type == "path":
            f = Path(v).expanduser()
            f = f if f.is_absolute() else base_dir / f
            if not f.exists():
                raise loc.error(path + (key,), where, f"`{key}` path {str(f)!r} does not exist")
            v = str(f.resolve())
        if p.check is not None and (msg := p.check(v)):
            raise loc.error(path + (key,), where, f"bad `{key}`: {msg}")
        params[key] = float(v) if p.type == "float" else v
    for key, p in kind.params.items():
        if key not in params:
            if p.required:
                raise loc.error(path, where, f"missing required key `{key}` ({p.doc})")
            params[key] = p.default
    metrics_cfg = e.get("metrics", None)
    if metrics_cfg is None:
        metrics_cfg = {m: {} for m, spec in kind.metrics.items() if spec.default}
    if not isinstance(metrics_cfg, dict) or not metrics_cfg:
        raise loc.error(path + ("metrics",), where, "`metrics` must be a non-empty table of metric tables")
    checks = []
    for mname, m in metrics_cfg.items():
        mpath = path + ("metrics", mname)
        if mname not in kind.metrics:
            raise loc.error(mpath, where, f"unknown metric {mname!r} for kind {kname}; "
                            f"choose from: {', '.join(kind.metrics)}")
        if not isinstance(m, dict):
            raise loc.error(mpath, where, f"metric {mname!r} must be a table ([eval.metrics.{mname}])")
        mwhere = f"{where} metric {mname!r}"
        for key in m:
            if key not in _METRIC_KEYS:
                raise loc.error(mpath + (key,), mwhere, f"unknown key {key!r}; allowed: {', '.join(_METRIC_KEYS)}")
        spec = kind.metrics[mname]
        direction = m.get("direction", spec.direction)
        if direction is None:
            raise loc.error(mpath, mwhere, "this metric has no natural direction; set direction = \"higher\" or \"lower\"")
        if direction not in DIRECTIONS:
            raise loc.error(mpath + ("direction",), mwhere, f"bad direction {direction!r}; use \"higher\" or \"lower\"")
        checks.append(MetricCheck(mname, direction, spec.stat, _parse_tolerance(loc, mpath, mwhere, spec, m)))
    if kind.validate is not None and (msg := kind.validate(params, [c.metric for c in checks])):
        raise loc.error(path, where, msg)
    return EvalSpec(name=name, kind=kname, params=tuple(sorted(params.items())), metrics=tuple(checks),
                    line=loc.line(path), config_sha256=config_sha256(kind, params, seed))


def parse_suite(text: str, source: str = "suite.toml", base_dir: str | Path = ".",
                seed_override: int | None = None) -> Suite:
    """Parse and validate a suite (all errors are UserErrors naming the key and line)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{source}: invalid TOML: {e}") from None
    loc = _Locator(source, text)
    for key in raw:
        if key not in _TOP_KEYS:
            raise loc.error((key,), "suite", f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_KEYS)}")
    model = raw.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise loc.error(("model",), "suite", f"`model` must be a non-empty string, got {model!r}")
    seed = raw.get("seed", 0)
    if not _type_ok("int", seed) or seed < 0:
        raise loc.error(("seed",), "suite", f"`seed` must be an integer >= 0, got {seed!r}")
    if seed_override is not None:
        seed = seed_override
    baseline = raw.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise loc.error(("baseline",), "suite", f"`baseline` must be a path string, got {baseline!r}")
    desc = raw.get("description", "")
    if not isinstance(desc, str):
        raise loc.error(("description",), "suite", "`description` must be a string")
    evs = raw.get("eval")
    if not isinstance(evs, list) or not evs:
        raise loc.error(("eval",), "suite", "no evals; add at least one [[eval]] table with name and kind")
    names: set[str] = set()
    specs = tuple(_parse_eval(loc, i, e, seed, Path(base_dir), names) for i, e in enumerate(evs))
    return Suite(path=source, sha256=hashlib.sha256(text.encode()).hexdigest(), model=model, seed=seed,
                 baseline=baseline, evals=specs, description=desc, root=str(base_dir))


def load_suite(path: str | Path, seed_override: int | None = None) -> Suite:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"suite file {str(p)!r} does not exist; pass --suite PATH.toml (see examples/regress-suite.toml)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read suite {str(p)!r}: {e}") from None
    return parse_suite(text, source=str(p), base_dir=p.resolve().parent, seed_override=seed_override)


# ============================================================================ evaluation
def evaluate(suite: Suite, model: Any, ctx: EvalContext,
             progress: Callable[[Iterable[EvalSpec]], Iterable[EvalSpec]] | None = None
             ) -> dict[str, dict[str, MetricValue]]:
    """Run every eval's adapter; keep the metrics the suite checks (normalized to JSON precision)."""
    out: dict[str, dict[str, MetricValue]] = {}
    evs: Iterable[EvalSpec] = progress(suite.evals) if progress is not None else suite.evals
    for ev in evs:
        kind = KINDS[ev.kind]
        got = kind.adapter(model, ev.param_dict, ctx)
        missing = [m.metric for m in ev.metrics if m.metric not in got]
        if missing:
            raise RuntimeError(f"eval kind {ev.kind!r} did not produce metric(s) {missing}")  # adapter bug
        out[ev.name] = {m.metric: got[m.metric].normalized() for m in ev.metrics}
    return out


# ============================================================================ baseline
def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    from interp import __version__

    vs = {"python": platform.python_version(), "interp": __version__}
    for pkg in ("torch", "transformers", "transformer-lens", "numpy"):
        try:
            vs[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return vs


def model_sha256(model_ref: str) -> str | None:
    """sha256 over the model's safetensors files (None for hub models / non-local refs)."""
    from interp import hooked

    try:
        kind, path = hooked.resolve(model_ref)
    except UserError:
        return None
    if kind != "local" or path is None:
        return None
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")):
        h.update(f.name.encode() + b"\0" + _file_sha256(f).encode())
    return h.hexdigest()


def make_baseline(suite: Suite, current: Mapping[str, Mapping[str, MetricValue]], model_ref: str,
                  model_hash: str | None = None, versions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The baseline document: values + samples per metric, eval config hashes, model/suite hash, versions."""
    return {
        "schema_version": 1,
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


def check_baseline(suite: Suite, baseline: Any, source: str = "baseline") -> dict[str, dict[str, MetricValue]]:
    """Validate a baseline against the suite BEFORE evaluating; return its metric values."""
    hint = "rerun with --update-baseline to record a new baseline"
    if not isinstance(baseline, dict) or baseline.get("kind") != BASELINE_KIND or "evals" not in baseline:
        raise UserError(f"{source} is not a regress baseline (kind {BASELINE_KIND!r}); {hint}")
    out: dict[str, dict[str, MetricValue]] = {}
    for ev in suite.evals:
        b = baseline["evals"].get(ev.name)
        if b is None:
            raise UserError(f"eval {ev.name!r} is not in the baseline {source}; {hint}")
        if b.get("kind") != ev.kind or b.get("config_sha256") != ev.config_sha256:
            raise UserError(
                f"eval {ev.name!r} changed since the baseline {source} was recorded (kind, parameters, input "
                f"file or seed differ); {hint}"
            )
        out[ev.name] = {}
        for m in ev.metrics:
            md = b.get("metrics", {}).get(m.metric)
            if md is None:
                raise UserError(f"metric {ev.name}/{m.metric} is not in the baseline {source}; {hint}")
            try:
                mv = MetricValue.from_dict(md)
            except (KeyError, TypeError, ValueError) as e:
                raise UserError(f"baseline {source} entry {ev.name}/{m.metric} is malformed ({e}); {hint}") from None
            if m.tolerance.kind == "statistical" and not mv.supports_statistical:
                raise UserError(f"baseline {source} has no samples for {ev.name}/{m.metric}, which the "
                                f"statistical tolerance needs; {hint}")
            out[ev.name][m.metric] = mv
    return out


# ============================================================================ comparison
@dataclass(frozen=True)
class Check:
    """One metric's verdict. `bound` is the worst current value that still passes; `interval` is the
    confidence interval of (current − baseline) for statistical tolerances."""

    eval: str
    metric: str
    direction: str
    tolerance: str
    baseline: float
    current: float
    bound: float | None
    delta: float
    n_baseline: int
    n_current: int
    passed: bool
    message: str
    interval: tuple[float, float] | None = None


def _worse(direction: str, a: float, b: float) -> bool:
    """Is a worse than b?"""
    return a < b if direction == "higher" else a > b


def _proportion_bound(kb: int, nb: int, nc: int, direction: str, conf: float) -> float:
    """Worst passing current proportion (over k = 0..nc) under the Newcombe test."""
    def passes(k: int) -> bool:
        lo, hi = stats.newcombe_diff(k, nc, kb, nb, conf)
        return hi >= 0 if direction == "higher" else lo <= 0

    # passing is monotone in k: binary search the boundary
    if direction == "higher":
        lo, hi = 0, nc  # smallest passing k; k = kb·nc/nb passes
        while lo < hi:
            mid = (lo + hi) // 2
            if passes(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo / nc
    lo, hi = 0, nc  # largest passing k
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if passes(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo / nc


def compare_metric(ev: str, check: MetricCheck, base: MetricValue, cur: MetricValue, seed: int = 0) -> Check:
    """Apply one tolerance."""
    tol, d = check.tolerance, check.direction
    b, c = float(base.value), float(cur.value)
    common = dict(eval=ev, metric=check.metric, direction=d, tolerance=tol.describe(check.stat), baseline=b,
                  current=c, n_baseline=base.n, n_current=cur.n)
    name = f"{ev}/{check.metric}"
    if not math.isfinite(b):
        return Check(**common, bound=None, delta=float("nan"), passed=False,
                     message=f"{name}: the baseline value is undefined ({b}, n = {base.n}); the metric has no "
                             "items to score — fix the eval, then rerun with --update-baseline")
    if not math.isfinite(c):
        return Check(**common, bound=None, delta=float("nan"), passed=False,
                     message=f"{name}: current value is not finite ({c}, n = {cur.n}); baseline {b:.6g}")
    if base.fingerprint and cur.fingerprint and base.fingerprint != cur.fingerprint:
        return Check(**common, bound=None, delta=c - b, passed=False,
                     message=f"{name}: scored inputs differ from the baseline's (e.g. another tokenizer), so "
                             f"{c:.6g} vs {b:.6g} is not comparable; if intended, rerun with --update-baseline")
    interval = None
    if tol.kind == "absolute":
        bound = b + tol.amount if d == "lower" else b - tol.amount
        ok = not _worse(d, c, bound)
    elif tol.kind == "relative":
        bound = b + tol.amount * abs(b) if d == "lower" else b - tol.amount * abs(b)
        ok = not _worse(d, c, bound)
    elif check.stat == "proportion":
        if cur.n <= 0 or base.n <= 0:
            return Check(**common, bound=None, delta=c - b, passed=False, message=f"{name}: no items scored (n = 0)")
        kb, kc = round(b * base.n), round(c * cur.n)
        lo, hi = stats.newcombe_diff(kc, cur.n, kb, base.n, tol.confidence)
        interval = (lo, hi)
        ok = hi >= 0 if d == "higher" else lo <= 0
        bound = _proportion_bound(kb, base.n, cur.n, d, tol.confidence)
    else:
        if not base.samples or not cur.samples:
            return Check(**common, bound=None, delta=c - b, passed=False,
                         message=f"{name}: no per-item samples for the bootstrap")
        reps = stats.bootstrap_diff(base.samples, cur.samples, base.weights, cur.weights, check.stat,
                                    tol.n_boot, seed)  # (n_boot,) replicates of cur* − base*
        a = (1.0 - tol.confidence) / 2.0
        lo, hi = (float(x) for x in np.quantile(reps, [a, 1.0 - a]))
        interval = (lo, hi)
        delta = c - b
        ok = lo <= 0 if d == "lower" else hi >= 0
        # pass ⟺ cur ≤ base − q_a(reps − Δ) (lower) / cur ≥ base − q_{1−a}(reps − Δ) (higher)
        bound = b - (lo - delta) if d == "lower" else b - (hi - delta)
    if ok:
        msg = f"{name}: {c:.6g} vs baseline {b:.6g} (bound {bound:.6g}, {tol.describe(check.stat)})"
    else:
        worse = "higher" if d == "lower" else "lower"
        msg = (f"{name} regressed: current {c:.6g} is {worse} than the bound {bound:.6g} "
               f"(baseline {b:.6g}, {d} is better, {tol.describe(check.stat)})")
    return Check(**common, bound=bound, delta=c - b, passed=ok, message=msg, interval=interval)


@dataclass(frozen=True)
class RegressResult(FrozenResult):
    kind: str = "regress"
    suite: str = ""
    suite_sha256: str = ""
    model: str = ""
    model_sha256: str | None = None
    baseline: str = ""
    baseline_model: str | None = None
    baseline_model_sha256: str | None = None
    mode: str = "compare"  # compare | update-baseline
    seed: int = 0
    passed: bool = True
    n_checks: int = 0
    n_failed: int = 0
    checks: tuple[Check, ...] = field(default_factory=tuple)
    current: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # eval → metric → value/n


def compare(suite: Suite, current: Mapping[str, Mapping[str, MetricValue]],
            baseline_values: Mapping[str, Mapping[str, MetricValue]], seed: int | None = None) -> list[Check]:
    """One Check per (eval, metric) of the suite. Bootstrap seeds differ per metric but derive from `seed`."""
    seed = suite.seed if seed is None else seed
    checks = []
    j = 0
    for ev in suite.evals:
        for m in ev.metrics:
            checks.append(compare_metric(ev.name, m, baseline_values[ev.name][m.metric],
                                         current[ev.name][m.metric], seed=seed * 1000 + 2 * j))
            j += 1
    return checks


def regress(suite: Suite, current: Mapping[str, Mapping[str, MetricValue]], baseline: Mapping[str, Any],
            model_ref: str, baseline_path: str = "", model_hash: str | None = None,
            mode: str = "compare") -> RegressResult:
    """Compare measured values with a (validated) baseline document → the suite's RegressResult."""
    values = check_baseline(suite, baseline, baseline_path or "baseline")
    checks = compare(suite, current, values)
    n_failed = sum(not c.passed for c in checks)
    return RegressResult(
        suite=str(suite.path), suite_sha256=suite.sha256, model=model_ref, model_sha256=model_hash,
        baseline=str(baseline_path), baseline_model=baseline.get("model"),
        baseline_model_sha256=baseline.get("model_sha256"), mode=mode, seed=suite.seed, passed=n_failed == 0,
        n_checks=len(checks), n_failed=n_failed, checks=tuple(checks),
        current={e: {m: {"value": v.value, "n": v.n} for m, v in ms.items()} for e, ms in current.items()},
    )


# ============================================================================ markdown
def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.4g}"


def to_markdown(result: Mapping[str, Any]) -> str:
    """A Markdown summary (for $GITHUB_STEP_SUMMARY / PR comments) from the results dict."""
    checks = result["checks"]
    ok = result["passed"]
    head = "✅ all metrics within bounds" if ok else f"❌ {result['n_failed']} of {result['n_checks']} metrics regressed"
    if result.get("mode") == "update-baseline":
        head = f"📌 baseline written: {result['baseline']}"
    lines = [
        "## interp regress",
        "",
        f"**{head}** — suite `{result['suite']}`, model `{result['model']}`, baseline `{result['baseline']}`",
        "",
        "| eval | metric | better | baseline | current | bound | tolerance | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in checks:
        arrow = "↑" if c["direction"] == "higher" else "↓"
        status = "pass" if c["passed"] else "**FAIL**"
        lines.append(f"| {c['eval']} | {c['metric']} | {arrow} | {_fmt(c['baseline'])} | {_fmt(c['current'])} | "
                     f"{_fmt(c['bound'])} | {c['tolerance']} | {status} |")
    failed = [c for c in checks if not c["passed"]]
    if failed:
        lines += ["", "### Regressions", ""] + [f"- {c['message']}" for c in failed]
    return "\n".join(lines) + "\n"


# Register the eval kinds (adapters onto the evals' pure functions).
from evals import regress_evals  # noqa: E402,F401
