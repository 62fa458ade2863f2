"""A small hand-written tanh RNN, scoped like the library's layers, for the renderer's tests."""

import json
import re
import time

import numpy as np
import pytest

import microtensor as mt


class TinyRNN:
    """h_t = tanh(x_t U + h_{t-1} W); loss = sum(h_T). Keeps every h_t and pre-activation."""

    def __init__(self, steps, hidden=4, inputs=3, scale=0.5, seed=0):
        rng = np.random.default_rng(seed)
        self.U = mt.tensor(rng.normal(size=(inputs, hidden)), requires_grad=True)
        self.W = mt.tensor(rng.normal(size=(hidden, hidden)) * scale, requires_grad=True)
        self.U.name, self.W.name = "W_xh", "W_hh"
        self.xs = [mt.tensor(rng.normal(size=(1, inputs))) for _ in range(steps)]
        self.hidden = hidden

    def forward(self):
        h = mt.zeros(1, self.hidden, dtype=mt.float64)
        self.hs, self.pres = [], []
        for t, x in enumerate(self.xs):
            with mt.scope(layer="rnn", t=t):
                pre = x @ self.U + h @ self.W
                pre.retain_grad()
                h = pre.tanh()
                h.name = "h"
                h.retain_grad()
            self.hs.append(h)
            self.pres.append(pre)
        return h.sum()


@pytest.fixture
def tiny_rnn():
    return TinyRNN


@pytest.fixture(scope="session")
def translate_pass():
    """``translate_pass()``: one recorded pass ``(loss, recording)`` of the demos' seq2seq model (a
    word encoder, an LSTM decoder with attention) on two sentences of different lengths."""
    def translate_pass():
        from models.encoders import WordEncoder
        from models.seq2seq import Seq2Seq
        from models.sequences import make_batch, pad_ids

        mt.manual_seed(0)
        model = Seq2Seq(WordEncoder(10, 4, 6), vocab_size=7, embed_size=4, hidden_size=6)
        batch = make_batch(pad_ids([[3, 4, 5], [6, 7, 0]]), [3, 2], [[3, 4], [5, 6, 3]])
        with mt.viz.record(keep_values=True) as rec:
            loss = model.loss(batch)
            loss.backward()
        return loss, rec
    return translate_pass


@pytest.fixture(scope="session")
def weight_shared_by_two_layers():
    """``weight_shared_by_two_layers()``: ``(w, loss, recording)`` of a hand-written tanh loop run
    forwards (layer ``fwd``) and backwards (``fwd_reverse``) over 4 steps with one weight
    ``W_hh``, the loss reading both final states."""
    def weight_shared_by_two_layers():
        mt.manual_seed(2)
        w = mt.randn(3, 3, dtype=mt.float64, requires_grad=True)
        w.name = "W_hh"
        xs = mt.randn(4, 1, 3, dtype=mt.float64)
        with mt.viz.record() as rec:
            outs = []
            for layer, order in (("fwd", range(4)), ("fwd_reverse", reversed(range(4)))):
                h = mt.zeros(1, 3, dtype=mt.float64)
                for t in order:
                    with mt.scope(layer=layer, t=t):
                        h = (xs[t] + h @ w).tanh()
                        h.name = "h"
                outs.append(h)
            loss = (outs[0] * outs[1]).sum()
            loss.backward()
        return w, loss, rec
    return weight_shared_by_two_layers


@pytest.fixture(scope="module")
def open_page(browser):
    """``open_page(path, viewport=(1440, 900))`` opens the explorer page at ``path`` in a new tab,
    waits for its script, and returns ``(page, errors, seconds)``: ``errors`` collects console
    errors, uncaught exceptions and any request not for a file: or about: URL."""
    def open_page(path, viewport=(1440, 900)):
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: errors.append(f"request {r.url}")
                if not r.url.startswith(("file:", "about:")) else None)
        started = time.perf_counter()
        page.goto(path.resolve().as_uri())
        page.wait_for_function("window.explorer !== undefined")
        return page, errors, time.perf_counter() - started
    return open_page


@pytest.fixture(scope="session")
def page_data():
    """``page_data(html)``: the JSON an explorer page holds for its script (``#explorer-data``)."""
    def page_data(html):
        text = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', html,
                         re.S).group(1)
        return json.loads(text.replace("<\\/", "</"))
    return page_data
