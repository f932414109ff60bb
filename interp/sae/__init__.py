"""Sparse autoencoders and transcoders: train (eai-sparsify), evaluate, browse, formation over training, steer.

Torch-free package init; the analyses live in interp.sae.{train,evaluate,browse,formation,steer}.
"""
