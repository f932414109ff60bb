"""Public entry point of `interp probe coref MODEL` (also `interp.coref`): the CLI calls exactly this."""

from __future__ import annotations

from typing import Any


def coref(model: Any, *, data: str = "builtin", top_k: int = 5, batch_size: int = 16, query: str = "first",
          device: str = "cpu", seed: int = 0, progress: bool = False) -> Any:
    """Coreference probe — what `interp probe coref MODEL` runs: does attention from a pronoun go to its
    antecedent rather than a distractor, plus the behavioural check P(right pronoun) vs P(wrong one).

    `model`: a model reference or a loaded `TransformerBridge`. `data`: a probe set name (builtin,
    builtin-small, handwritten) or a JSONL file (text, pronoun, antecedent, distractor). Accuracies come with
    chance (0.5) and Wilson intervals. Returns a `probes.coref.CorefResult` (kind 'coref_probe').
    """
    from interp.seeding import set_seed
    from probes.coref import CorefConfig, coref_probe
    from probes.coref_data import load_probe_set

    set_seed(seed)
    config = CorefConfig(top_k=top_k, batch_size=batch_size, query=query, seed=seed)
    label, examples = load_probe_set(data)  # validated before the model loads
    name, bridge = _load(model, device)
    return coref_probe(bridge, examples, config, model=name, probe_set=label, progress=progress)


def _load(model: Any, device: str) -> tuple[str, Any]:
    from interp import hooked
    from interp.devices import check_device

    bridge, info = hooked.load_model(model, check_device(device))
    return info.name, bridge
