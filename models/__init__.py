"""Complete models and the data they learn from, built on ``microtensor.nn``.

The demos in ``demos/`` train them; the library never imports them.

- ``char_lm``: a character-level language model (embedding, RNN/LSTM/GRU, readout);
- ``text``: corpus loading, vocabulary, train/validation split, truncated-BPTT batches,
  and the bigram baseline;
- ``word_lm``, ``classifier``, ``tasks``: the soup, sentiment and vanishing demos' models
  and task generators;
- ``seq2seq``, ``encoders``, ``sequences``: encoder-decoders with attention, greedy and beam
  search, word vocabularies and padded batches (translation and captioning);
- ``numbers``, ``digit_strips``: their data (number words in English and French; strips of
  UCI handwritten digits, shipped in ``models/data`` with their attribution).
"""

from microtensor import nn

#: The recurrent layers a model can be built on, by the name the demos' ``--cell`` takes.
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
