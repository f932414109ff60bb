"""The one tokenization rule: BOS, prompt ids, continuations, eval windows.

Every analysis and eval turns text into model inputs here, so `interp attention`, `interp ablate`,
`interp probe coref`, `interp eval perplexity` and `interp regress` feed a model the same ids for the same text.

The rule (lm-eval-harness's prefix-token convention):
- **BOS** = the tokenizer's `bos_token_id`, else its `eos_token_id`, else none. For the reference model (and
  GPT-2) that is `<|endoftext|>` — the token the trainer puts between documents, so a prompt starts like a
  document did in training; for Gemma it is `<bos>`, which Gemma needs.
- Text is tokenized with `add_special_tokens=False` and BOS is prepended once, by us — never twice, whatever
  the tokenizer's own default (Gemma's tokenizer adds BOS itself, GPT-2's does not).
- Long prompts keep their LAST tokens (and BOS).
- Eval windows for mean-loss metrics: documents joined with EOS into one stream, cut into windows of
  BOS + (T − 1) stream tokens. Perplexity windows (`plan_windows`) are strided over each document, with the final
  window right-aligned (it starts at max(0, n − context) and scores only the targets not scored before).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from interp.errors import UserError


# ----------------------------------------------------------------------------- BOS and plain encoding
def bos_id(tokenizer: Any) -> int | None:
    """The id every prompt/window starts with: BOS, else EOS, else None."""
    for attr in ("bos_token_id", "eos_token_id"):
        v = getattr(tokenizer, attr, None)
        if v is not None:
            return int(v)
    return None


def _require(tokenizer: Any) -> Any:
    if tokenizer is None:
        raise UserError("this model has no tokenizer; save one next to the weights (tokenizer.save_pretrained)")
    return tokenizer


def encode(tokenizer: Any, text: str, *, prepend_bos: bool = True) -> list[int]:
    """`text` → ids (no special tokens from the tokenizer), with BOS first when `prepend_bos` and one exists."""
    ids = [int(i) for i in _require(tokenizer)(text, add_special_tokens=False)["input_ids"]]
    bos = bos_id(tokenizer) if prepend_bos else None
    return ([bos] if bos is not None else []) + ids


def encode_with_offsets(tokenizer: Any, text: str, *, prepend_bos: bool = True
                        ) -> tuple[list[int], list[tuple[int, int]]]:
    """Like `encode`, plus each token's character span in `text` (BOS owns no characters: (0, 0))."""
    try:
        enc = _require(tokenizer)(text, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError:
        raise UserError("the model's tokenizer gives no offsets mapping (not a fast tokenizer); "
                        "save the model with a tokenizers-backed (fast) tokenizer") from None
    ids = [int(i) for i in enc["input_ids"]]
    offs = [(int(a), int(b)) for a, b in enc["offset_mapping"]]
    bos = bos_id(tokenizer) if prepend_bos else None
    if bos is not None:
        ids, offs = [bos, *ids], [(0, 0), *offs]
    return ids, offs


# ----------------------------------------------------------------------------- prompts
@dataclass(frozen=True)
class Prompt:
    """A prompt's model input: `ids` (BOS first when there is one), and what truncation dropped."""

    ids: tuple[int, ...]
    bos: bool  # ids[0] is the BOS we prepended
    n_prompt_tokens: int  # length before truncation (BOS included)
    n_dropped: int  # tokens dropped from the front (never BOS)

    @property
    def truncated(self) -> bool:
        return self.n_dropped > 0


def encode_prompt(tokenizer: Any, text: str, *, n_ctx: int, max_tokens: int | None = None, reserve: int = 0,
                  prepend_bos: bool = True) -> Prompt:
    """Prompt text → at most min(n_ctx − reserve, max_tokens) ids, keeping the LAST tokens and BOS.

    `reserve` keeps positions free after the prompt (e.g. 1 for the next token a generation appends).
    """
    if not isinstance(text, str) or not text.strip():
        raise UserError("the prompt is empty; pass some text")
    ids = encode(tokenizer, text, prepend_bos=False)
    if not ids:
        raise UserError(f"the prompt {text[:40]!r} tokenizes to nothing; pass some other text")
    bos = bos_id(tokenizer) if prepend_bos else None
    head = [bos] if bos is not None else []
    limit = int(n_ctx) - int(reserve)
    if max_tokens is not None:
        limit = min(limit, int(max_tokens))
    if limit <= len(head):
        raise UserError(f"a limit of {limit} tokens leaves no room for the prompt; allow at least {len(head) + 1}")
    keep = limit - len(head)
    n_orig = len(head) + len(ids)
    body = ids[-keep:]
    return Prompt(ids=tuple(head + body), bos=bool(head), n_prompt_tokens=n_orig, n_dropped=len(ids) - len(body))


def continuation_ids(tokenizer: Any, prefix: str, continuation: str) -> list[int]:
    """Ids of `continuation` as the tokenizer produces them right after `prefix`.

    Cut from the tokenization of prefix + continuation when that extends the prefix's own ids (so merges at the
    boundary match what the model saw), else `continuation` tokenized alone.
    """
    pre = encode(tokenizer, prefix, prepend_bos=False)
    full = encode(tokenizer, prefix + continuation, prepend_bos=False)
    if full[: len(pre)] == pre and len(full) > len(pre):
        return full[len(pre):]
    return encode(tokenizer, continuation, prepend_bos=False)


def _leading_space(after: str, word: str) -> str:
    if word[:1].isspace() or not after or after[-1:].isspace():
        return word
    return " " + word


def single_token(tokenizer: Any, word: str, *, after: str, what: str = "word") -> int:
    """The one id of `word` as it follows the text `after`, with the leading space the tokenizer gives it.

    UserError (naming `what` and how it tokenizes) when the word is empty or not a single token there.
    """
    if not isinstance(word, str) or not word.strip():
        raise UserError(f"the {what} is empty; give a word")
    spelled = _leading_space(after, word)
    ids = continuation_ids(tokenizer, after, spelled)
    if len(ids) != 1:
        pieces = [tokenizer.decode([i]) for i in ids]
        raise UserError(f"the {what} {word!r} is not a single token after the prompt: {spelled!r} tokenizes to "
                        f"{len(ids)} tokens {pieces!r}; choose a word that is one token")
    return ids[0]


# ----------------------------------------------------------------------------- eval windows
def eval_windows(tokenizer: Any, documents: Sequence[str], context: int, max_tokens: int) -> Any:
    """Documents → non-overlapping windows (N, T) of BOS + T−1 stream tokens (T ≤ context), N·T ≤ max_tokens.

    The stream is the documents' ids, each followed by EOS (as in training). Without a BOS the windows are T
    plain stream tokens.
    """
    import torch

    bos = bos_id(tokenizer)
    need = 2 + (bos is not None)
    if int(context) < need:
        raise UserError(f"the window length (context) must be at least {need} tokens, got {context}")
    if int(max_tokens) < need:
        raise UserError(f"max_tokens must be at least {need}, got {max_tokens}")
    eos = getattr(tokenizer, "eos_token_id", None)
    stream: list[int] = []
    for doc in documents:
        stream.extend(encode(tokenizer, doc, prepend_bos=False))
        if eos is not None:
            stream.append(int(eos))
        if len(stream) >= max_tokens:
            break
    if bos is None:
        stream = stream[:max_tokens]
        if len(stream) < 2:
            raise UserError("the eval text has fewer than 2 tokens; give it more text")
        t = min(int(context), len(stream))
        n = len(stream) // t
        return torch.tensor(stream[: n * t], dtype=torch.long).view(n, t)
    if not stream:
        raise UserError("the eval text has no tokens; give it more text")
    t = min(int(context), len(stream) + 1, int(max_tokens))  # BOS + t-1 stream tokens per window
    n = max(1, min(len(stream) // (t - 1), int(max_tokens) // t))
    body = torch.tensor(stream[: n * (t - 1)], dtype=torch.long).view(n, t - 1)  # (N, T-1)
    return torch.cat([torch.full((n, 1), bos, dtype=torch.long), body], dim=1)  # (N, T)


@dataclass(frozen=True)
class Window:
    """One perplexity window over a document's input sequence."""

    doc: int  # index into the scored documents
    start: int  # first position of the window in the document sequence
    end: int  # one past the last position
    n_scored: int  # the last n_scored targets of the window (positions end-n_scored .. end-1)


def plan_windows(seq_len: int, context: int, stride: int, doc: int = 0) -> list[Window]:
    """Windows over `seq_len` positions that together score positions 1..seq_len−1 exactly once.

    Windows start every `stride` positions; the final one is right-aligned (starts at max(0, seq_len − context))
    so the last targets get a full context, and it scores only targets no earlier window scored.
    """
    if not 1 <= stride <= context - 1:
        raise UserError(f"stride must be in 1..context-1 = 1..{context - 1}, got {stride}")
    out: list[Window] = []
    if seq_len < 2:
        return out
    begin, prev_end = 0, 1  # position 0 has no context: never a target
    while True:
        if begin + context >= seq_len:  # final window: right-aligned
            begin = max(0, seq_len - context)
            out.append(Window(doc, begin, seq_len, seq_len - prev_end))
            return out
        end = begin + context
        out.append(Window(doc, begin, end, end - prev_end))
        prev_end = end
        begin += stride


__all__ = ["Prompt", "Window", "bos_id", "continuation_ids", "encode", "encode_prompt", "encode_with_offsets",
           "eval_windows", "plan_windows", "single_token"]
