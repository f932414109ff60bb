"""nanoGPT's char-level `meta.pkl` → a real Hugging Face tokenizer, read WITHOUT a general unpickle.

`meta.pkl` (data/shakespeare_char/prepare.py) is a pickled dict {'vocab_size': int, 'itos': {int: str},
'stoi': {str: int}}. `read_meta` uses a `pickle.Unpickler` whose `find_class` refuses every import, so a
pickle can build only dicts/lists/tuples/str/int/float/bool/None; anything that tries to import a global
(`os.system`, `builtins.eval`, a class) is refused with a one-line `UserError` and nothing runs.

`char_tokenizer(stoi)`: a `tokenizers` WordLevel model over single characters (every character its own
piece, ids exactly nanoGPT's `stoi`), a Fuse decoder (decode = ''.join). nanoGPT has no BOS/EOS; the
tokenizer names the newline character (else id 0) as BOS/EOS/PAD, because `TransformerBridge` otherwise ADDS
an `<|endoftext|>` token beyond the model's vocabulary (an id the embedding does not have). So prompts start
with a newline — a line start, as nanoGPT's Shakespeare windows often do — by `interp.tokens`' one BOS rule.
Characters outside the vocabulary are removed by the normalizer
(nanoGPT's `encode` would raise KeyError) — the analyses then see the text without them.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from interp.errors import UserError

_PLAIN = (dict, list, tuple, str, int, float, bool, type(None))


class _NoImports(pickle.Unpickler):
    def __init__(self, f: Any, path: str) -> None:
        super().__init__(f)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        raise UserError(f"{self.path} tries to import {module}.{name}; a nanoGPT meta.pkl holds only dicts of "
                        "str/int, so interp refuses to unpickle it (nothing was run)")

    def persistent_load(self, pid: Any) -> Any:
        raise UserError(f"{self.path} uses pickle persistent ids; not a nanoGPT meta.pkl")


def _plain(obj: Any, depth: int = 0) -> bool:
    if depth > 8 or not isinstance(obj, _PLAIN):
        return False
    if isinstance(obj, dict):
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_plain(v, depth + 1) for v in obj)
    return True


def read_meta(path: str | Path) -> dict[str, Any]:
    """The validated `stoi`/`itos`/`vocab_size` of a nanoGPT meta.pkl (restricted unpickler; see module doc)."""
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read meta file {str(path)!r}: {e.strerror or e}; pass nanoGPT's data/<dataset>/meta.pkl") from None
    try:
        obj = _NoImports(io.BytesIO(data), str(path)).load()
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 — truncated / not a pickle
        raise UserError(f"{path} is not a readable pickle ({type(e).__name__}); pass nanoGPT's meta.pkl") from None
    if not _plain(obj) or not isinstance(obj, dict) or not isinstance(obj.get("stoi"), dict):
        raise UserError(f"{path} is not a nanoGPT char meta.pkl (a dict with 'stoi', 'itos', 'vocab_size')")
    stoi = obj["stoi"]
    if not stoi or not all(isinstance(k, str) and len(k) == 1 and isinstance(v, int) for k, v in stoi.items()):
        raise UserError(f"{path}: 'stoi' must map single characters to integer ids")
    ids = sorted(stoi.values())
    if ids != list(range(len(ids))):
        raise UserError(f"{path}: 'stoi' ids must be 0..{len(ids) - 1}, each once")
    itos = obj.get("itos")
    if isinstance(itos, dict) and any(itos.get(i) != c for c, i in stoi.items()):
        raise UserError(f"{path}: 'itos' disagrees with 'stoi'")
    return {"stoi": dict(stoi), "itos": {i: c for c, i in stoi.items()}, "vocab_size": len(stoi)}


def char_tokenizer(stoi: dict[str, int]) -> Any:
    """A `PreTrainedTokenizerFast` with ids exactly `stoi` (one token per character)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel(vocab=dict(stoi), unk_token=None))
    allowed = "".join(f"\\x{{{ord(c):x}}}" for c in sorted(stoi))
    tk.normalizer = normalizers.Replace(Regex(f"[^{allowed}]"), "")  # drop characters nanoGPT never saw
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    special = "\n" if "\n" in stoi else min(stoi, key=stoi.__getitem__)
    return PreTrainedTokenizerFast(tokenizer_object=tk, clean_up_tokenization_spaces=False, bos_token=special,
                                   eos_token=special, pad_token=special)
