"""A model from `interp.load(ref)` remembers its reference: every public function given the loaded model writes
the same results JSON as given the reference (what the CLI passes), and the `model` field is the reference
in every result. One case per public name of `interp.api.API`; names that take no model are listed with why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import interp
from interp.api import API
from tests.cli_helpers import run_cli
from tests.conftest import TOY_TEXT

# public names that take no single model, and why
NO_MODEL = {
    "load": "the loader itself (tested below: it remembers the reference)",
    "series": "builds a checkpoint series from a run dir / hub spec; no loaded model",
    "report": "reads results JSON only",
    "UserError": "an exception type",
    "Unit": "the analysis-unit declaration type",
    "register": "registers an analysis unit",
    "train": "makes a model from a corpus",
    "import_nanogpt": "converts a nanoGPT checkpoint file into a model dir",
    "sweep": "trains its own trials from a search-space file",
    "training_curves": "reads run dirs' training logs",
    "finetune_compare": "compares a parent run dir with a child run dir (two references, read from their runs)",
    "circuit_formation": "takes a checkpoint series (a run dir), not one model",
    "lens_series": "takes a checkpoint series (a run dir), not one model",
    "load_sae": "loads a sparse coder file, not a model",
    "regress": "suite-driven (the suite names the model); `model=` goes through hooked.load_model as here",
    "attention_evolution": "takes a checkpoint series (a run dir), not one model",
    "head_formation": "takes a checkpoint series (a run dir), not one model",
}


@pytest.fixture(scope="module")
def refs(tmp_path_factory, tiny_gpt2_dir) -> dict[str, Any]:
    """A tiny trained run (run splits, run metadata), a coref-friendly HF dir, eval files."""
    from tests.report_tree import _trimmed_files, coref_model

    d = tmp_path_factory.mktemp("parity")
    corpus = d / "corpus.txt"
    corpus.write_text(TOY_TEXT)
    r = run_cli(["train", str(d / "run"), "--preset", "tiny", "--corpus", str(corpus), "--vocab-size", "300",
                 "--max-steps", "4", "--eval-tokens", "256"], cwd=d)
    assert r.returncode == 0, r.stderr[-2000:]
    dev, train = _trimmed_files(d)
    sae = interp.train_sae(str(tiny_gpt2_dir), _sae_cfg(), text=_text(), out_dir=d / "sae").sae
    return {"run": str(d / "run"), "hf": str(tiny_gpt2_dir), "coref": str(coref_model(d / "coref-model")),
            "text": str(corpus), "dev": str(dev), "train": str(train), "sae": str(sae)}


def _text() -> Any:
    from interp.sae.data import Text

    return Text((TOY_TEXT,), "toy")


def _sae_cfg() -> Any:
    from interp.sae.train import SAETrainConfig

    return SAETrainConfig(hook="blocks.0.hook_resid_post", expansion=2, k=4, tokens=600, context=16, batch_size=4)


def _sae_call(name: str) -> Callable[[Any, dict], Any]:
    def call(m: Any, r: dict) -> Any:
        from interp.sae.browse import BrowseConfig
        from interp.sae.evaluate import SAEEvalConfig
        from interp.sae.steer import SteerConfig

        if name == "sae":
            return interp.sae(m, r["sae"], text=_text(), config=SAEEvalConfig(max_tokens=200, context=16, n_boot=20))
        if name == "browse_features":
            return interp.browse_features(m, r["sae"], text=_text(),
                                          config=BrowseConfig(max_tokens=200, context=16, n_latents=3))
        return interp.steer(m, SteerConfig(coefficient=4.0, sae=r["sae"], latent=1, max_tokens=200, context=16,
                                           n_boot=20, max_new_tokens=3), text=_text())
    return call


# name -> (which model of `refs`, the call)
CASES: dict[str, tuple[str, Callable[[Any, dict], Any]]] = {
    "attention": ("run", lambda m, r: interp.attention(m, "John lost his keys and he")),
    "ablate": ("run", lambda m, r: interp.ablate(m, heads="0.1", max_tokens=128, max_new_tokens=4)),
    "ablate_sweep": ("run", lambda m, r: interp.ablate_sweep(m, heads="0.*", max_tokens=128)),
    "patch": ("hf", lambda m, r: interp.patch(m, clean="John lost his keys", corrupt="Mary lost his keys",
                                              metric="loss")),
    "perplexity": ("run", lambda m, r: interp.perplexity(m, max_tokens=200)),
    "sensitivity": ("hf", lambda m, r: interp.sensitivity(m, prompts=["The cat sat on", "John lost his"],
                                                          decoding="greedy,k5", max_new_tokens=4)),
    "trimmed": ("hf", lambda m, r: interp.trimmed(m, dataset=r["dev"], train_file=r["train"], text_column="text",
                                                  label_column="label", template="Text: {text}\nAnimal:",
                                                  limit=8, cache=False)),
    "coref": ("hf", lambda m, r: interp.coref(m, data="builtin-small")),
    "causal_coref": ("coref", lambda m, r: interp.causal_coref(m, data="builtin-small")),
    "circuit": ("hf", lambda m, r: interp.circuit(
        m, pairs=[{"clean": "John lost his keys. Sarah said", "corrupt": "Mary lost his keys. Sarah said",
                   "answer": " the", "wrong": " cat"}], method="eap", n_boot=20, curve_points=4)),
    "lens": ("run", lambda m, r: interp.lens(m, prompt="John lost his keys and he", n_boot=20)),
    "train_sae": ("hf", lambda m, r: interp.train_sae(m, _sae_cfg(), text=_text())),
    "sae": ("hf", _sae_call("sae")),
    "browse_features": ("hf", _sae_call("browse_features")),
    "steer": ("hf", _sae_call("steer")),
}


def test_every_public_name_is_covered():
    assert set(CASES).isdisjoint(NO_MODEL)
    assert set(API) == set(CASES) | set(NO_MODEL), "a new public name needs a case here (or a reason in NO_MODEL)"


def _same(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
        return
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
        return
    assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_loaded_model_gives_the_results_of_its_reference(name, refs):
    which, call = CASES[name]
    ref = refs[which]
    by_ref = call(ref, refs).to_dict()
    by_model = call(interp.load(ref), refs).to_dict()
    for d in (by_ref, by_model):
        d.pop("seconds", None)
    _same(by_model, by_ref, name)
    assert by_ref["model"] == ref, f"{name} names the model {by_ref['model']!r}, not its reference"


def test_load_remembers_the_reference_and_one_loader_names_it(refs):
    from interp import hooked
    from interp.model_ref import reference_of

    m = interp.load(Path(refs["run"]))
    assert reference_of(m) == refs["run"]
    bridge, info = hooked.load_model(m)
    assert bridge is m and info.name == info.ref == refs["run"]
    bridge2, info2 = hooked.load_model(refs["run"])
    assert info2 == info and reference_of(bridge2) == refs["run"]


def test_a_run_model_loaded_in_a_notebook_reads_its_run_split(refs):
    """issue 18: `interp.ablate(interp.load("runs/tiny"), heads="0.1")` used to fail with 'needs a model reference'."""
    res = interp.ablate(interp.load(refs["run"]), heads="0.1", max_tokens=128, max_new_tokens=4)
    assert res.to_dict()["model"] == refs["run"]
