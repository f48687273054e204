import math

import pytest
import torch

from hashgnn.losses import bpr_rank, gather_rows, hashgnn_loss, link_bce, triplet_rank


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_triplet_hinge_on_hand_computed_triplets():
    pos = torch.tensor([2.0, -1.0])
    neg = torch.tensor([[1.0, 3.0], [-4.0, -1.0]])
    expected = [
        max(0.0, -sig(2.0) + sig(1.0) + 0.2),
        max(0.0, -sig(2.0) + sig(3.0) + 0.2),
        max(0.0, -sig(-1.0) + sig(-4.0) + 0.2),
        max(0.0, -sig(-1.0) + sig(-1.0) + 0.2),
    ]
    assert math.isclose(triplet_rank(pos, neg, 0.2).item(), sum(expected) / 4, rel_tol=1e-6)


def test_triplet_is_zero_when_margin_is_met():
    pos = torch.tensor([20.0])
    neg = torch.tensor([[-20.0, -30.0]])
    assert triplet_rank(pos, neg, 0.2).item() == 0.0


def test_link_bce_hand_computed():
    pos = torch.tensor([1.0])
    neg = torch.tensor([[0.0, 2.0]])
    expected = -math.log(sig(1.0)) + 0.5 * (-math.log(1 - sig(0.0)) - math.log(1 - sig(2.0)))
    assert math.isclose(link_bce(pos, neg).item(), expected, rel_tol=1e-6)


def test_total_loss_is_cross_plus_lambda_rank():
    pos, neg = torch.randn(8), torch.randn(8, 5)
    total, cross, rank = hashgnn_loss(pos, neg, lam=0.5, margin=0.2)
    assert math.isclose(total.item(), cross.item() + 0.5 * rank.item(), rel_tol=1e-6)
    total0, cross0, rank0 = hashgnn_loss(pos, neg, lam=0.0)
    assert rank0.item() == 0.0 and math.isclose(total0.item(), cross0.item())


def test_bpr_rank_hand_computed_and_used_when_asked():
    pos = torch.tensor([2.0, -1.0])
    neg = torch.tensor([[1.0, 3.0], [-4.0, -1.0]])
    pairs = [(2.0, 1.0), (2.0, 3.0), (-1.0, -4.0), (-1.0, -1.0)]
    softplus = [math.log1p(math.exp(n - p)) for p, n in pairs]
    assert math.isclose(bpr_rank(pos, neg).item(), sum(softplus) / 4, rel_tol=1e-6)
    _, _, rank = hashgnn_loss(pos, neg, lam=0.5, rank_loss="bpr")
    assert math.isclose(rank.item(), sum(softplus) / 4, rel_tol=1e-6)
    # unlike eq. 6 it still has a gradient when both sigmoids saturate
    p, n = torch.tensor([30.0], requires_grad=True), torch.tensor([[25.0]])
    bpr_rank(p, n).backward()
    assert p.grad.item() < 0


def test_batch_objective_adds_the_weighted_objective_on_z():
    from hashgnn.losses import batch_objective, pair_scores

    g = torch.Generator().manual_seed(0)
    a = torch.randn(7, 8, generator=g, requires_grad=True)
    h = torch.sign(a.detach())  # codes carry no gradient: only the z term can reach a
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([4, 5]), torch.tensor([[2, 3, 6], [6, 4, 2]])
    plain, cross, rank = batch_objective(h, a, users, pos, neg, 0.5, 0.5, 0.2, "hinge")
    assert torch.allclose(plain, hashgnn_loss(*pair_scores(h, users, pos, neg, 0.5), 0.5, 0.2, "hinge")[0])
    joint, cross2, rank2 = batch_objective(h, a, users, pos, neg, 0.5, 0.5, 0.2, "hinge", z_weight=2.0)
    z_only = hashgnn_loss(*pair_scores(torch.tanh(a), users, pos, neg, 0.5), 0.5, 0.2, "hinge")[0]
    assert torch.allclose(joint, plain + 2.0 * z_only)
    assert torch.equal(cross, cross2) and torch.equal(rank, rank2)  # logged terms stay the codes'
    joint.backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    # scores: scale * <r_u, r_i> for links, one row of T negatives per link
    pos_s, neg_s = pair_scores(h, users, pos, neg, 0.5)
    assert torch.allclose(pos_s[1], 0.5 * (h[1] * h[5]).sum())
    assert torch.allclose(neg_s[0, 2], 0.5 * (h[0] * h[6]).sum())


