"""The genome: JSON round trip, stable keys, module <-> workload agreement."""
import json

import pytest
import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.generator import sample_genome, sample_genomes
from approxdse.networks.genome import BlockGene, Genome, StageGene


def _traced_layers(module: nn.Module, input_shape):
    """(name, C, M, P, Q, R, S, stride, pad, groups) of every conv/linear, in execution order."""
    seen = []
    hooks = []
    for name, mod in module.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            def hook(m, inp, out, name=name):
                if isinstance(m, nn.Conv2d):
                    seen.append((name, m.in_channels, m.out_channels, out.shape[2], out.shape[3],
                                 m.kernel_size[0], m.kernel_size[1], m.stride[0], m.padding[0], m.groups))
                else:
                    seen.append((name, m.in_features, m.out_features, 1, 1, 1, 1, 1, 0, 1))
            hooks.append(mod.register_forward_hook(hook))
    module.eval()
    with torch.no_grad():
        module(torch.zeros(1, *input_shape))
    for h in hooks:
        h.remove()
    return seen


def _workload_layers(workload):
    return [(l.name, l.C, l.M, l.P, l.Q, l.R, l.S, l.stride_h, l.pad_h, l.groups) for l in workload]


ALL_KINDS = Genome(
    (3, 32, 32),
    10,
    stem_channels=16,
    stages=(
        StageGene((BlockGene("plain", 16, 5, 1), BlockGene("plain", 24, 1, 2))),
        StageGene((BlockGene("residual", 32, 3, 2), BlockGene("residual", 32, 3, 1))),
        StageGene((BlockGene("bottleneck", 64, 3, 1, 4), BlockGene("bottleneck", 64, 7, 1, 2))),
        StageGene((BlockGene("dwsep", 64, 3, 1, 6), BlockGene("dwsep", 96, 5, 2, 1), BlockGene("dwsep", 96, 3, 1, 1))),
    ),
)


def test_every_block_kind_module_matches_workload():
    traced = _traced_layers(ALL_KINDS.to_module(), ALL_KINDS.input_shape)
    assert traced == _workload_layers(ALL_KINDS.to_workload())
    names = [t[0] for t in traced]
    assert "stages.1.0.shortcut" in names and "stages.1.1.shortcut" not in names
    assert "stages.3.0.expand" in names and "stages.3.1.expand" not in names
    dw = ALL_KINDS.to_workload().layers[names.index("stages.3.0.depthwise")]
    assert dw.is_depthwise and dw.C == 64 * 6


@pytest.mark.parametrize("preset", ["digits", "cifar", "imagenet"])
def test_sampled_genomes_module_matches_workload(preset):
    for seed in range(4 if preset == "imagenet" else 10):
        g = sample_genome(seed, preset)
        traced = _traced_layers(g.to_module(), g.input_shape)
        assert traced == _workload_layers(g.to_workload()), g.to_json()


def test_module_output_shape_and_residual_forward():
    m = ALL_KINDS.to_module()
    out = m(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_json_round_trip_and_stable_key():
    g = sample_genome(7, "cifar")
    text = json.dumps(g.to_dict())
    back = Genome.from_dict(json.loads(text))
    assert back == g and back.key() == g.key()
    assert Genome.from_json(g.to_json()) == g
    # a different genome, a different key
    assert sample_genome(8, "cifar").key() != g.key()
    # known value: the key depends on the canonical JSON only, not on the process
    assert len(g.key()) == 16 and int(g.key(), 16) >= 0


def test_key_is_fixed_for_a_fixed_genome():
    g = Genome((1, 8, 8), 10, stages=(StageGene((BlockGene("plain", 8, 3, 1),)),), stem_channels=8)
    import hashlib

    expected = hashlib.sha256(g.to_json().encode()).hexdigest()[:16]
    assert g.key() == expected
    assert g.to_json() == (
        '{"input_shape":[1,8,8],"num_classes":10,"stages":[{"blocks":[{"expansion":1,"kernel":3,'
        '"kind":"plain","out_channels":8,"stride":1}]}],"stem_channels":8,"stem_kernel":3,'
        '"stem_stride":1,"version":1}'
    )


def test_workload_matches_accelerators_tracing():
    from approxdse.networks import tracing
    for g in [ALL_KINDS] + sample_genomes(5, seed=3, space="cifar"):
        traced = tracing.workload_from_module(g.to_module(), (1, *g.input_shape))
        mine = g.to_workload()
        assert [l.shape_key() for l in traced.layers] == [l.shape_key() for l in mine.layers]


@pytest.mark.parametrize(
    "bad",
    [
        {"input_shape": [3, 32], "num_classes": 10, "stages": [{"blocks": [{"kind": "plain", "out_channels": 8}]}]},
        {"input_shape": [3, 32, 32], "num_classes": 10, "stages": []},
        {"input_shape": [3, 32, 32], "num_classes": 10, "stages": [{"blocks": [{"kind": "inception", "out_channels": 8}]}]},
        {"input_shape": [3, 32, 32], "num_classes": 10,
         "stages": [{"blocks": [{"kind": "plain", "out_channels": 8, "kernel": 4}]}]},
        {"input_shape": [3, 32, 32], "num_classes": 0, "stages": [{"blocks": [{"kind": "plain", "out_channels": 8}]}]},
        {"input_shape": [3, 32, 32], "stages": [{"blocks": [{"kind": "plain", "out_channels": 8}]}]},
        {"input_shape": [3, 32, 32], "num_classes": 10, "colour": 1,
         "stages": [{"blocks": [{"kind": "plain", "out_channels": 8}]}]},
        {"input_shape": [3, 32, 32], "num_classes": 10, "stages": [{"blocks": [{"kind": "plain", "width": 8}]}]},
    ],
)
def test_bad_genomes_raise_one_clear_error(bad):
    with pytest.raises(ApproxDSEError):
        Genome.from_dict(bad)
