"""Training: TOML configs, data preparation, the one training loop, EMA, DDP launch, ``train vae|diffusion``.

Reads and writes checkpoints through :mod:`seaice_ldm.checkpoints`; nothing used for sampling or
evaluation imports this package (``tests/test_layers.py`` checks it). Submodules are imported on use,
so ``import seaice_ldm.training.config`` does not start torch.distributed.
"""
