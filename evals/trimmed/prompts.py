"""Prompts and label tokens for trimmed-head classification (all tokenization through `interp.tokens`).

    template  "Review: {text}\nSentiment:"         labels  negative, positive
    prompt    "Review: one long string of cliches .\nSentiment:"   →  next token " negative" ?

A label's token is the first token of " " + label (the label follows the template after a space, or without
one when the template ends in whitespace); two labels sharing a first token are an error. Prompts are
BOS + the rendered text (`interp.tokens.encode_prompt`); a prompt longer than the budget keeps its LAST
tokens (the template's tail that the label must follow). Long *texts* can instead be capped first
(`max_text_tokens`): the text keeps its FIRST N tokens (an article's opening), then goes into the template.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.datasets import Example
from interp import tokens
from interp.errors import UserError

DEFAULT_TEMPLATE = "Review: {text}\nSentiment:"
CONTENT_FREE = ("N/A", "", "[MASK]")
SHOT_SEPARATOR = "\n\n"


def label_separator(template: str) -> str:
    """What goes between the rendered template and the label word."""
    return "" if template[-1:].isspace() else " "


def render(template: str, text: str) -> str:
    """The template with `text` in place of {text}."""
    return template.replace("{text}", text)


def label_token_ids(tokenizer, labels: Sequence[str], template: str) -> list[dict[str, Any]]:
    """First token of each label word as it follows the template; shared first tokens are an error."""
    sep = label_separator(template)
    out = []
    for lab in labels:
        ids = tokens.encode(tokenizer, sep + lab, prepend_bos=False)
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
    """k-shot demonstrations: each rendered and followed by its label word, joined with blank lines."""
    sep = label_separator(template)
    return "".join(render(template, ex.text) + sep + ex.label + SHOT_SEPARATOR for ex in shots)


def cap_text(tokenizer, text: str, max_text_tokens: int | None) -> tuple[str, bool]:
    """(`text` cut to its first `max_text_tokens` tokens, whether it was cut)."""
    if max_text_tokens is None:
        return text, False
    ids = tokens.encode(tokenizer, text, prepend_bos=False)
    if len(ids) <= max_text_tokens:
        return text, False
    return tokenizer.decode(ids[:max_text_tokens]), True


def encode(tokenizer, prompts: Sequence[str], max_tokens: int) -> tuple[list[list[int]], int]:
    """Token ids per prompt (BOS first), left-truncated to `max_tokens` keeping BOS; n truncated."""
    out, n_trunc = [], 0
    for p in prompts:
        enc = tokens.encode_prompt(tokenizer, p, n_ctx=max_tokens)
        n_trunc += enc.truncated
        out.append(list(enc.ids))
    return out, n_trunc
