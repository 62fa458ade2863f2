"""The tutorial ports in ``ports/`` are scripts written against PyTorch's names: they are run by
``tutorial_loader.load`` (with either library behind ``torch``), never imported as they stand,
so pytest's doctest collection must not import them (without the oracle extra, ``import torch``
would fail)."""

collect_ignore = ["ports"]
