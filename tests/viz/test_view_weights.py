"""The explorer's weights view: a shared weight's gradient as the sum of what each step sends it."""

import re
import shutil

import numpy as np
import pytest

import microtensor as mt
from microtensor.viz.columns import lane_spans
from microtensor.viz.plan import PALETTE
from microtensor.viz.views import weights
from microtensor.viz.views.weights import AGAINST, shares, steps_within

HAS_GRAPHVIZ = bool(shutil.which("dot") or shutil.which("graphviz-pure"))
needs_graphviz = pytest.mark.skipif(not HAS_GRAPHVIZ,
                                    reason="no Graphviz program (dot or graphviz-pure) found")


def recorded(kind, steps=6, layers=2, bidirectional=True, seed=0, loss="all"):
    mt.manual_seed(seed)
    model = getattr(mt.nn, kind)(3, 4, num_layers=layers, bidirectional=bidirectional, dtype=mt.float64)
    x = mt.randn(steps, 2, 3, dtype=mt.float64)
    with mt.viz.record() as rec:
        out, _ = model(x)
        total = ((out if loss == "all" else out[-1]) ** 2 * mt.randn(*out.shape[-2:], dtype=mt.float64)).sum()
        total.backward()
    return model, total, rec


def view(total, rec, **options):
    drawing = mt.viz.draw_graph(total, rec, **options)
    return drawing, weights.data(drawing, rec)


def first_k(terms_in_run_order, grad):
    """The k of the sentence, computed directly: the first k whose last-k sum is within 10%."""
    for k in range(1, len(terms_in_run_order) + 1):
        rest = grad - np.sum(terms_in_run_order[:k], axis=0)
        if np.sqrt((rest ** 2).sum()) <= 0.1 * np.sqrt((grad ** 2).sum()):
            return k
    return None


# ------------------------------------------------------------------ the numbers
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_each_weight_of_each_layer_and_direction_is_on_the_page(kind):
    model, total, rec = recorded(kind)
    _, found = view(total, rec)
    on_page = {(w["layer"], w["name"]) for w in found["weights"]}
    prefix = kind.lower()
    expected = set()
    for name, _ in model.named_parameters():
        layer = f"{prefix}.l{name.split('_l')[1]}"  # weight_hh_l1_reverse -> gru.l1_reverse
        expected.add((layer, name))
    assert on_page == expected
    labels = {w["label"] for w in found["weights"]}
    assert f"W_hh, {prefix}.l0_reverse" in labels and f"b_ih, {prefix}.l1" in labels


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_norms_and_shares_are_the_steps_terms_of_weight_steps(kind):
    model, total, rec = recorded(kind)
    _, found = view(total, rec)
    params = dict(model.named_parameters())
    for w in found["weights"]:
        param = params[w["name"]]
        terms = rec.weight_steps(param)
        grad = param.grad.numpy()
        assert w["norm"] == pytest.approx(np.linalg.norm(grad), rel=1e-3)
        # One step a column here: each column's norm and share is its step's term's.
        assert len(w["norms"]) == len(terms) == 6
        for t, term in terms.items():
            assert w["norms"][t] == pytest.approx(np.linalg.norm(term), rel=1e-3, abs=1e-12), (w["label"], t)
            share = float((term * grad).sum() / (grad * grad).sum())
            assert w["shares"][t] == pytest.approx(share, rel=1e-3, abs=1e-9), (w["label"], t)
        assert sum(w["shares"]) == pytest.approx(1.0, abs=1e-3)  # four digits each on the page
        exact = shares(terms, sum(terms.values()))
        assert sum(exact.values()) == pytest.approx(1.0, abs=1e-12)  # exactly 1, up to rounding


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_the_sentence_says_how_many_of_the_last_steps_give_the_gradient(kind):
    model, total, rec = recorded(kind, steps=12, loss="last")
    _, found = view(total, rec)
    params = dict(model.named_parameters())
    for w in found["weights"]:
        terms = rec.weight_steps(params[w["name"]])
        grad = params[w["name"]].grad.numpy()
        reverse = w["layer"].endswith("_reverse")
        run = sorted(terms, reverse=not reverse)  # the last step the direction ran, first
        if not np.any(grad):
            assert w["k"] == 0 and "exactly 0" in w["sentence"]
            continue
        k = first_k([terms[t] for t in run], grad)
        assert w["k"] == k, w["label"]
        span = sorted(run[:k])
        where = f"t={span[0]}" if k == 1 else f"t={span[0]}…{span[-1]}"
        assert where in w["sentence"] and f"∂L/∂{w['title']} to within 10%" in w["sentence"]
        assert ("this direction ran" in w["sentence"]) == reverse


