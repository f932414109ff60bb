"""One token rule: every analysis tokenizes the same prompt to the same ids (interp.tokens), on a GPT-2-style
tokenizer (BOS = EOS = <|endoftext|>, not added by the tokenizer) and a Gemma-style one (a dedicated <bos>
that the tokenizer itself adds by default — it must not end up twice)."""

from __future__ import annotations

import pytest

from interp import tokens

PROMPT = "The cat sat on the mat and the dog"


@pytest.fixture(scope="module")
def gemma_style_dir(tmp_path_factory, tiny_gemma_dir):
    """The tiny Gemma with a tokenizer whose post-processor adds a dedicated <bos> (like Gemma's)."""
    import shutil

    from tokenizers import processors
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("gemma_style")
    for f in tiny_gemma_dir.iterdir():
        if f.suffix in (".json", ".safetensors") and "token" not in f.name:
            shutil.copy(f, d / f.name)
    base = AutoTokenizer.from_pretrained(tiny_gemma_dir)
    backend = base.backend_tokenizer
    # reuse the (unused by the toy text) id of "<|endoftext|>" for <eos>; add <bos> as a new special id... kept
    # inside the model's vocab by re-using the last ordinary token id
    vocab = backend.get_vocab()
    bos_tok = max(vocab, key=vocab.get)
    bos_id = vocab[bos_tok]
    backend.post_processor = processors.TemplateProcessing(single=f"{bos_tok} $A", special_tokens=[(bos_tok, bos_id)])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos_tok, eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>")
    tok.save_pretrained(d)
    loaded = AutoTokenizer.from_pretrained(d)
    assert loaded.bos_token_id == bos_id != loaded.eos_token_id
    assert loaded(PROMPT)["input_ids"][0] == bos_id  # the tokenizer adds BOS itself, like Gemma's
    return d


@pytest.fixture(scope="module", params=["gpt2-style", "gemma-style"])
def bridge(request, tiny_gpt2_dir, gemma_style_dir):
    from interp import hooked

    return hooked.load(str(tiny_gpt2_dir if request.param == "gpt2-style" else gemma_style_dir))


def _expected(bridge) -> list[int]:
    tok = bridge.tokenizer
    body = tok(PROMPT, add_special_tokens=False)["input_ids"]
    return [tokens.bos_id(tok), *body]


def test_rule_bos_once(bridge):
    ids = tokens.encode(bridge.tokenizer, PROMPT)
    assert ids == _expected(bridge)
    assert ids.count(tokens.bos_id(bridge.tokenizer)) == 1


def test_every_analysis_tokenizes_the_prompt_alike(bridge):
    from evals.perplexity import tokenize_documents
    from evals.trimmed.prompts import encode as trimmed_encode
    from interp.ablation import AblationConfig
    from interp.ablation.ablate import prompt_ids as ablation_prompt_ids
    from interp.attention.maps import _tokenize as attention_tokenize
    from interp.decoding import generate_text

    want = _expected(bridge)
    tok = bridge.tokenizer
    got = {
        "attention": attention_tokenize(bridge, PROMPT, None, None)["ids"][0].tolist(),
        "ablation": ablation_prompt_ids(bridge, AblationConfig(prompt=PROMPT)),
        "perplexity": tokenize_documents(tok, [PROMPT])[0][0].seq,
        "trimmed": trimmed_encode(tok, [PROMPT], 64)[0][0],
        "sensitivity/generate": list(tokens.encode_prompt(tok, PROMPT, n_ctx=64, reserve=1).ids),
    }
    hf = bridge.original_model
    hf.tokenizer = tok
    gen = generate_text(hf, PROMPT, max_new_tokens=1)
    got["generate (count)"] = want if gen.prompt_tokens == len(want) else [gen.prompt_tokens]
    for name, ids in got.items():
        assert list(ids) == want, f"{name} tokenizes differently: {ids} vs {want}"


def test_coref_and_eval_windows_start_with_the_rule_bos(bridge):
    from probes.coref_data import load_probe_set
    from probes.coref_tokens import bos_id as coref_bos
    from probes.coref_tokens import encode as coref_encode

    tok = bridge.tokenizer
    _, examples = load_probe_set("builtin-small")
    ex = examples[0]
    enc = coref_encode(tok, ex, coref_bos(bridge), int(bridge.cfg.n_ctx))
    assert list(enc.ids) == tokens.encode(tok, ex.text)
    w = tokens.eval_windows(tok, [PROMPT * 3], 16, 64)
    assert (w[:, 0] == tokens.bos_id(tok)).all()
