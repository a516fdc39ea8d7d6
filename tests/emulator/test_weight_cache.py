"""The layers' weight cache: quantised weights and weight plans follow every change of the weights."""
import pytest
import torch

from approxdse import multipliers
from approxdse.emulator import ApproxConv2d, ApproxLinear, EmulationConfig


def _fresh(layer_cls, src, name, mode, x):
    """An uncached layer with ``src``'s current weights: what a cached layer must reproduce."""
    layer = layer_cls.from_float(src, multipliers.get(name), EmulationConfig(mode=mode, backend="cpu"))
    layer.set_activation_range(-2.0, 3.0)
    with torch.no_grad():
        return layer(x)


@pytest.mark.parametrize("mode", ["lut", "exact-decomposition"])
@pytest.mark.parametrize("name", ["u8_drum_4", "s8_exact"])
def test_conv_result_follows_weight_changes_after_a_forward(mode, name):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(4, 5, 3, padding=1)
    x = torch.randn(2, 4, 7, 6)
    layer = ApproxConv2d.from_float(conv, multipliers.get(name), EmulationConfig(mode=mode, backend="cpu"))
    layer.set_activation_range(-2.0, 3.0)
    with torch.no_grad():
        first = layer(x)
        assert torch.equal(layer(x), first)  # cached: same result
        assert layer._weight_cache is not None
        layer.weight.mul_(-1.5)  # in place, version counter bumped
        conv.weight.mul_(-1.5)
        second = layer(x)
        assert not torch.equal(second, first)
        assert torch.equal(second, _fresh(ApproxConv2d, conv, name, mode, x))
        layer.weight.data[0].zero_()  # through .data: no version bump; still detected
        conv.weight.data[0].zero_()
        assert torch.equal(layer(x), _fresh(ApproxConv2d, conv, name, mode, x))
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    state["weight"] = torch.randn_like(state["weight"])
    layer.load_state_dict(state)
    with torch.no_grad():
        conv.weight.copy_(state["weight"])
        assert torch.equal(layer(x), _fresh(ApproxConv2d, conv, name, mode, x))


def test_cache_follows_multiplier_and_zero_point_changes():
    torch.manual_seed(1)
    lin = torch.nn.Linear(12, 3)
    x = torch.randn(4, 12)
    layer = ApproxLinear.from_float(lin, multipliers.get("u8_drum_4"), EmulationConfig(mode="exact-decomposition"))
    layer.set_activation_range(-2.0, 3.0)
    with torch.no_grad():
        layer(x)
        layer.set_multiplier(multipliers.get("u8_exact"))
        assert torch.equal(layer(x), _fresh(ApproxLinear, lin, "u8_exact", "exact-decomposition", x))
        layer.set_activation_range(-0.5, 3.0)  # another zero point: another plan
        other = layer(x)
        ref = ApproxLinear.from_float(lin, multipliers.get("u8_exact"), EmulationConfig(mode="exact-decomposition"))
        ref.set_activation_range(-0.5, 3.0)
        assert torch.equal(other, ref(x))
        assert len(layer._weight_cache.plans) == 2


def test_training_steps_update_the_emulated_forward():
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 6, 6)
    layer = ApproxConv2d.from_float(conv, multipliers.get("u8_drum_4"), EmulationConfig(mode="exact-decomposition"))
    layer.set_activation_range(-2.0, 3.0)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    for _ in range(2):
        before = layer(x)
        before.square().sum().backward()  # straight-through gradients still reach the weights
        assert layer.weight.grad is not None and torch.any(layer.weight.grad != 0)
        opt.step()
        opt.zero_grad()
        with torch.no_grad():
            conv.weight.copy_(layer.weight)
            conv.bias.copy_(layer.bias)
            after = layer(x)
            assert not torch.equal(after, before.detach())
            assert torch.equal(after, _fresh(ApproxConv2d, conv, "u8_drum_4", "exact-decomposition", x))


def test_copies_leave_the_cache_behind_and_compute_the_same():
    import copy
    import pickle

    torch.manual_seed(3)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 5, 5)
    layer = ApproxConv2d.from_float(conv, multipliers.get("u8_drum_4"), EmulationConfig(mode="exact-decomposition"))
    layer.set_activation_range(-2.0, 3.0)
    with torch.no_grad():
        y = layer(x)
        for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
            assert clone._weight_cache is None
            assert torch.equal(clone(x), y)
        assert layer._weight_cache is not None
