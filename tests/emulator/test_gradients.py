"""Straight-through gradients: finite, right shapes, exact forward values, fine-tuning moves the loss."""
import torch

from approxdse.emulator import approximate, calibrate
from approxdse.emulator.oracles import structured_test_multipliers


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(4, 4, 3, padding=1, groups=4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3),
    )


def test_gradients_are_finite_and_shaped_like_the_parameters():
    x = torch.randn(5, 1, 6, 6, requires_grad=True)
    for mult in ("u8_exact", structured_test_multipliers(True)["random"]):
        for mode in ("lut", "noise"):
            q = approximate(_model(), mult, mode=mode)
            calibrate(q, [x.detach()])
            out = q(x)
            out.square().sum().backward()
            for name, p in q.named_parameters():
                assert p.grad is not None and p.grad.shape == p.shape, name
                assert torch.isfinite(p.grad).all(), name
            assert x.grad is not None and torch.isfinite(x.grad).all()
            x.grad = None


def test_forward_value_with_grad_equals_inference_value():
    q = approximate(_model(), structured_test_multipliers(False)["random"])
    x = torch.rand(3, 1, 6, 6)
    calibrate(q, [x])
    with torch.no_grad():
        inference = q(x)
    training = q(x.requires_grad_())
    assert training.requires_grad
    assert torch.equal(training.detach(), inference)


def test_fine_tuning_through_the_approximate_forward_lowers_the_loss():
    torch.manual_seed(1)
    x = torch.randn(32, 1, 6, 6)
    y = torch.randint(0, 3, (32,))
    q = approximate(_model(), structured_test_multipliers(False)["bam"], mode="lut")
    calibrate(q, [x])
    opt = torch.optim.Adam(q.parameters(), lr=0.02)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(q(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]
