"""PyTorch's ``torch.utils``: for now ``data``, datasets and the ``DataLoader`` that batches them.

>>> import microtensor as mt
>>> len(mt.utils.data.DataLoader(range(10), batch_size=4))
3
"""

from . import data

__all__ = ["data"]
