"""What a box is called: the tensor's meaning in the network, not the engine's op class.

A learner reads ``W_hhᵀ``, ``x_t W_ihᵀ``, ``forget pre-activation`` or ``h₀``, and the op
class (``Permute``, ``Index``) stays as the box's small second line. The names come from
what the graph already says: tensor names (``h``, ``c``, ``x_proj``, a parameter's
``weight_hh_l0``), the ``gate`` scope tags, and the names of an op's inputs.
"""

from __future__ import annotations

import re

from .trace import Node

#: Short symbols of the built-in cells' gates, as PyTorch's documentation writes them; a gate
#: of a cell of one's own is called by its declared name.
GATE_SYMBOLS = {"input": "i", "forget": "f", "candidate": "g", "output": "o",
                "reset": "r", "update": "z", "new": "n"}
#: Operators by op class, for expressions such as ``f ⊙ c``.
OPERATORS = {"Add": "+", "Sub": "−", "Mul": "⊙", "Div": "/", "MatMul": ""}
#: Unary ops written as functions of their input: ``tanh(c)``.
FUNCTIONS = {"Tanh": "tanh", "Sigmoid": "σ", "Relu": "relu", "Exp": "exp", "Log": "log",
             "Neg": "−"}
#: The longest expression a title holds before it says what the op does instead.
LONGEST = 16
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_PARAMETER = re.compile(r"(weight|bias)_(ih|hh)(?:_l\d+)?(?:_reverse)?")


def subscript(number: int) -> str:
    """``h₁₂``-style subscripts.

    >>> "h" + subscript(12)
    'h₁₂'
    """
    return str(number).translate(_SUBSCRIPTS)


def parameter_name(name: str) -> str:
    """A recurrent layer's parameter by its textbook symbol (the full name stays in the box's
    small line and tooltip).

    >>> parameter_name("weight_hh_l0"), parameter_name("rnn.bias_ih_l1_reverse"), parameter_name("emb")
    ('W_hh', 'b_ih', 'emb')
    """
    match = _PARAMETER.fullmatch(name.rpartition(".")[2])  # "rnn.weight_hh_l0": a module's own
    if match is None:
        return name
    return f"{'W' if match.group(1) == 'weight' else 'b'}_{match.group(2)}"


def symbol(name: str) -> str:
    """A short symbol for a named tensor inside an expression (``forget`` is ``f``).

    >>> symbol("forget"), symbol("h"), symbol("weight_hh_l0")
    ('f', 'h', 'W_hh')
    """
    return GATE_SYMBOLS.get(name, parameter_name(name))


