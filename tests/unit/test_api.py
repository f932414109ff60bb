"""The public Python API (`import interp`): lazy, documented, strict about keywords, and the CLI's own path."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import interp
from interp.results import read_json
from tests.cli_helpers import run_cli
from tests.conftest import TOY_TEXT

ROOT = Path(__file__).resolve().parents[2]


def test_import_interp_imports_no_heavy_module():
    code = ("import sys, interp; interp.__all__; interp.UserError; "
            "print(sorted(m for m in ('torch', 'transformers', 'matplotlib', 'transformer_lens') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_public_names_exist_with_docstrings_and_type_hints():
    assert set(interp.__all__) >= {"load", "train", "attention", "attention_evolution", "ablate", "ablate_sweep",
                                   "perplexity", "sensitivity", "trimmed", "regress", "UserError"}
    assert set(dir(interp)) >= set(interp.__all__)
    for name in interp.__all__:
        obj = getattr(interp, name)
        assert callable(obj), name
        if isinstance(obj, type):
            continue
        fn = interp._function(name)
        assert (fn.__doc__ or "").strip(), f"interp.{name} has no docstring"
        sig = inspect.signature(obj)
        missing = [p for p in sig.parameters.values()
                   if p.annotation is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        assert not missing, f"interp.{name}: parameters without type hints: {[p.name for p in missing]}"
        assert sig.return_annotation is not inspect.Signature.empty, f"interp.{name} has no return annotation"
    assert interp.UserError is __import__("interp.errors", fromlist=["UserError"]).UserError
    with pytest.raises(AttributeError):
        interp.no_such_function  # noqa: B018


def test_subpackages_named_like_functions_stay_modules():
    from interp import attention as attn
    from interp import train as train_mod

    assert attn.AttentionConfig is not None and train_mod.TrainConfig is not None  # module attributes still work
    assert callable(interp.attention) and callable(interp.train)
    assert "prompt" in inspect.signature(interp.attention).parameters
    assert "config" in inspect.signature(interp.train).parameters  # train(config: TrainConfig, run_dir, ...)


def test_unknown_keyword_raises_type_error_naming_the_valid_ones():
    with pytest.raises(TypeError, match=r"'hedas'.*valid keyword arguments: .*\bheads\b.*\bmethod\b"):
        interp.ablate("anything", hedas="0.1")
    with pytest.raises(TypeError, match=r"'layer'.*\blayers\b"):
        interp.attention("anything", "a prompt", layer=1)
    with pytest.raises(TypeError, match=r"'epoch'.*\bepochs\b"):
        interp.train("runs/x", epoch=1)


def test_user_error_has_the_cli_message(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(interp.UserError) as e:
        interp.load(missing)
    r = run_cli(["info", missing], cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == f"error: {e.value}"
    with pytest.raises(interp.UserError, match="unknown device"):
        interp.load(missing, device="gpu0")


def test_result_plot_save_and_html_summary(tiny_bridge, tmp_path):
    res = interp.attention(tiny_bridge, "John <b>lost</b> his keys & more")
    figs = res.plot()
    assert figs and all(hasattr(f, "savefig") for f in figs)
    html = res._repr_html_()
    assert "<b>lost</b>" not in html and "&lt;b&gt;lost&lt;/b&gt;" in html and "attention_maps" in html
    paths = res.save(tmp_path / "att")
    names = sorted(p.name for p in paths)
    assert "results.json" in names and {"attention_L0.png", "attention_L0.svg"} <= set(names)
    assert read_json(tmp_path / "att" / "results.json") == json.loads(json.dumps(res.to_dict()))


def test_save_writes_nothing_when_a_figure_fails(tiny_bridge, tmp_path, monkeypatch):
    from interp import figures

    res = interp.attention(tiny_bridge, "John lost his keys")

    def broken(result):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures, "builder_for", lambda kind: broken)
    with pytest.raises(RuntimeError):
        res.save(tmp_path / "att")
    assert not (tmp_path / "att").exists()


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    f = tmp_path_factory.mktemp("text") / "eval.txt"
    f.write_text(TOY_TEXT)
    return f


CASES = {
    "attention": (["attention", "{model}", "--prompt", "John lost his keys"],
                  lambda m, t: interp.attention(m, "John lost his keys")),
    "ablate": (["ablate", "{model}", "--heads", "0.1,1.2", "--method", "mean", "--text", "{text}", "--max-tokens",
                "400", "-n", "4"],
               lambda m, t: interp.ablate(m, heads="0.1,1.2", method="mean", text=t, max_tokens=400, max_new_tokens=4)),
    "coref": (["probe", "coref", "{model}", "--data", "builtin-small"],
              lambda m, t: interp.coref(m, data="builtin-small")),
    "perplexity": (["eval", "perplexity", "{model}", "--text", "{text}", "--max-tokens", "400"],
                   lambda m, t: interp.perplexity(m, text=t, max_tokens=400)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_and_api_write_identical_results(case, tiny_gpt2_dir, text_file, tmp_path):
    args, call = CASES[case]
    model = str(tiny_gpt2_dir)
    cli_out, api_out = tmp_path / "cli", tmp_path / "api"
    argv = [a.format(model=model, text=text_file) for a in args] + ["--out", str(cli_out)]
    r = run_cli(argv, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    call(model, str(text_file)).save(api_out)
    assert read_json(api_out / "results.json") == read_json(cli_out / "results.json")
    assert sorted(p.name for p in api_out.iterdir()) == sorted(p.name for p in cli_out.iterdir())


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, re.S)


def test_readme_python_example_needs_nothing_private():
    blocks = _python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip("README has no Python example yet")
    src = "\n".join(blocks)
    assert not re.search(r"from\s+interp\.|import\s+interp\.|\binterp\._", src), "README uses private modules"
    used = set(re.findall(r"\binterp\.(\w+)", src))
    assert used <= set(interp.__all__), f"README uses names that are not public: {used - set(interp.__all__)}"


def test_every_figures_entry_resolves():
    from interp.figures import FIGURES, builder_for

    for kind, target in FIGURES.items():
        assert re.fullmatch(r"[\w.]+:\w+", target), (kind, target)
        assert callable(builder_for(kind)), kind
    assert builder_for("no-such-kind") is None


def test_cli_and_api_train_identically(text_file, tmp_path, monkeypatch):
    (tmp_path / "cli").mkdir()
    (tmp_path / "api").mkdir()
    flags = ["--preset", "tiny", "--corpus", str(text_file), "--vocab-size", "300", "--max-steps", "4",
             "--eval-tokens", "256"]
    r = run_cli(["train", "run", *flags], cwd=tmp_path / "cli")
    assert r.returncode == 0, r.stderr[-2000:]
    monkeypatch.chdir(tmp_path / "api")
    interp.train("run", preset="tiny", corpus=str(text_file), vocab_size=300, max_steps=4, eval_tokens=256,
                 progress=False)
    assert read_json(tmp_path / "api" / "run" / "results.json") == read_json(tmp_path / "cli" / "run" / "results.json")


def test_path_references_mean_the_same_as_strings(tiny_gpt2_dir):
    from pathlib import Path

    a = interp.attention(Path(tiny_gpt2_dir), "The cat sat on the mat")
    b = interp.attention(str(tiny_gpt2_dir), "The cat sat on the mat")
    assert a.to_dict() == b.to_dict()
