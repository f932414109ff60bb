"""Re-export shim: the faithful nanoGPT model + CPU recipe now live in `interp.importers.nanogpt_reference`
(where the nanoGPT importer and its tests use them); `benchmarks/train_throughput.py` imports from here."""

from interp.importers.nanogpt_reference import GPT, MLP, Block, CausalSelfAttention, NanoConfig, NanoTrainer  # noqa: F401
