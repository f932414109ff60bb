"""nanoGPT ckpt.pt → HF GPT-2 dir: parity with the faithful nanoGPT forward (HF and TransformerBridge logits),
restricted meta.pkl unpickling, weights_only refusal, cached import, a folder of ckpt_*.pt as a series."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from interp import hooked
from interp.errors import UserError
from interp.importers import meta as M
from interp.importers import nanogpt as N
from tests.unit.series_helpers import STOI, char_meta, nano_checkpoint

CASES = [  # (bias, compiled, vocab_size, tokenizer)
    pytest.param(True, False, len(STOI), "char", id="bias-char"),
    pytest.param(False, False, len(STOI), "char", id="nobias-char"),
    pytest.param(True, True, len(STOI) + 6, "char", id="compiled-padded-char"),
    pytest.param(False, True, 320, "bpe", id="nobias-compiled-paddedbpe"),  # toy BPE (300) padded to a multiple of 64
]


def _logits_all(ref, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return ref(ids)[0]  # (B, T, vocab): every position


@pytest.mark.parametrize("bias, compiled, vocab, tok_kind", CASES)
def test_import_parity_hf_and_bridge(tmp_path, toy_tokenizer, bias, compiled, vocab, tok_kind):
    ck = tmp_path / "ckpt.pt"
    ref = nano_checkpoint(ck, vocab_size=vocab, bias=bias, compiled=compiled, mask_buffer=not bias)
    kw = {"meta": char_meta(tmp_path / "meta.pkl")} if tok_kind == "char" else {"tokenizer": tmp_path / "tok"}
    if tok_kind == "bpe":
        toy_tokenizer.save_pretrained(tmp_path / "tok")
    out = tmp_path / "hf"
    r = N.import_nanogpt(ck, out, **kw)
    assert r.compiled_prefix is compiled and r.tied and r.model_args["vocab_size"] == vocab and r.iter_num == 100
    assert r.tokens_seen == 100 * 12 * 32 and r.best_val_loss == pytest.approx(1.25)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["vocab_size"] == vocab and cfg["n_positions"] == 32 and cfg["activation_function"] == "gelu"
    assert cfg["layer_norm_epsilon"] == 1e-5 and not list(out.glob("*.bin")) and list(out.glob("*.safetensors"))
    ids = torch.randint(0, len(STOI), (2, 32), generator=torch.Generator().manual_seed(1))
    want = _logits_all(ref, ids)
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel.from_pretrained(out).eval()
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, want, atol=1e-5, rtol=1e-5)
    bridge = hooked.load(str(out))
    with torch.no_grad():
        torch.testing.assert_close(bridge(ids), want, atol=1e-5, rtol=1e-5)
    if tok_kind == "char":  # ids are nanoGPT's stoi; BOS = '\n' (in the vocab; the bridge adds no token)
        text = "Hello, world.\nOK"
        assert bridge.tokenizer(text, add_special_tokens=False)["input_ids"] == [STOI[c] for c in text]
        assert bridge.tokenizer.decode([STOI[c] for c in text]) == text
        from interp import tokens

        assert tokens.bos_id(bridge.tokenizer) == STOI["\n"] and len(bridge.tokenizer) == len(STOI)


def test_untied_lm_head_kept(tmp_path):
    ref = nano_checkpoint(tmp_path / "c.pt", untied=True)
    r = N.import_nanogpt(tmp_path / "c.pt", tmp_path / "o", meta=char_meta(tmp_path / "m.pkl"))
    assert not r.tied
    ids = torch.randint(0, len(STOI), (1, 16), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(hooked.load(str(tmp_path / "o"))(ids), _logits_all(ref, ids), atol=1e-5, rtol=1e-5)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_meta_pickle_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "meta.pkl"
    bad.write_bytes(pickle.dumps({"stoi": {"a": 0}, "x": _Evil()}))
    with pytest.raises(UserError, match=r"tries to import (posix|os)\.system"):
        M.read_meta(bad)
    assert not (tmp_path / "PWNED").exists()
    bad.write_bytes(pickle.dumps({"stoi": {"ab": 0}}))
    with pytest.raises(UserError, match="single characters"):
        M.read_meta(bad)
    bad.write_bytes(b"not a pickle")
    with pytest.raises(UserError, match="not a readable pickle"):
        M.read_meta(bad)
    assert M.read_meta(char_meta(tmp_path / "ok.pkl"))["vocab_size"] == len(STOI)


def test_char_tokenizer_drops_unknown_characters():
    tok = M.char_tokenizer({"a": 0, "b": 1, "\n": 2})
    assert tok("ab\nzb", add_special_tokens=False)["input_ids"] == [0, 1, 2, 1]


def test_checkpoint_errors(tmp_path):
    import numpy as np

    torch.save({"model": {}, "model_args": {}, "best_val_loss": np.float64(1.0)}, tmp_path / "np.pt")
    with pytest.raises(UserError, match=r"needs numpy\..*scalar.*weights_only=True"):
        N.read_checkpoint(tmp_path / "np.pt")
    torch.save({"model": {}}, tmp_path / "nokeys.pt")
    with pytest.raises(UserError, match="missing key.*model_args"):
        N.read_checkpoint(tmp_path / "nokeys.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00junk")
    with pytest.raises(UserError, match="not a readable torch checkpoint"):
        N.read_checkpoint(tmp_path / "junk.pt")
    nano_checkpoint(tmp_path / "ok.pt")
    with pytest.raises(UserError, match="no tokenizer"):
        N.import_nanogpt(tmp_path / "ok.pt", tmp_path / "o")
    assert not (tmp_path / "o").exists()
    ck = torch.load(tmp_path / "ok.pt", weights_only=True)
    ck["model"].pop("transformer.h.1.mlp.c_fc.weight")
    torch.save(ck, tmp_path / "missing.pt")
    with pytest.raises(UserError, match="missing tensor transformer.h.1.mlp.c_fc.weight"):
        N.import_nanogpt(tmp_path / "missing.pt", tmp_path / "o", meta=char_meta(tmp_path / "m.pkl"))
    assert not (tmp_path / "o").exists()


def test_cached_import_and_series_of_ckpt_files(tmp_path, monkeypatch):
    from interp import series as S

    monkeypatch.setenv("INTERP_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "out-shakespeare-char"
    folder.mkdir()
    for i, it in enumerate((2000, 250, 1000)):
        nano_checkpoint(folder / f"ckpt_{it}.pt", iter_num=it, seed=i)
    char_meta(folder / "meta.pkl")
    s = S.as_series(str(folder), meta=str(folder / "meta.pkl"))
    assert s.kind == "nanogpt" and [c.step for c in s.checkpoints] == [250, 1000, 2000]
    assert [c.tokens_seen for c in s.checkpoints] == [it * 12 * 32 for it in (250, 1000, 2000)]
    assert s.default_x() == "tokens"
    cached = sorted((tmp_path / "cache" / "nanogpt").iterdir())
    assert len(cached) == 3
    mtimes = [(d / "nanogpt.json").stat().st_mtime_ns for d in cached]
    S.as_series(str(folder), meta=str(folder / "meta.pkl"))  # second time: from the cache, nothing re-imported
    assert [(d / "nanogpt.json").stat().st_mtime_ns for d in cached] == mtimes


def test_cli_import_file_and_folder(tmp_path, capsys):
    import json as _json

    from interp.cli import run

    folder = tmp_path / "out-x"
    folder.mkdir()
    for it in (500, 100):
        nano_checkpoint(folder / f"ckpt_{it}.pt", iter_num=it, seed=it)
    meta = char_meta(tmp_path / "meta.pkl")
    assert run(["import", "nanogpt", str(folder / "ckpt_100.pt"), str(tmp_path / "one"), "--meta", str(meta), "--json"]) == 0
    d = _json.loads(capsys.readouterr().out)
    assert d["kind"] == "nanogpt_import" and d["iter_num"] == 100 and (tmp_path / "one" / "model.safetensors").exists()
    assert run(["import", "nanogpt", str(folder), str(tmp_path / "many"), "--meta", str(meta)]) == 0
    from interp import series as S

    s = S.as_series(str(tmp_path / "many"))  # the imported folder is a series ordered by step
    assert [c.label for c in s.checkpoints] == ["ckpt_100", "ckpt_500"] and s.checkpoints[1].tokens_seen == 500 * 12 * 32
