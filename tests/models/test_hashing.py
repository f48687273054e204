import math

import pytest
import torch

from hashgnn.errors import ConfigError
from hashgnn.models.hashing import (
    STE,
    Continuous,
    GuidedSTE,
    GumbelBinarizer,
    HashLayer,
    HashNetContinuation,
    build_binarizer,
    sign,
    sign_ste,
)


def test_sign_zero_is_plus_one():
    assert sign(torch.tensor([-0.5, 0.0, 0.3])).tolist() == [-1.0, 1.0, 1.0]


def test_ste_forward_is_sign_and_gradient_is_identity():
    z = torch.tensor([-0.7, -0.1, 0.0, 0.2, 0.9], requires_grad=True)
    h = sign_ste(z)
    assert h.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    weights = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    (h * weights).sum().backward()
    assert torch.equal(z.grad, weights)


def test_ste_binarizer_gradient_is_identity_through_tanh():
    a = torch.randn(6, 8, requires_grad=True)
    out = STE()(a)
    assert set(out.unique().tolist()) <= {-1.0, 1.0}
    out.sum().backward()
    assert torch.allclose(a.grad, 1 - torch.tanh(a.detach()) ** 2)


def test_guided_uses_z_where_q_is_one_and_h_where_q_is_zero():
    torch.manual_seed(0)
    a = torch.randn(400, 32) * 0.3
    g = GuidedSTE(fixed_p=0.5)
    out = g(a)
    z = torch.tanh(a)
    is_z = torch.isclose(out, z)
    is_h = out == sign(z)
    assert bool((is_z | is_h).all())
    assert abs(is_z.float().mean().item() - 0.5) < 0.02


@pytest.mark.parametrize("p", [0.9, 0.6, 0.2])
def test_guided_mean_q_matches_p(p):
    torch.manual_seed(1)
    a = torch.full((500, 64), 0.3)
    out = GuidedSTE(fixed_p=p)(a)
    frac_z = torch.isclose(out, torch.tanh(a)).float().mean().item()
    assert abs(frac_z - p) < 0.01


def test_guided_node_draws_one_q_per_node():
    """The official code's variant: each node's whole code is z or h, with P(z) = p."""
    torch.manual_seed(2)
    a = torch.randn(2000, 16) * 0.3
    out = GuidedSTE(fixed_p=0.7, guide="node")(a)
    z = torch.tanh(a)
    row_z = torch.isclose(out, z).all(1)
    row_h = (out == sign(z)).all(1)
    assert bool((row_z | row_h).all())
    assert abs(row_z.float().mean().item() - 0.7) < 0.03


def test_ste_grad_a_copies_the_gradient_past_tanh_so_saturated_bits_still_get_it():
    a = torch.tensor([[-6.0, -0.3, 0.0, 0.4, 8.0]], requires_grad=True)
    weights = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
    out = STE(ste_grad="a")(a)
    assert out.tolist() == STE()(a).tolist() == [[-1.0, -1.0, 1.0, 1.0, 1.0]]
    (out * weights).sum().backward()
    assert torch.equal(a.grad, weights)  # the paper's "z" gives ~0 at |a| = 6 and 8 (tanh' < 1e-5)
    guided = GuidedSTE(fixed_p=0.5, guide="node", ste_grad="a")
    torch.manual_seed(0)
    b = torch.randn(64, 4, requires_grad=True)
    mixed = guided(b)
    mixed.sum().backward()
    from_z = (mixed == torch.tanh(b)).all(1, keepdim=True)  # rows whose Q drew z
    tanh_grad = 1 - torch.tanh(b.detach()) ** 2
    assert torch.allclose(b.grad, torch.where(from_z, tanh_grad, torch.ones_like(b)))
    assert 0 < from_z.sum() < 64
    with pytest.raises(ConfigError, match="ste_grad"):
        GuidedSTE(ste_grad="u")


def test_guided_rejects_unknown_guide():
    with pytest.raises(ConfigError, match="element"):
        GuidedSTE(guide="bit")


def test_guided_p_schedule_values():
    g = GuidedSTE()
    values = {}
    for it in (0, 249, 250, 499, 500, 2500):
        g.step(it)
        values[it] = g.p
    assert values[0] == 1.0 and values[249] == 1.0
    assert math.isclose(values[250], 0.95)
    assert math.isclose(values[499], 0.95)
    assert math.isclose(values[500], 0.95**2)
    assert math.isclose(values[2500], 0.95**10)
    floor = GuidedSTE(p_min=0.5)
    floor.step(10**6)
    assert floor.p == 0.5