def test_quantization_gap_and_its_weight_in_the_objective():
    from hashgnn.losses import batch_objective, quantization_gap

    assert quantization_gap(torch.tensor([[1.0, -1.0], [-1.0, 1.0]])).item() == 0.0
    assert torch.isclose(quantization_gap(torch.tensor([[0.5, -0.5]])), torch.tensor(0.25))
    g = torch.Generator().manual_seed(1)
    a = torch.randn(7, 8, generator=g, requires_grad=True)
    h = torch.sign(a.detach())
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([4, 5]), torch.tensor([[2, 3, 6], [6, 4, 2]])
    plain = batch_objective(h, a, users, pos, neg, 1.0, 0.5, 0.2, "bpr")[0]
    with_q = batch_objective(h, a, users, pos, neg, 1.0, 0.5, 0.2, "bpr", quant_weight=0.3)[0]
    rows = torch.tensor([0, 1, 4, 5, 2, 3, 6, 6, 4, 2])  # the batch's nodes, as often as they occur
    assert torch.allclose(with_q, plain + 0.3 * quantization_gap(torch.tanh(a[rows])))
    with_q.backward()
    assert a.grad[rows].abs().sum() > 0 and a.grad[[0, 1, 2, 3, 4, 5, 6]].abs().sum() > 0
    # pulling z towards its code: a step along -grad of the gap alone shrinks the gap
    a2 = a.detach().clone().requires_grad_(True)
    quantization_gap(torch.tanh(a2)).backward()
    assert quantization_gap(torch.tanh(a2 - 0.1 * a2.grad)) < quantization_gap(torch.tanh(a2.detach()))


def test_bit_balance_is_zero_for_balanced_orthogonal_bits_and_positive_otherwise():
    from hashgnn.losses import bit_balance

    hadamard = torch.tensor([[1.0, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    balanced = hadamard[:, 1:]  # each column half +1 / half -1, columns orthogonal
    assert bit_balance(balanced).item() == 0.0
    # one constant bit: its mean 1 gives 1/K; it is orthogonal to the balanced bits, so the Gram term stays 0
    constant = balanced.clone()
    constant[:, 0] = 1.0
    assert torch.isclose(bit_balance(constant), torch.tensor(1 / 3))
    copied = balanced.clone()
    copied[:, 1] = copied[:, 0]  # two identical bits: Gram off-diagonals (0,1), (1,0) become 1
    assert torch.isclose(bit_balance(copied), torch.tensor(2 / 9))


def test_balance_weight_in_the_objective_uses_distinct_users_and_items_separately():
    from hashgnn.losses import batch_objective, bit_balance

    g = torch.Generator().manual_seed(2)
    a = torch.randn(7, 8, generator=g, requires_grad=True)
    h = torch.sign(a.detach())
    users, pos, neg = torch.tensor([0, 1, 0]), torch.tensor([4, 5, 4]), torch.tensor([[2, 3], [6, 4], [2, 3]])
    plain = batch_objective(h, a, users, pos, neg, 1.0, 0.5, 0.2, "bpr")[0]
    with_b = batch_objective(h, a, users, pos, neg, 1.0, 0.5, 0.2, "bpr", balance_weight=0.5)[0]
    z = torch.tanh(a)
    expected = plain + 0.5 * (bit_balance(z[[0, 1]]) + bit_balance(z[[2, 3, 4, 5, 6]]))
    assert torch.allclose(with_b, expected)
    with_b.backward()
    assert a.grad.abs().sum() > 0


def test_z_scale_sets_the_score_scale_of_the_objective_on_z_only():
    from hashgnn.losses import batch_objective, hashgnn_loss, pair_scores

    g = torch.Generator().manual_seed(3)
    a = torch.randn(7, 8, generator=g)
    h = torch.sign(a)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([4, 5]), torch.tensor([[2, 3], [6, 4]])
    codes_only = batch_objective(h, a, users, pos, neg, 0.25, 0.5, 0.2, "bpr")[0]
    z_at = {s: hashgnn_loss(*pair_scores(torch.tanh(a), users, pos, neg, s), 0.5, 0.2, "bpr")[0] for s in (0.25, 1.0)}
    same = batch_objective(h, a, users, pos, neg, 0.25, 0.5, 0.2, "bpr", z_weight=1.0)[0]
    own = batch_objective(h, a, users, pos, neg, 0.25, 0.5, 0.2, "bpr", z_weight=1.0, z_scale=1.0)[0]
    assert torch.allclose(same, codes_only + z_at[0.25]) and torch.allclose(own, codes_only + z_at[1.0])
    assert not torch.allclose(same, own)


def test_quant_start_switches_the_quantisation_term_on_at_that_epoch():
    from hashgnn.config import TrainConfig

    tcfg = TrainConfig(quant_weight=0.1, quant_start=21)
    assert [tcfg.extra_terms(e)["quant_weight"] for e in (1, 20, 21, 40)] == [0.0, 0.0, 0.1, 0.1]
    assert TrainConfig(quant_weight=0.1).extra_terms(1)["quant_weight"] == 0.1  # default: from the first epoch


def test_softmax_rank_is_the_cross_entropy_of_the_positive_among_its_negatives():
    from hashgnn.losses import softmax_rank

    pos = torch.tensor([2.0, 0.0])
    neg = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    expected = (-math.log(math.e**2 / (math.e**2 + math.e + 1)) - math.log(1 / 3)) / 2
    assert softmax_rank(pos, neg).item() == pytest.approx(expected, rel=1e-6)
    # a far better positive costs almost nothing; one negative far above the positive costs about the gap
    assert softmax_rank(torch.tensor([50.0]), torch.tensor([[0.0, 0.0]])).item() < 1e-6
    assert softmax_rank(torch.tensor([0.0]), torch.tensor([[30.0, 0.0]])).item() == pytest.approx(30.0, abs=1e-6)


def test_shared_negatives_join_the_softmax_and_masked_ones_drop_out():
    from hashgnn.losses import hashgnn_loss, shared_negative_scores, softmax_rank

    rep = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0], [-1.0, 3.0]])
    users, shared = torch.tensor([0, 1]), torch.tensor([3, 4])
    taken = torch.tensor([[False, True], [False, False]])  # user 0 has item 4 in train
    scores = shared_negative_scores(rep, users, shared, taken, scale=0.5)
    assert scores[0, 0].item() == 1.0 and scores[0, 1].item() == float("-inf")
    assert scores[1].tolist() == [-0.5, 1.5]
    pos, neg = torch.tensor([2.0, 0.0]), torch.tensor([[1.0], [0.0]])
    # the masked entry counts for nothing: row 0 is the softmax over (2, 1, 1), row 1 over (0, 0, -0.5, 1.5)
    expected = (-math.log(math.e**2 / (math.e**2 + 2 * math.e))
                - math.log(1 / (2 + math.exp(-0.5) + math.exp(1.5)))) / 2
    assert softmax_rank(pos, neg, scores).item() == pytest.approx(expected, rel=1e-6)
    assert softmax_rank(pos, neg, scores).item() > softmax_rank(pos, neg).item()
    with pytest.raises(ValueError, match="softmax"):
        hashgnn_loss(pos, neg, rank_loss="bpr", shared_scores=scores)