class Namer:
    """Names every node of a traced graph; ``title(key)`` is what its box says.

    An op is named by what it computes from named inputs (``h W_hhᵀ``, ``f ⊙ c``,
    ``tanh(c)``), the input gate's slice by the gate (``forget pre-activation``), the step's
    slice of a projection computed for all steps by the step (``x_t W_ihᵀ``), and anything
    longer by what it is for. ``initial`` maps the keys of initial states to their state
    name (``h`` gives ``h₀``).

    >>> import microtensor as mt
    >>> W = mt.ones(3, 3, requires_grad=True); W.name = "weight_hh_l0"
    >>> h = mt.ones(1, 3, requires_grad=True); h.name = "h"
    >>> g = mt.viz.trace((h @ W.T).tanh().sum())
    >>> namer = Namer(g)
    >>> sorted(namer.title(k) for k in g.nodes)
    ['W_hh', 'W_hhᵀ', 'h', 'h W_hhᵀ', 'loss', 'tanh']
    """

    def __init__(self, graph, initial: dict[str, str] | None = None) -> None:
        self.g, self.initial = graph, initial or {}
        self.inputs: dict[str, list[str]] = {k: [] for k in graph.nodes}
        self.consumers: dict[str, list[str]] = {k: [] for k in graph.nodes}
        for e in sorted(graph.edges, key=lambda e: e.index):
            self.inputs[e.dst].append(e.src)
            self.consumers[e.src].append(e.dst)
        self.cache: dict[str, str] = {}

    def title(self, key: str) -> str:
        if key not in self.cache:
            self.cache[key] = self._title(self.g.nodes[key])
        return self.cache[key]

    def _title(self, n: Node) -> str:
        if n.key in self.initial:
            return self.initial[n.key] + "₀"
        if n.key == self.g.output:
            return n.name or "loss"
        if n.kind == "param":
            return parameter_name(n.name) if n.name else "parameter"
        if n.kind == "const":
            return "input"
        if n.name == "x_proj":  # the input projection of every step, computed in one matmul
            return "x W_ihᵀ (all t)"
        if n.name:
            return n.name
        inputs, consumers = self.inputs[n.key], [self.g.nodes[k] for k in self.consumers[n.key]]
        gate = n.tags.get("gate")
        if n.op == "Index" and inputs and self.g.nodes[inputs[0]].name == "x_proj":
            return "x_t W_ihᵀ"
        if len(consumers) == 1 and consumers[0].op in FUNCTIONS and self.meaningful(consumers[0]):
            return f"{symbol(consumers[0].name)} pre-activation"  # what a gate or state squashes
        if len({c.tags.get("gate") for c in consumers} - {None}) > 1:
            return "pre-activations"  # of every gate at once, before the slices
        state = self.g.nodes[inputs[0]] if n.op == "Index" and inputs else None
        if state is not None and state.name and state.name in state.states:
            # A packed batch: the rows that go on to the next step, or those whose sequence ended.
            going = any(c.step is not None for c in consumers)
            return f"{state.name}, {'running' if going else 'ended'} rows"
        if n.op == "Stack" and inputs and all(self.g.nodes[k].name == self.g.nodes[k].states[0]
                                             for k in inputs):
            return "outputs y (stacked)"
        expression = self.expression(n, inputs)
        if expression and len(expression) <= LONGEST:
            return expression
        if gate is not None:
            return f"{gate}: {WORDS.get(n.op, n.op.lower())}"
        return WORDS.get(n.op, n.op.lower())

    @staticmethod
    def meaningful(n: Node) -> bool:
        """A gate's tensor or a recurrent state."""
        return bool(n.name) and (n.name == n.tags.get("gate") or n.name in n.states)

    def expression(self, n: Node, inputs: list[str]) -> str | None:
        """``f ⊙ c``, ``tanh(c)``, ``W_hhᵀ``: the op written on its inputs' short names."""
        names = [self.short(k) for k in inputs]
        if n.op == "Permute" and len(names) == 1 and names[0]:
            return names[0] + "ᵀ"
        if n.op in FUNCTIONS and len(names) == 1 and names[0]:
            return f"{FUNCTIONS[n.op]}({names[0]})"
        if n.op in OPERATORS and len(names) == 2 and all(names):
            return f" {OPERATORS[n.op]} ".join(names) if OPERATORS[n.op] else " ".join(names)
        return None

    def short(self, key: str) -> str | None:
        """The name an input goes by inside an expression, if it has a short one."""
        n = self.g.nodes[key]
        if n.name:
            return symbol(n.name) if n.name != "x_proj" else "x W_ihᵀ"
        if n.op == "Permute" or key in self.initial or (n.op == "Index" and self.title(key) == "x_t W_ihᵀ"):
            return self.title(key)
        return None


#: What an op does, for boxes whose expression would be too long to read.
WORDS = {"Add": "sum", "Sub": "difference", "Mul": "product", "Div": "quotient", "MatMul": "matrix product",
         "Index": "slice", "Stack": "stacked", "Cat": "concatenated", "Reshape": "reshaped",
         "Permute": "transposed", "Sum": "sum", "Mean": "mean", "Pow": "power", "Expand": "broadcast",
         "Tanh": "tanh", "Sigmoid": "sigmoid", "Softmax": "softmax", "LogSoftmax": "log-softmax",
         "NLLLoss": "loss"}
