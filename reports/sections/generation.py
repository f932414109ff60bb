"""Section for one generation (`interp generate --out`)."""

from __future__ import annotations

from reports.collect import Stage
from reports.document import Preformatted
from reports.sections.base import Built, Finding, SectionSpec, headline, num, require


def visible(text: str) -> str:
    """Generated text as is — unless it is empty or only whitespace, which would look like nothing."""
    return text if text.strip() else f"{text!r}  (only whitespace: {len(text)} characters)"


def guide(stage: Stage) -> str:
    return ("The model's continuation of the prompt under the stated decoding (greedy = always the most likely "
            "token; tN = temperature N sampling; kN = top-k sampling; seeded). distinct-n is the fraction of "
            "generated n-grams that are unique: 1.0 means no repetition, values near 0 mean the model loops "
            "(common for greedy decoding of small models).")


def findings(stage: Stage) -> list[Finding]:
    d = stage.data
    d2 = num(d, "distinct_2")
    if d2 is None:
        return [Finding("Generation", str(d.get("decoding", "")), "no diversity measured")]
    verdict = "repetitive (loops)" if d2 < 0.5 else "little repetition"
    return [Finding(f"Generation ({d.get('decoding', '?')})", f"distinct-2 {d2:.2f}", verdict,
                    baseline="1.0 = no repeated bigrams")]


def build(stage: Stage) -> Built:
    d = stage.data
    b = Built()
    require(d, "completion", "str")
    if isinstance(d.get("prompt"), str):
        b.blocks.append(Preformatted(d["prompt"], caption="prompt"))
        b.used.add("prompt")
    if isinstance(d.get("completion"), str):
        b.blocks.append(Preformatted(visible(d["completion"]), caption="completion"))
        b.used.add("completion")
    keys = [k for k in ("model", "decoding", "seed", "prompt_tokens", "distinct_1", "distinct_2") if k in d]
    if keys:
        b.blocks.append(headline([(k, d[k]) for k in keys], caption="settings and diversity"))
        b.used.update(keys)
    return b


SECTION = SectionSpec(kind="generation", title="Generation", order=20, guide=guide, findings=findings, build=build)
