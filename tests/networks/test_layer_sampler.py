"""The layer-shape sampler: the shapes real families use and the genome never draws."""
import pytest

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.layer_sampler import LayerSpace, sample_layer_workloads, sample_layers
from approxdse.networks.resolve import resolve_networks


@pytest.fixture(scope="module")
def layers():
    return sample_layers(1500, seed=3)


def test_deterministic_and_within_bounds(layers):
    assert sample_layers(50, seed=3) == layers[:50]
    assert sample_layers(50, seed=4) != layers[:50]
    space = LayerSpace()
    assert all(1 <= l.macs <= space.max_macs for l in layers)
    assert all(l.C <= 4096 and l.M <= 4096 for l in layers)


def test_covers_the_shapes_of_real_families(layers):
    convs = [l for l in layers if l.kind == "conv"]
    assert any(l.C % 8 for l in convs) and any(l.M % 2 for l in convs)  # channels not multiples of 8
    dw = [l for l in convs if l.is_depthwise]
    assert {l.R for l in dw} >= {3, 5, 7} and {l.stride for l in dw} == {1, 2}
    grouped = [l for l in convs if 1 < l.groups < l.C]
    assert grouped and {l.R for l in grouped} == {1, 3} and len({l.groups for l in grouped}) > 5
    assert any(l.dilation_h == 2 for l in convs)
    se = [l for l in convs if l.P == l.Q == 1 and l.R == 1]
    assert any(l.C > l.M for l in se) and any(l.C < l.M for l in se)  # squeeze and excite
    stems = [l for l in convs if l.C == 3]
    assert {(l.R, l.stride) for l in stems} >= {(7, 2), (4, 4), (11, 4), (3, 2)}
    assert any(l.R == l.stride == 2 and l.pad_h == 0 for l in convs)  # patchify downsampling
    assert any(l.kind == "fc" for l in layers)


def test_pseudo_networks_and_the_dataset_spec():
    ws = sample_layer_workloads(4, seed=1, layers_per_network=5)
    assert [len(w) for w in ws] == [5] * 4 and len({w.name for w in ws}) == 4
    assert all(w.name.startswith("layers_") for w in ws)
    few, more = resolve_networks("layers:2", seed=0), resolve_networks("layers:4", seed=0)
    assert [e.name for e in few] == [e.name for e in more[:2]] and {e.kind for e in more} == {"layers"}
    fam = resolve_networks("family:squeezenet")
    assert [e.name for e in fam] == ["squeezenet1_0", "squeezenet1_1"]
    with pytest.raises(ApproxDSEError, match="unknown family"):
        resolve_networks("family:transformer")


@pytest.mark.parametrize("kwargs", [{"min_channels": 0}, {"min_channels": 9, "max_channels": 8},
                                    {"weights": {"conv": -1.0}}, {"weights": {"attention": 1.0}},
                                    {"max_size": 1}])
def test_bad_spaces(kwargs):
    with pytest.raises(ApproxDSEError):
        LayerSpace(**kwargs)
    with pytest.raises(ApproxDSEError):
        sample_layers(-1)
