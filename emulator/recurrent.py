"""``ApproxLSTM``, ``ApproxGRU`` and ``ApproxRNN``: recurrent layers whose gate matmuls go through a LUT.

A recurrent layer computes, at every time step ``t`` and for every stacked
layer (and direction),

    gates_t = W_ih x_t + b_ih  +  W_hh h_{t-1} + b_hh

followed by element-wise gate non-linearities and the state update. On an
integer accelerator with float activation functions (as this emulator
models), the two matmuls are the multiplications: each runs as an
:class:`~approxdse.emulator.layers.ApproxLinear` (8-bit codes, per-row weight
scales, calibrated per-tensor activation scale, every product looked up in the
multiplier's LUT, int32 accumulation, dequantisation), and everything else --
the gate sums, ``sigmoid``/``tanh``, ``c_t = f * c_{t-1} + i * g``,
``h_t = o * tanh(c_t)`` (GRU: ``n = tanh(i_n + r * h_n)``,
``h_t = (1 - z) * n + z * h_{t-1}``) -- runs in float32, as the float layer
does it. The input projection ``W_ih x`` of a whole sequence is one matmul
(its inputs are all known; cuDNN does the same), the hidden projection one
matmul per step.

Each layer ``k`` (and reverse direction) is a child ``l{k}`` (``l{k}_reverse``)
holding the two matmuls ``ih`` and ``hh``, so a model's recurrent matmuls are
named ``rnn.l0.ih``, ``rnn.l0.hh``, ``rnn.l1_reverse.hh`` ... in
``named_modules()``: :func:`~approxdse.emulator.approximate` can give each its
own multiplier and :func:`~approxdse.emulator.calibrate` calibrates each.

Supported: ``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` (tanh or relu), any number of
layers, ``batch_first`` either way, bidirectional, with or without bias,
inter-layer dropout (training only), unbatched (2-D) inputs and initial
states. Not supported (an :class:`ApproxDSEError` naming it): LSTM
``proj_size > 0`` and ``PackedSequence`` inputs.

>>> import torch
>>> from approxdse import multipliers
>>> lstm = ApproxLSTM.from_float(torch.nn.LSTM(8, 16, batch_first=True), multipliers.get("u8_exact"))
>>> out, (h, c) = lstm(torch.rand(2, 5, 8))
>>> tuple(out.shape), tuple(h.shape)
((2, 5, 16), (1, 2, 16))
"""
from __future__ import annotations

from typing import Mapping, Union

import torch
import torch.nn.functional as F
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.config import EmulationConfig
from approxdse.emulator.layers import ApproxLinear
from approxdse.multipliers.multiplier import Multiplier

#: Gate blocks per cell type (rows of W_ih / W_hh = gates * hidden_size).
GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}

MultiplierSpec = Union[Multiplier, Mapping[str, Multiplier]]


def cell_of(module: nn.Module) -> str | None:
    """``"LSTM"``, ``"GRU"``, ``"RNN_TANH"``, ``"RNN_RELU"`` for a float or approximate recurrent module, else None."""
    if isinstance(module, nn.RNNBase):
        return module.mode
    return getattr(module, "recurrent_cell", None)


def matmul_names(num_layers: int, bidirectional: bool) -> list[str]:
    """The names of a recurrent module's matmuls: ``l0.ih``, ``l0.hh``, ``l0_reverse.ih`` ..."""
    out = []
    for k in range(num_layers):
        for sfx in ("", "_reverse") if bidirectional else ("",):
            out += [f"l{k}{sfx}.ih", f"l{k}{sfx}.hh"]
    return out


def recurrent_matmul_names(module: nn.Module) -> list[str]:
    """:func:`matmul_names` of a float or approximate recurrent module."""
    return matmul_names(int(module.num_layers), bool(module.bidirectional))


