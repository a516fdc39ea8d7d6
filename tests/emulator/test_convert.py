"""approximate(): copies by default, per-layer multipliers, skips, unsupported layers warn."""
import warnings

import pytest
import torch

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator import ApproxConv2d, ApproxLinear, approximate, approximated_layers, calibrate


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
        self.seq = torch.nn.Conv1d(4, 4, 1)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))
        x = self.seq(x[:, :, None])[:, :, 0]
        return self.head(x)


def test_copy_by_default_and_inplace():
    net = Net()
    with pytest.warns(UserWarning, match=r"seq \(Conv1d\)"):
        q = approximate(net, "u8_exact")
    assert isinstance(net.features[0], torch.nn.Conv2d)  # original untouched
    assert isinstance(q.features[0], ApproxConv2d) and isinstance(q.head, ApproxLinear)
    assert isinstance(q.seq, torch.nn.Conv1d)
    with pytest.warns(UserWarning):
        q2 = approximate(net, "u8_exact", inplace=True)
    assert q2 is net and isinstance(net.features[2], ApproxConv2d)


def test_per_layer_dict_others_exact_or_float_and_skip():
    net = Net()
    bam = multipliers.get("u8_bam_h2_v6") if "u8_bam_h2_v6" in multipliers.names() else multipliers.get("u8_exact")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = approximate(net, {"features.0": bam})
        layers = approximated_layers(q)
        assert layers["features.0"].multiplier is bam
        assert layers["features.2"].multiplier.name == "u8_exact"
        assert layers["head"].multiplier.name == "u8_exact"
        qf = approximate(net, {"features.*": "s8_exact"}, others="float")
        assert set(approximated_layers(qf)) == {"features.0", "features.2"}
        assert approximated_layers(qf)["features.0"].multiplier.signed
        qs = approximate(net, "u8_exact", skip=["head"])
        assert set(approximated_layers(qs)) == {"features.0", "features.2"}
        with pytest.raises(ApproxDSEError, match="'nope' given a multiplier does not exist"):
            approximate(net, {"nope": "u8_exact"})
        with pytest.raises(ApproxDSEError, match="unknown multiplier"):
            approximate(net, "no_such_multiplier")
        with pytest.raises(ApproxDSEError, match="mixes signed and unsigned"):
            approximate(net, {"features.0": "u8_exact", "head": "s8_exact"})


def test_converted_model_runs_and_tracks_the_float_model():
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(4, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = approximate(net, "u8_exact")
    calibrate(q, [x])
    with torch.no_grad():
        assert torch.allclose(q(x), net(x), atol=0.05)