def test_the_forward_direction_counts_back_from_the_loss():
    """With the loss on the last output only, the last steps carry the gradient of W_hh."""
    _, total, rec = recorded("RNN", steps=30, layers=1, bidirectional=False, loss="last")
    _, found = view(total, rec)
    w_hh = next(w for w in found["weights"] if w["title"] == "W_hh")
    assert 1 <= w_hh["k"] < 30
    assert f"The last {w_hh['k']} steps (t={30 - w_hh['k']}…29)" in w_hh["sentence"]


def test_long_sequences_sum_the_terms_of_each_column():
    _, total, rec = recorded("GRU", steps=400, layers=1, bidirectional=False, loss="last")
    drawing, found = view(total, rec)
    assert found["perCell"] == 3 and "3 steps (their terms summed)" in found["note"]
    param = next(t for t in rec.leaf_tensors.values() if t.name == "weight_hh_l0")
    terms, grad = rec.weight_steps(param), param.grad.numpy()
    w = next(w for w in found["weights"] if w["name"] == "weight_hh_l0")
    assert len(w["norms"]) == 134 and lane_spans(drawing.plan)["gru"][1][1:] == [3, 5]
    for c in (0, 50, 133):
        ts = range(3 * c, min(3 * c + 3, 400))
        column = sum(terms[t] for t in ts)
        assert w["norms"][c] == pytest.approx(np.linalg.norm(column), rel=1e-3, abs=1e-30)
        share = (column * grad).sum() / (grad * grad).sum()
        assert w["shares"][c] == pytest.approx(share, rel=1e-3, abs=1e-9)


def test_stand_ins_map_to_the_weight_they_stand_for():
    _, total, rec = recorded("LSTM", steps=8)
    drawing, found = view(total, rec, max_op_steps=3)
    p, g = drawing.plan, drawing.graph
    for i, w in enumerate(found["weights"]):
        assert i in found["byBox"][w["key"]]
        expected = set()
        for key, box in p.boxes.items():
            if box.kind != "stand_in" or box.layer != w["layer"]:
                continue
            shared = g.nodes[box.copies]
            reads = {e.src for e in g.edges if e.dst == box.copies}
            if w["title"] == "W_hh" and shared.op == "Permute" and w["key"] in reads:
                expected.add(key)
        if w["title"] == "W_hh":
            assert set(w["standIns"]) == expected and len(expected) == 3, w["label"]
        for key, (share, fill, ink) in w["standIns"].items():
            assert i in found["byBox"][key]
            t = p.position[p.boxes[key].step]
            assert share == pytest.approx(w["shares"][t], rel=1e-3, abs=1e-9)
            assert fill in PALETTE + AGAINST
            assert ink in ("#ffffff", "#222222")


def test_a_weight_shared_by_two_layers_has_a_row_per_layer(weight_shared_by_two_layers):
    w, total, rec = weight_shared_by_two_layers()
    _, found = view(total, rec)
    assert [x["layer"] for x in found["weights"]] == ["fwd", "fwd_reverse"]
    # Shares are of the whole gradient: the two layers' together add up to 1.
    assert sum(sum(x["shares"]) for x in found["weights"]) == pytest.approx(1.0, abs=1e-3)


def test_no_recording_or_no_recurrent_weight_leaves_the_view_out():
    w = mt.ones(2, requires_grad=True)
    with mt.viz.record() as rec:
        (w * 2).sum().backward()
    assert weights.data(mt.viz.draw_graph((w * 2).sum(), rec), rec) is None
    _, total, rec = recorded("RNN", steps=3, layers=1, bidirectional=False)
    assert weights.data(mt.viz.draw_graph(total, rec), None) is None


def test_bad_requests_are_named():
    with pytest.raises(ValueError, match=r"steps_within: within is a fraction .* got 1.5"):
        steps_within([np.ones(2)], np.ones(2), within=1.5)
    with pytest.raises(ValueError, match=r"shares: term 0 has shape \(3,\), the total \(2,\)"):
        shares({0: np.ones(3)}, np.ones(2))


# ------------------------------------------------------------------ in the browser
@pytest.fixture(scope="module")
def lstm_page(open_page, page_data, tmp_path_factory):
    _, total, rec = recorded("LSTM", steps=8)
    explorer = mt.viz.explore(total, rec, max_op_steps=3, title="LSTM, weights")
    page, errors, _ = open_page(explorer.save(tmp_path_factory.mktemp("weights") / "lstm.html"))
    yield page, errors, explorer, page_data(explorer.html)["weights"]
    page.close()