def unsupported_reason(module: nn.Module) -> str | None:
    """Why a float recurrent module cannot be emulated (None when it can)."""
    if not isinstance(module, (nn.LSTM, nn.GRU, nn.RNN)):
        return f"{type(module).__name__} is not an LSTM, GRU or RNN"
    if getattr(module, "proj_size", 0):
        return f"LSTM with proj_size={module.proj_size} is not supported"
    return None


def sequence_macs(module: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Multiply-accumulates of each matmul of a recurrent module on input ``x`` (``{"l0.ih": n, ...}``)."""
    if x.dim() == 2:
        steps, batch = int(x.shape[0]), 1
    else:
        steps, batch = (int(x.shape[1]), int(x.shape[0])) if module.batch_first else (int(x.shape[0]), int(x.shape[1]))
    hidden, dirs = int(module.hidden_size), 2 if module.bidirectional else 1
    rows = GATES[cell_of(module)] * hidden
    out = {}
    for k in range(int(module.num_layers)):
        inputs = int(module.input_size) if k == 0 else hidden * dirs
        for sfx in ("", "_reverse")[:dirs]:
            out[f"l{k}{sfx}.ih"] = steps * batch * inputs * rows
            out[f"l{k}{sfx}.hh"] = steps * batch * hidden * rows
    return out


class GateMatmuls(nn.Module):
    """The input and hidden matmuls of one layer and direction (``ih``: W_ih x + b_ih, ``hh``: W_hh h + b_hh)."""

    def __init__(self, ih: ApproxLinear, hh: ApproxLinear) -> None:
        super().__init__()
        self.ih = ih
        self.hh = hh


class ApproxRecurrent(nn.Module):
    """What ApproxLSTM, ApproxGRU and ApproxRNN share: the stacked layers and the time loop."""

    recurrent_cell = "abstract"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 multiplier: MultiplierSpec, config: EmulationConfig | None = None,
                 layer_name: str = "rnn") -> None:
        super().__init__()
        if int(input_size) < 1 or int(hidden_size) < 1 or int(num_layers) < 1:
            raise ApproxDSEError(f"{layer_name}: input_size, hidden_size and num_layers must be positive, got "
                                 f"{input_size}, {hidden_size}, {num_layers}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ApproxDSEError(f"{layer_name}: dropout must lie in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        self.layer_name = layer_name
        config = config or EmulationConfig()
        names = matmul_names(self.num_layers, self.bidirectional)
        if isinstance(multiplier, Mapping):
            missing = [n for n in names if n not in multiplier]
            if missing:
                raise ApproxDSEError(f"{layer_name}: no multiplier for {', '.join(missing)}")
            per = dict(multiplier)
        else:
            per = {n: multiplier for n in names}
        rows = GATES[self.recurrent_cell] * self.hidden_size
        dirs = 2 if self.bidirectional else 1
        for k in range(self.num_layers):
            inputs = self.input_size if k == 0 else self.hidden_size * dirs
            for sfx in ("", "_reverse")[:dirs]:
                key = f"l{k}{sfx}"
                ih = ApproxLinear(inputs, rows, self.bias, multiplier=per[f"{key}.ih"], config=config,
                                  layer_name=f"{layer_name}.{key}.ih")
                hh = ApproxLinear(self.hidden_size, rows, self.bias, multiplier=per[f"{key}.hh"], config=config,
                                  layer_name=f"{layer_name}.{key}.hh")
                self.add_module(key, GateMatmuls(ih, hh))
        # nn.RNNBase initialises every weight and bias U(-1/sqrt(H), 1/sqrt(H))
        bound = self.hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    # ------------------------------------------------------------ building
    @classmethod
    def from_float(cls, rnn: nn.RNNBase, multiplier: MultiplierSpec, config: EmulationConfig | None = None,
                   layer_name: str = "rnn") -> "ApproxRecurrent":
        """An approximate copy of ``rnn`` (its hyper-parameters and weights)."""
        reason = unsupported_reason(rnn)
        if reason is None and cell_of(rnn) not in cls._cells():
            reason = f"{type(rnn).__name__} ({rnn.mode}) cannot become a {cls.__name__}"
        if reason is not None:
            raise ApproxDSEError(f"{layer_name}: {reason}")
        kwargs = {}
        if cls is ApproxRNN:
            kwargs["nonlinearity"] = "tanh" if rnn.mode == "RNN_TANH" else "relu"
        layer = cls(rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bias, rnn.batch_first, rnn.dropout,
                    rnn.bidirectional, multiplier=multiplier, config=config, layer_name=layer_name, **kwargs)
        with torch.no_grad():
            for key in dict(layer.named_children()):
                sfx = key[1:]  # "0" or "0_reverse"
                cell = getattr(layer, key)
                cell.ih.weight.copy_(getattr(rnn, f"weight_ih_l{sfx}"))
                cell.hh.weight.copy_(getattr(rnn, f"weight_hh_l{sfx}"))
                if rnn.bias:
                    cell.ih.bias.copy_(getattr(rnn, f"bias_ih_l{sfx}"))
                    cell.hh.bias.copy_(getattr(rnn, f"bias_hh_l{sfx}"))
        layer.train(rnn.training)
        return layer.to(rnn.weight_ih_l0.device)

    @classmethod
    def _cells(cls) -> tuple[str, ...]:
        return (cls.recurrent_cell,)

    def matmuls(self) -> dict[str, ApproxLinear]:
        """``{"l0.ih": layer, "l0.hh": layer, ...}``."""
        return {name: self.get_submodule(name) for name in matmul_names(self.num_layers, self.bidirectional)}

    # ------------------------------------------------------------- forward
    def _state_shape(self, batch: int) -> tuple[int, int, int]:
        return (self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)

    def _check_input(self, x) -> torch.Tensor:
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise ApproxDSEError(f"{self.layer_name}: PackedSequence inputs are not supported; pad the sequences")
        if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3) or x.shape[-1] != self.input_size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ApproxDSEError(
                f"{self.layer_name}: expected a (sequence, batch, {self.input_size}) input "
                f"({'batch first' if self.batch_first else 'time first'}) or an unbatched one, got {shape}")
        return x

    def _step(self, gi: torch.Tensor, gh: torch.Tensor, state):  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self, x: torch.Tensor, states: list):
        """x: [T, B, F] (time first); states: per layer*direction initial state. Returns (out, final states)."""
        dirs = 2 if self.bidirectional else 1
        finals = []
        for k in range(self.num_layers):
            outs = []
            for d in range(dirs):
                cell = getattr(self, f"l{k}{'_reverse' if d else ''}")
                seq = x.flip(0) if d else x
                gi_all = cell.ih(seq)  # [T, B, G*H]: the whole sequence's input projection
                state = states[k * dirs + d]
                hs = []
                for t in range(seq.shape[0]):
                    h = state[0] if isinstance(state, tuple) else state
                    state = self._step(gi_all[t], cell.hh(h), state)
                    hs.append(state[0] if isinstance(state, tuple) else state)
                out = torch.stack(hs)
                outs.append(out.flip(0) if d else out)
                finals.append(state)
            x = torch.cat(outs, dim=-1) if dirs == 2 else outs[0]
            if self.dropout and self.training and k < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, finals

    def _initial(self, hx, batch: int, like: torch.Tensor, unbatched: bool):
        shape = self._state_shape(batch)
        if hx is None:
            return torch.zeros(shape, dtype=like.dtype, device=like.device)
        if unbatched:
            hx = hx.unsqueeze(1)
        if tuple(hx.shape) != shape:
            raise ApproxDSEError(f"{self.layer_name}: initial state must have shape {shape}, got {tuple(hx.shape)}")
        return hx

    def extra_repr(self) -> str:
        names = {m.multiplier.name for m in self.matmuls().values()}
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}, "
                f"multiplier={', '.join(sorted(names))}")


def _sequence(layer: ApproxRecurrent, x) -> tuple[torch.Tensor, bool, int]:
    x = layer._check_input(x)
    unbatched = x.dim() == 2
    if unbatched:
        x = x.unsqueeze(1)
    elif layer.batch_first:
        x = x.transpose(0, 1)
    return x, unbatched, int(x.shape[1])


def _output(layer: ApproxRecurrent, out: torch.Tensor, unbatched: bool) -> torch.Tensor:
    if unbatched:
        return out.squeeze(1)
    return out.transpose(0, 1) if layer.batch_first else out


def _final(h: torch.Tensor, unbatched: bool) -> torch.Tensor:
    return h.squeeze(1) if unbatched else h


class ApproxLSTM(ApproxRecurrent):
    """An ``nn.LSTM`` whose gate matmuls multiply through a multiplier's LUT (see the module docstring)."""

    recurrent_cell = "LSTM"

    def _step(self, gi, gh, state):
        h, c = state
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, x, hx=None):
        x, unbatched, batch = _sequence(self, x)
        h0, c0 = (None, None) if hx is None else hx
        h0 = self._initial(h0, batch, x, unbatched)
        c0 = self._initial(c0, batch, x, unbatched)
        out, finals = self._run(x, [(h0[i], c0[i]) for i in range(h0.shape[0])])
        h_n = torch.stack([s[0] for s in finals])
        c_n = torch.stack([s[1] for s in finals])
        return _output(self, out, unbatched), (_final(h_n, unbatched), _final(c_n, unbatched))


