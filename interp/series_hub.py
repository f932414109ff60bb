"""Hub revisions as a checkpoint series: `org/name@step0,step1000`, `org/name@log`, `org/name@every:N`.

Explicit revisions need no network until loading (then `CheckpointSeries.preflight` / `load_checkpoint` fail
fast offline with `interp.hooked`'s hub error); `@log` / `@every:N` list the repo's branches with
`huggingface_hub.list_repo_refs` (offline: the same error, before anything else). Tokens seen are known for
Pythia (2,097,152 tokens per step), else unknown (x axis: step).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from interp.errors import UserError

_HUB_SPEC = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.\-]*/[\w.\-]+)@(?P<sel>.*)$")
_REV = re.compile(r"^[\w.\-/]+$")
_STEP_NAME = re.compile(r"^step[-_]?(\d+)$")
TOKENS_PER_STEP = {"EleutherAI/pythia-": 2_097_152}  # Pythia: batch 1024 × 2048 tokens (Biderman et al. 2023)


def parse_hub_spec(text: str) -> tuple[str, str]:
    """'org/name@sel' -> ('org/name', 'sel'); the selector is checked by `hub_revisions`."""
    m = _HUB_SPEC.match(text.strip())
    if not m or not m.group("sel"):
        raise UserError(f"revision spec {text!r} does not parse; use org/name@rev1,rev2 or org/name@log "
                        "or org/name@every:N")
    return m.group("repo"), m.group("sel")


def _list_refs(repo: str) -> list[str]:
    """Branch names of a hub repo (tests stub this)."""
    from huggingface_hub import list_repo_refs

    return [b.name for b in list_repo_refs(repo).branches]


def select_revisions(selector: str, available: Sequence[str] | None) -> list[str]:
    """Revisions named by `selector` ('step0,step1000' | 'log' | 'every:N'), in step order when all have steps.

    `log`: step0 if present, and for every k = 0..log2(max step) the available step closest to 2^k in log
    space (Pythia's own saved steps are 0, 1, 2, 4, ..., 512, then every 1000). `every:N`: steps divisible by N.
    """
    sel = selector.strip()
    if sel == "log" or re.fullmatch(r"every:\d+", sel):
        assert available is not None
        steps = sorted({int(m.group(1)) for r in available if (m := _STEP_NAME.match(r))})
        name = {int(m.group(1)): r for r in available if (m := _STEP_NAME.match(r))}
        if not steps:
            raise UserError("the repo has no stepN revisions to choose from; name revisions explicitly")
        if sel == "log":
            pos = [s for s in steps if s > 0]
            picked = {0} & set(steps)
            for k in range(int(math.log2(pos[-1])) + 1 if pos else 0):
                picked.add(min(pos, key=lambda s: (abs(math.log2(s) - k), s)))
        else:
            n = int(sel.split(":")[1])
            if n < 1:
                raise UserError(f"every:N needs N >= 1, got {sel!r}")
            picked = {s for s in steps if s % n == 0}
        return [name[s] for s in sorted(picked)]
    revs = [r.strip() for r in sel.split(",")]
    for r in revs:
        if not r or not _REV.match(r):
            raise UserError(f"revision {r!r} in {selector!r} does not parse; use names like step1000 or main")
    if len(set(revs)) != len(revs):
        raise UserError(f"a revision is listed twice in {selector!r}")
    steps = [_STEP_NAME.match(r) for r in revs]
    if all(steps):
        revs = [r for _, r in sorted(zip([int(m.group(1)) for m in steps], revs, strict=True))]  # type: ignore[union-attr]
    return revs


def hub_checkpoints(text: str) -> list[dict]:
    """'org/name@step0,step1000' | '@log' | '@every:N' -> the fields of each hub revision's `Checkpoint`
    (interp.series builds the series: this module stays below it)."""
    from interp import hooked

    repo, sel = parse_hub_spec(text)
    available = None
    if sel == "log" or sel.startswith("every:"):
        if not re.fullmatch(r"log|every:\d+", sel):
            raise UserError(f"revision spec {text!r} does not parse; use @every:N with an integer N")
        if not hooked.hub_reachable():
            raise hooked.hub_error(repo, ConnectionError("hub unreachable"))
        try:
            available = _list_refs(repo)
        except Exception as e:  # noqa: BLE001
            raise hooked.hub_error(repo, e) from None
    revs = select_revisions(sel, available)
    per = next((v for k, v in TOKENS_PER_STEP.items() if repo.startswith(k)), None)
    cks = []
    for r in revs:
        m = _STEP_NAME.match(r)
        step = int(m.group(1)) if m else None
        cks.append({"label": r, "ref": repo, "step": step, "revision": r,
                    "tokens_seen": step * per if per is not None and step is not None else None})
    return cks