def click_box(page, key):
    page.evaluate(f"window.explorerCore.keepInView(window.explorerCore.nodeEls['{key}'])")
    page.click(f"g.node#{key}")


def shown_weight(page):
    return page.evaluate("document.querySelector('.weights-select').selectedOptions[0].textContent")


@needs_graphviz
def test_the_selector_lists_the_weights_and_the_row_follows_it(lstm_page):
    page, errors, _, found = lstm_page
    assert page.locator('[data-view="weights"]').count() == 1
    options = page.eval_on_selector_all(".weights-select option", "os => os.map(o => o.textContent)")
    assert options == [f"{w['label']} ({w['name']})" for w in found["weights"]]
    i = next(i for i, w in enumerate(found["weights"]) if w["label"] == "W_ih, lstm.l0")
    page.select_option(".weights-select", str(i))
    assert page.text_content('[data-field="sentence"]') == found["weights"][i]["sentence"]
    fills = page.eval_on_selector_all(".weights-cell", "rs => rs.map(r => r.getAttribute('fill'))")
    assert fills == [f or "#ffffff" for f in found["weights"][i]["fills"]]
    assert errors == []


@needs_graphviz
def test_tooltips_give_pythons_numbers(lstm_page):
    page, errors, _, found = lstm_page
    for i in (0, 5):
        page.select_option(".weights-select", str(i))
        w = found["weights"][i]
        tips = page.eval_on_selector_all(".weights-cell title", "ts => ts.map(t => t.textContent)")
        assert len(tips) == len(w["norms"]) == 8
        for t, tip in enumerate(tips):
            norm, share = re.search(r"‖term‖ (\S+) · share (\S+)$", tip).groups()
            assert tip.startswith(f"{w['label']} · t={t}:")
            assert float(norm) == pytest.approx(w["norms"][t], rel=1e-9)
            assert float(share) == pytest.approx(w["shares"][t], rel=1e-9, abs=1e-12)
    assert errors == []


@needs_graphviz
def test_clicking_a_w_hh_stand_in_selects_w_hh_and_shades_its_stand_ins(lstm_page):
    page, errors, explorer, found = lstm_page
    page.select_option(".weights-select", str(next(i for i, w in enumerate(found["weights"])
                                                   if w["title"] == "W_ih")))
    i = next(i for i, w in enumerate(found["weights"]) if w["label"] == "W_hh, lstm.l0")
    w = found["weights"][i]
    stand_in = sorted(w["standIns"])[0]
    click_box(page, stand_in)
    assert shown_weight(page) == f"{w['label']} ({w['name']})"
    shaded = page.eval_on_selector_all("g.node.weight-share", "gs => gs.map(g => [g.id, g.querySelector("
                                       "'path, polygon').getAttribute('fill'), g.dataset.share])")
    expected = [[key, fill, str(share)] for key, (share, fill, _) in w["standIns"].items()]
    assert sorted(shaded) == sorted(expected)
    assert page.locator(f"g.node.weight-chosen#{w['key']}").count() == 1
    shown = float(page.text_content('#details [data-stat="share"]'))
    assert shown == pytest.approx(w["standIns"][stand_in][0])
    # Another weight: the first one's shading goes, the other's comes.
    other = next(j for j, x in enumerate(found["weights"]) if x["label"] == "W_hh, lstm.l1")
    page.select_option(".weights-select", str(other))
    ids = page.eval_on_selector_all("g.node.weight-share", "gs => gs.map(g => g.id)")
    assert sorted(ids) == sorted(found["weights"][other]["standIns"])
    for key in w["standIns"]:
        assert page.eval_on_selector(f"g.node#{key} path, g.node#{key} polygon",
                                     "e => e.getAttribute('fill')") == "none"
    assert errors == []


@needs_graphviz
def test_a_selected_step_is_outlined_in_the_weights_row(lstm_page):
    page, errors, _, _ = lstm_page
    page.click('.heat-cell[data-t="5"][data-layer="lstm.l0"]')
    assert page.eval_on_selector_all(".weights-cell.selected", "rs => rs.map(r => r.dataset.t)") == ["5"]
    page.click('.weights-cell[data-t="2"]')
    assert page.eval_on_selector_all(".weights-cell.selected", "rs => rs.map(r => r.dataset.t)") == ["2"]
    assert page.text_content("#details h2") == "lstm · t=2"
    assert errors == []
