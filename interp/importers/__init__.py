"""Importers: other trainers' checkpoints → standard Hugging Face dirs every interp analysis can load.

- `interp.importers.nanogpt`: karpathy/nanoGPT `ckpt.pt` (+ char-level `meta.pkl` via `interp.importers.meta`).
- `interp.importers.nanogpt_reference`: a faithful nanoGPT model, the importer's parity reference.
"""