def _p_at_epochs(steps_per_epoch: int, epochs: list[float], **kwargs) -> list[float]:
    g = GuidedSTE(p_every=3.25, unit="epoch", steps_per_epoch=steps_per_epoch, **kwargs)
    out = []
    for e in epochs:
        g.step(int(e * steps_per_epoch))
        out.append(g.p)
    return out


def test_epoch_schedule_is_the_same_at_any_data_size():
    """A 10× (and a 100×) larger dataset, so 10× the steps per epoch, goes through the same p at the same epoch;
    the step schedule does not: it decays 10× later in epochs."""
    epochs = [0, 1, 3, 3.2, 3.3, 6.5, 10, 20, 33, 40]
    small = _p_at_epochs(77, epochs)
    assert small == _p_at_epochs(770, epochs) == _p_at_epochs(7700, epochs)
    assert small[4] == pytest.approx(0.95) and small[-1] == pytest.approx(0.95 ** 12)
    in_steps = [GuidedSTE(p_every=250) for _ in range(2)]
    for g, spe in zip(in_steps, (77, 770), strict=True):
        g.step(40 * spe)
    assert in_steps[0].p == pytest.approx(0.95 ** 12) and in_steps[1].p == pytest.approx(0.95 ** 123)


def test_epoch_defaults_give_back_the_step_schedule_at_77_steps_an_epoch():
    """MovieLens-1M at batch 8192 (77 steps an epoch) keeps, step for step, the schedule it had in steps."""
    from hashgnn.config import SCHEDULE_DEFAULTS

    ep, st = SCHEDULE_DEFAULTS["epoch"], SCHEDULE_DEFAULTS["step"]
    pairs = [(GuidedSTE(p_every=ep["p_every"], unit="epoch", steps_per_epoch=77), GuidedSTE(p_every=st["p_every"])),
             (HashNetContinuation(gamma=ep["hashnet_gamma"], beta_every=ep["hashnet_every"], unit="epoch",
                                  steps_per_epoch=77),
              HashNetContinuation(gamma=st["hashnet_gamma"], beta_every=st["hashnet_every"])),
             (GumbelBinarizer(rate=ep["gumbel_rate"], tau_every=ep["gumbel_every"], unit="epoch", steps_per_epoch=77),
              GumbelBinarizer(rate=st["gumbel_rate"], tau_every=st["gumbel_every"]))]
    for in_epochs, in_steps in pairs:
        for it in range(0, 40 * 77 + 1, 7):
            in_epochs.step(it)
            in_steps.step(it)
            for key, value in in_steps.state().items():
                assert in_epochs.state()[key] == pytest.approx(value, rel=1e-12), (type(in_steps), it)


def test_hashnet_and_gumbel_schedules_count_epochs():
    hn = HashNetContinuation(gamma=0.5, beta_every=2, unit="epoch", steps_per_epoch=10)
    hn.step(19)
    assert hn.beta == 1.0
    hn.step(20)  # 2 epochs: t = 2
    assert hn.beta == pytest.approx((1 + 0.5 * 2) ** 0.5)
    hn.steps_per_epoch = 100  # 10× the data: still t = 2 at epoch 2
    hn.step(250)
    assert hn.beta == pytest.approx((1 + 0.5 * 2) ** 0.5)
    g = GumbelBinarizer(rate=0.1, tau_every=0.5, unit="epoch", steps_per_epoch=4)
    g.step(13)  # 3.25 epochs, τ from the last half epoch: t = 3
    assert g.tau == pytest.approx(math.exp(-0.3))


def test_an_epoch_schedule_needs_the_steps_per_epoch():
    g = GuidedSTE(p_every=3.25, unit="epoch")
    assert g.p == 1.0  # before the first step the schedule is at its start, whatever an epoch's length
    g.step(1)
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        _ = g.p
    assert GuidedSTE(fixed_p=0.3, unit="epoch").p == 0.3  # no schedule, nothing to count
    with pytest.raises(ConfigError, match="schedule unit"):
        GuidedSTE(unit="iteration")
    with pytest.raises(ConfigError, match="p_every"):
        GuidedSTE(p_every=0.5)  # half a step


def test_guided_p_one_is_continuous_and_p_zero_is_ste():
    a = torch.randn(5, 8)
    assert torch.equal(GuidedSTE(fixed_p=1.0)(a), Continuous()(a))
    assert torch.equal(GuidedSTE(fixed_p=0.0)(a), sign(torch.tanh(a)))


def test_guided_rejects_bad_p():
    with pytest.raises(ConfigError):
        GuidedSTE(fixed_p=1.5)
    with pytest.raises(ConfigError):
        GuidedSTE(p0=-0.1)