class ApproxGRU(ApproxRecurrent):
    """An ``nn.GRU`` whose gate matmuls multiply through a multiplier's LUT (see the module docstring)."""

    recurrent_cell = "GRU"

    def _step(self, gi, gh, h):
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h

    def forward(self, x, hx=None):
        x, unbatched, batch = _sequence(self, x)
        h0 = self._initial(hx, batch, x, unbatched)
        out, finals = self._run(x, [h0[i] for i in range(h0.shape[0])])
        return _output(self, out, unbatched), _final(torch.stack(finals), unbatched)


class ApproxRNN(ApproxRecurrent):
    """An Elman ``nn.RNN`` (tanh or relu) whose matmuls multiply through a multiplier's LUT."""

    recurrent_cell = "RNN_TANH"

    def __init__(self, *args, nonlinearity: str = "tanh", **kwargs) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ApproxDSEError(f"RNN nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.recurrent_cell = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(*args, **kwargs)

    @classmethod
    def _cells(cls) -> tuple[str, ...]:
        return ("RNN_TANH", "RNN_RELU")

    def _step(self, gi, gh, h):
        return torch.tanh(gi + gh) if self.recurrent_cell == "RNN_TANH" else torch.relu(gi + gh)

    def forward(self, x, hx=None):
        x, unbatched, batch = _sequence(self, x)
        h0 = self._initial(hx, batch, x, unbatched)
        out, finals = self._run(x, [h0[i] for i in range(h0.shape[0])])
        return _output(self, out, unbatched), _final(torch.stack(finals), unbatched)


def approximate_recurrent(module: nn.RNNBase, multiplier: MultiplierSpec, config: EmulationConfig | None,
                          layer_name: str) -> ApproxRecurrent:
    """The approximate counterpart of a float ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``."""
    cls = {"LSTM": ApproxLSTM, "GRU": ApproxGRU, "RNN_TANH": ApproxRNN, "RNN_RELU": ApproxRNN}.get(cell_of(module))
    if cls is None or unsupported_reason(module):
        raise ApproxDSEError(f"{layer_name}: {unsupported_reason(module) or 'not a recurrent layer'}")
    return cls.from_float(module, multiplier, config, layer_name=layer_name)