def test_score_distillation_is_minimal_when_the_student_ranks_like_the_teacher_and_ignores_masked():
    from hashgnn.losses import score_distillation

    teacher = torch.tensor([[3.0, 1.0, 0.0, float("-inf")]])
    same = score_distillation(teacher.clone().nan_to_num(neginf=-50.0), teacher)
    reversed_ = score_distillation(torch.tensor([[0.0, 1.0, 3.0, 5.0]]), teacher)
    assert same.item() < reversed_.item()
    p = torch.softmax(teacher, -1)
    assert same.item() == pytest.approx(-(p[0, :3] * p[0, :3].log()).sum().item(), rel=1e-4)  # the entropy
    student = torch.zeros(1, 4, requires_grad=True)
    score_distillation(student, teacher).backward()
    assert torch.isfinite(student.grad).all()
    assert student.grad[0, 0] < 0 < student.grad[0, 3]  # raise the teacher's top, lower the masked candidate
    teacher_req = torch.tensor([[3.0, 1.0, 0.0, -1.0]], requires_grad=True)
    score_distillation(torch.zeros(1, 4, requires_grad=True), teacher_req).backward()
    assert teacher_req.grad is None  # the teacher is not trained by this term


def test_link_bias_shifts_only_the_link_term():
    from hashgnn.losses import hashgnn_loss, link_bce

    pos, neg = torch.tensor([3.0, 1.0]), torch.tensor([[2.0, 0.5], [1.5, -1.0]])
    b = torch.tensor(-1.5)
    assert link_bce(pos, neg, b).item() == pytest.approx(link_bce(pos + b, neg + b).item(), rel=1e-6)
    for rank_loss in ("bpr", "softmax"):  # shift-invariant ranking terms: b changes only L_cross
        _, cross0, rank0 = hashgnn_loss(pos, neg, rank_loss=rank_loss)
        _, cross1, rank1 = hashgnn_loss(pos, neg, rank_loss=rank_loss, bias=b)
        assert rank1.item() == pytest.approx(rank0.item(), rel=1e-6)
        assert cross1.item() != pytest.approx(cross0.item())
    # scores all positive: a negative offset is what eq. 5 needs, so its gradient on b is positive
    b = torch.zeros((), requires_grad=True)
    link_bce(pos, neg, b).backward()
    assert b.grad.item() > 0


def test_gather_rows_equals_advanced_indexing_forward_and_backward() -> None:
    x = torch.randn(7, 3, requires_grad=True)
    index = torch.tensor([[0, 6, 6], [2, 0, 5]])  # 2-D with repeated rows: their gradients add up
    weight = torch.randn(2, 3, 3)
    (gather_rows(x, index) * weight).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (x[index] * weight).sum().backward()
    assert torch.equal(gather_rows(x, index), x[index]) and gather_rows(x, index).shape == (2, 3, 3)
    torch.testing.assert_close(ours, x.grad)