def test_hashnet_beta_schedule():
    hn = HashNetContinuation()
    hn.step(0)
    assert hn.beta == 1.0
    hn.step(199)
    assert hn.beta == 1.0
    hn.step(200)
    assert math.isclose(hn.beta, (1 + 0.005 * 200) ** 0.5)
    hn.step(1000)
    assert hn.beta > 2.0
    a = torch.tensor([0.5])
    hn.step(10**6)
    assert hn(a).item() > 0.999


def test_gumbel_becomes_one_hot_as_temperature_goes_to_zero():
    torch.manual_seed(0)
    g = GumbelBinarizer()
    a = torch.randn(200, 16)
    soft = g.relaxed(a, tau=1.0)
    hard = g.relaxed(a, tau=1e-3)
    assert (soft.abs() < 0.99).float().mean() > 0.3
    assert (hard.abs() > 0.999).float().mean() > 0.99
    g.step(0)
    assert g.tau == 1.0
    g.step(10**6)
    assert g.tau == pytest.approx(0.1)


def test_hash_layer_shapes_init_and_repr():
    torch.manual_seed(0)
    layer = HashLayer(68, 32)
    assert repr(layer) == "HashLayer(68, n_bits=32)"
    assert layer.linear.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.count_nonzero(layer.linear.bias) == 0
    assert layer(torch.randn(3, 68)).shape == (3, 32)


def test_typed_hash_layer_projects_users_and_items_with_their_own_weights():
    torch.manual_seed(0)
    layer = HashLayer(8, 4, init_std=0.5, n_users=3)
    assert repr(layer) == "HashLayer(8, n_bits=4, n_users=3)"
    u = torch.randn(5, 8)
    a = layer(u)  # rows are nodes 0..4: users 0-2, items 3-4
    torch.testing.assert_close(a[:3], layer.linear(u[:3]))
    torch.testing.assert_close(a[3:], layer.item_linear(u[3:]))
    assert not torch.allclose(layer.linear(u[3:]), layer.item_linear(u[3:]))
    # explicit node ids (a sampled subgraph's n_id) decide the type, not the row position
    nodes = torch.tensor([4, 0])
    torch.testing.assert_close(layer(u[:2], nodes), torch.stack([layer.item_linear(u[0]), layer.linear(u[1])]))
    # a chunk of consecutive nodes 2..4 (layer-wise inference): one user, then items
    torch.testing.assert_close(layer(u[2:], start=2), a[2:])
    torch.testing.assert_close(layer(u[3:], start=3), a[3:])  # items only
    assert HashLayer(8, 4).item_linear is None  # the paper's single ψ by default


def test_typed_hash_layer_sends_each_rows_gradient_to_its_own_projection_only():
    layer = HashLayer(8, 4, n_users=3)
    u = torch.randn(4, 8)
    layer(u[:1], torch.tensor([5])).sum().backward()  # one item row
    assert layer.linear.weight.grad is None or torch.count_nonzero(layer.linear.weight.grad) == 0
    assert torch.count_nonzero(layer.item_linear.weight.grad) > 0
    for nodes in (None, torch.tensor([0, 1, 4, 5])):
        x = u.clone().requires_grad_()
        layer(x, nodes).pow(2).sum().backward()
        assert torch.count_nonzero(x.grad.abs().sum(1)) == 4  # every row, whichever path, gets its gradient


def test_unknown_method_lists_choices():
    with pytest.raises(ConfigError, match="guided"):
        build_binarizer("nope")


def test_an_ended_schedule_is_at_its_floor_from_that_step_on():
    """``ended_at`` (set by a validation plateau, train.end_schedule_on_plateau): guided's p is p_min and
    Gumbel's τ is τ_min from that iteration, whatever the schedule says; before it the schedule is untouched."""
    g = GuidedSTE(p_every=10, p_min=0.05)
    g.step(25)
    assert g.p == pytest.approx(0.95 ** 2) and g.schedule_running()
    g.ended_at = 30
    assert g.p == pytest.approx(0.95 ** 2)  # not yet
    g.step(30)
    assert g.p == 0.05 and not g.schedule_running()
    gumbel = GumbelBinarizer(rate=0.01, tau_min=0.2, tau_every=1)
    gumbel.step(5)
    assert gumbel.schedule_running()
    gumbel.ended_at = 5
    assert gumbel.tau == 0.2 and not gumbel.schedule_running()


def test_only_schedules_with_a_floor_left_to_reach_are_running():
    assert not GuidedSTE(fixed_p=0.7).schedule_running()  # Figure 7's fixed p has no schedule
    assert not STE().schedule_running() and not Continuous().schedule_running()
    assert not HashNetContinuation().schedule_running()  # β grows without a floor to end at
    assert not GuidedSTE(p0=0.1, p_min=0.1).schedule_running()  # already at its floor
