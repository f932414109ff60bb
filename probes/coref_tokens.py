"""Token view of a coreference example: which tokens are the pronoun, antecedent and distractor.

All tokenization goes through `interp.tokens` (the one BOS/continuation rule). Split out of probes/coref.py,
which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from interp import tokens as token_rule
from interp.errors import UserError
from probes.coref_data import CorefExample


@dataclass(frozen=True)
class Encoded:
    """Token view of one example. Indices count the BOS token when there is one."""

    ids: tuple[int, ...]
    query: int
    antecedent: tuple[int, ...]
    distractor: tuple[int, ...]
    pronoun: tuple[int, ...]


def word_tokens(offsets: Sequence[tuple[int, int]], span: tuple[int, int]) -> list[int]:
    """Indices of the tokens whose character span overlaps `span` = [start, end) (special tokens: (0, 0))."""
    s, e = span
    return [i for i, (a, b) in enumerate(offsets) if b > a and max(a, s) < min(b, e)]


def bos_id(bridge) -> int | None:
    """The BOS id to prepend (`interp.tokens.bos_id`), or None when the bridge says not to prepend one."""
    tok = bridge.tokenizer
    if getattr(bridge.cfg, "default_prepend_bos", True):
        return token_rule.bos_id(tok)  # the one rule: BOS, else EOS
    return None




def encode(tokenizer, ex: CorefExample, bos: int | None, n_ctx: int, query: str = "first") -> Encoded:
    """Map the example's words to token indices (rules in the module doc). UserError on impossible rows."""
    spans = ex.spans()
    ids, offs = token_rule.encode_with_offsets(tokenizer, ex.text, prepend_bos=False)
    if bos is not None:
        ids, offs = [bos, *ids], [(0, 0), *offs]  # BOS owns no characters
    at = f"{ex.where}: " if ex.where else ""
    if len(ids) > n_ctx:
        raise UserError(f"{at}text is {len(ids)} tokens, longer than the model context {n_ctx}; shorten it")
    tokens = {role: word_tokens(offs, spans[role]) for role in ("pronoun", "antecedent", "distractor")}
    for role, word in (("pronoun", ex.pronoun), ("antecedent", ex.antecedent), ("distractor", ex.distractor)):
        if not tokens[role]:
            raise UserError(f"{at}{role} {word!r} maps to no token; check the text")
    q = tokens["pronoun"][0] if query == "first" else tokens["pronoun"][-1]
    a, d = set(tokens["antecedent"]), set(tokens["distractor"])
    if a & d or q in a or q in d:
        raise UserError(f"{at}the tokenizer merges the pronoun, antecedent or distractor into one token "
                        f"({ex.pronoun!r}, {ex.antecedent!r}, {ex.distractor!r}); separate the words")
    return Encoded(ids=tuple(int(i) for i in ids), query=q, antecedent=tuple(sorted(a)),
                   distractor=tuple(sorted(d)), pronoun=tuple(tokens["pronoun"]))


def behaviour_inputs(tokenizer, ex: CorefExample, bos: int | None) -> tuple[list[int], list[int], list[int]] | None:
    """(prefix ids, expected-continuation ids, contrast-continuation ids); None without a contrast pronoun.

    Continuations are the whitespace before the pronoun + the pronoun / contrast. They are cut from the
    tokenization of prefix + continuation when that starts with the prefix's tokens (so merges at the
    boundary match what the model saw in training), else tokenized alone.
    """
    if ex.contrast is None:
        return None
    start = ex.spans()["pronoun"][0]
    prefix = ex.text[:start].rstrip()  # never empty: the antecedent precedes the pronoun
    ws = ex.text[len(prefix):start]
    pre = token_rule.encode(tokenizer, prefix, prepend_bos=False)

    def cont(word: str) -> list[int]:
        return token_rule.continuation_ids(tokenizer, prefix, ws + word)

    head = [bos] if bos is not None else []
    return head + pre, cont(ex.expected), cont(ex.contrast)


def _pad(seqs: Sequence[Sequence[int]], pad: int) -> torch.Tensor:
    T = max(len(s) for s in seqs)
    return torch.tensor([list(s) + [pad] * (T - len(s)) for s in seqs], dtype=torch.long)  # (B, T)
