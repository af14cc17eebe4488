"""Optimizers and schedules against hand-written update equations, torch.optim (if installed) and their saved state."""

import math

import numpy as np
import pytest

import numsnn as ns
from numsnn import optim
from numsnn.optim import SGD, Adam, CosineAnnealingLR, StepLR

P0 = np.array([1.0, -2.0, 3.0])
GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.25, 0.5, 1.0]), np.array([1.0, 1.0, -3.0])]


def param(values=P0, dtype=np.float64) -> ns.Tensor:
    return ns.Tensor(np.array(values, dtype=dtype), requires_grad=True)


def run(optimizer, p, grads):
    """Feed ``grads`` one per step and return the parameter values after each step."""
    out = []
    for g in grads:
        p.grad = np.array(g, dtype=p.dtype)
        optimizer.step()
        out.append(p.data.copy())
    return out


# --- SGD -----------------------------------------------------------------------------------
def test_sgd_plain_by_hand():
    p = param([1.0, 2.0])
    p.grad = np.array([0.5, -1.0])
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, 2.0 + 0.1], rtol=0, atol=1e-15)


def test_sgd_momentum_by_hand():
    lr, mu = 0.1, 0.9
    p1, p2, p3 = run(SGD([p := param()], lr=lr, momentum=mu), p, GRADS)
    b1 = GRADS[0]  # the first step starts the buffer at the gradient
    b2 = mu * b1 + GRADS[1]
    b3 = mu * b2 + GRADS[2]
    np.testing.assert_allclose(p1, P0 - lr * b1, rtol=1e-14)
    np.testing.assert_allclose(p2, P0 - lr * b1 - lr * b2, rtol=1e-14)
    np.testing.assert_allclose(p3, P0 - lr * (b1 + b2 + b3), rtol=1e-14)
    # Written out for the first element: b = 0.5, 0.9*0.5 - 0.25 = 0.2; p = 1 - 0.05 - 0.02.
    assert p2[0] == pytest.approx(0.93, abs=1e-15)


def test_sgd_nesterov_by_hand():
    lr, mu = 0.1, 0.9
    steps = run(SGD([p := param()], lr=lr, momentum=mu, nesterov=True), p, GRADS)
    expected, w, b = [], P0.copy(), None
    for g in GRADS:
        b = g if b is None else mu * b + g
        w = w - lr * (g + mu * b)  # look ahead along the updated buffer
        expected.append(w)
    np.testing.assert_allclose(steps, expected, rtol=1e-14)
    np.testing.assert_allclose(steps[0], P0 - lr * 1.9 * GRADS[0], rtol=1e-14)


def test_sgd_weight_decay_by_hand():
    lr, wd = 0.1, 0.01
    p1, p2 = run(SGD([p := param()], lr=lr, weight_decay=wd), p, GRADS[:2])
    np.testing.assert_allclose(p1, P0 - lr * (GRADS[0] + wd * P0), rtol=1e-14)
    np.testing.assert_allclose(p2, p1 - lr * (GRADS[1] + wd * p1), rtol=1e-14)


def test_sgd_momentum_and_weight_decay_by_hand():
    lr, mu, wd = 0.05, 0.5, 0.1
    p1, p2 = run(SGD([p := param()], lr=lr, momentum=mu, weight_decay=wd), p, GRADS[:2])
    b1 = GRADS[0] + wd * P0
    np.testing.assert_allclose(p1, P0 - lr * b1, rtol=1e-14)
    b2 = mu * b1 + GRADS[1] + wd * p1  # decay enters the buffer
    np.testing.assert_allclose(p2, p1 - lr * b2, rtol=1e-14)


# --- Adam ----------------------------------------------------------------------------------
def adam_by_hand(p, grads, lr, beta1, beta2, eps, wd=0.0):
    """Textbook Adam with explicitly bias-corrected moments m_hat, v_hat."""
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_by_hand(wd):
    lr, betas, eps = 0.01, (0.8, 0.95), 1e-6
    steps = run(Adam([p := param()], lr=lr, betas=betas, eps=eps, weight_decay=wd), p, GRADS)
    np.testing.assert_allclose(steps, adam_by_hand(P0, GRADS, lr, *betas, eps, wd), rtol=1e-13)


def test_adam_first_step_moves_by_lr_times_sign():
    # m_hat = g and v_hat = g^2 after one step, so the step is lr * g / (|g| + eps).
    lr, eps = 0.01, 1e-8
    (p1,) = run(Adam([p := param()], lr=lr, eps=eps), p, GRADS[:1])
    np.testing.assert_allclose(
        p1, P0 - lr * np.sign(GRADS[0]) * np.abs(GRADS[0]) / (np.abs(GRADS[0]) + eps), rtol=1e-14
    )
    np.testing.assert_allclose(np.abs(p1 - P0), lr, rtol=1e-6)


def test_adam_counts_steps_per_parameter():
    # A parameter without a gradient at step 1 takes its own first (bias-corrected) step at step 2.
    a, b = param(), param()
    opt = Adam([a, b], lr=0.01)
    a.grad = GRADS[0].copy()
    opt.step()
    np.testing.assert_array_equal(b.data, P0)
    a.grad, b.grad = GRADS[1].copy(), GRADS[1].copy()
    opt.step()
    np.testing.assert_allclose(b.data, adam_by_hand(P0, GRADS[1:2], 0.01, 0.9, 0.999, 1e-8)[0], rtol=1e-14)
    assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1


# --- both ----------------------------------------------------------------------------------
OPTIMIZERS = [
    lambda ps: SGD(ps, lr=0.1),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: Adam(ps, lr=0.01),
    lambda ps: Adam(ps, lr=0.01, weight_decay=0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_float32_stays_float32(make):
    p = param(dtype=np.float32)
    values = p.data
    opt = make([p])
    steps = run(opt, p, GRADS)
    assert p.data is values, "the update must be in place"
    assert p.dtype == np.float32 and all(s.dtype == np.float32 for s in steps)
    assert all(v.dtype == np.float32 for s in opt.state for v in s.values() if isinstance(v, np.ndarray))
    # Same steps in float64 agree to float32 precision.
    p64 = param()
    np.testing.assert_allclose(steps, run(make([p64]), p64, GRADS), rtol=1e-5)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_params_without_grad_are_untouched(make):
    a, b = param(), param()
    opt = make([a, b])
    a.grad = GRADS[0].copy()
    opt.step()
    np.testing.assert_array_equal(b.data, P0)
    assert opt.state[1] == {}
    assert not np.array_equal(a.data, P0)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_zero_grad(make):
    a, b = param(), param()
    a.grad, b.grad = GRADS[0].copy(), GRADS[1].copy()
    make([a, b]).zero_grad()
    assert a.grad is None and b.grad is None


def test_step_after_backward_through_a_model():
    model = ns.nn.Linear(3, 2, rng=np.random.default_rng(0))
    W0 = model.weight.data.copy()
    x = np.ones((4, 3), dtype=np.float32)
    model(x).sum().backward()
    SGD(model.parameters(), lr=0.5).step()
    # d(sum_n x_n W^T)/dW = 4 for every weight when x is all ones.
    np.testing.assert_allclose(model.weight.data, W0 - 0.5 * 4, rtol=1e-6)


def test_grad_of_wrong_dtype_or_shape_is_an_error():
    p = param(dtype=np.float32)
    opt = SGD([p], lr=0.1)
    p.grad = GRADS[0]  # float64 grad for a float32 parameter
    with pytest.raises(ValueError, match=r"parameter 0 .*float32.*grad .*float64"):
        opt.step()
    p.grad = np.ones(4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(4,\)"):
        opt.step()


def test_state_of_wrong_dtype_after_model_to_is_an_error():
    model = ns.nn.Linear(3, 2, rng=np.random.default_rng(0))
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(np.ones((1, 3), dtype=np.float32)).sum().backward()
    opt.step()
    model.to(np.float64)
    model(np.ones((1, 3))).sum().backward()
    with pytest.raises(ValueError, match="momentum_buffer.*float32.*make a new optimizer"):
        opt.step()


@pytest.mark.parametrize(
    "params, error, match",
    [
        ([], ValueError, "empty parameter list"),
        (ns.Tensor([1.0], requires_grad=True), TypeError, "got one Tensor"),
        ([np.ones(3)], TypeError, "parameter 0 must be a Tensor, got ndarray"),
        ([ns.Tensor([1.0])], ValueError, "requires_grad=True.*requires_grad=False"),
        (5, TypeError, "iterable of tensors, got int"),
    ],
)
def test_bad_params(params, error, match):
    with pytest.raises(error, match=match):
        SGD(params, lr=0.1)


def test_repeated_param_is_an_error():
    p = param()
    with pytest.raises(ValueError, match="more than once"):
        Adam([p, p])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda ps: SGD(ps, lr=-0.1), "lr must be >= 0"),
        (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), "momentum must be >= 0"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay must be >= 0"),
        (lambda ps: SGD(ps, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda ps: SGD(ps, lr=float("nan")), "lr must be a finite number"),
        (lambda ps: Adam(ps, lr=-1e-3), "lr must be >= 0"),
        (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"betas must both be in \[0, 1\)"),
        (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"betas must both be in \[0, 1\)"),
        (lambda ps: Adam(ps, betas=0.9), "pair"),
        (lambda ps: Adam(ps, eps=0.0), "eps must be a positive finite number"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make([param()])


def test_lr_attribute_is_checked():
    opt = SGD([param()], lr=0.1)
    opt.lr = np.float64(0.5)
    assert type(opt.lr) is float and opt.lr == 0.5
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.lr = -1.0


# --- against torch.optim -------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", dict(lr=0.1)),
        ("SGD", dict(lr=0.1, momentum=0.9)),
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05)),
        ("Adam", dict(lr=0.01)),
        ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ],
)
def test_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0, grads = rng.normal(size=(3, 4)), rng.normal(size=(4, 3, 4))
    p = param(w0)
    ours = getattr(optim, name)([p], **kwargs)
    tp = torch.tensor(w0, requires_grad=True)
    theirs = getattr(torch.optim, name)([tp], **kwargs)
    for g in grads:
        p.grad = g.copy()
        ours.step()
        tp.grad = torch.tensor(g)
        theirs.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


# --- schedules -----------------------------------------------------------------------------
def lr_sequence(scheduler, epochs):
    lrs = [scheduler.optimizer.lr]
    for _ in range(epochs):
        scheduler.step()
        lrs.append(scheduler.optimizer.lr)
        assert scheduler.get_last_lr() == [lrs[-1]]
    return lrs


def test_step_lr():
    sched = StepLR(SGD([param()], lr=0.1), step_size=2, gamma=0.5)
    np.testing.assert_allclose(lr_sequence(sched, 6), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125], rtol=1e-15)
    assert sched.last_epoch == 6


def test_cosine_annealing_lr():
    base, eta_min, T_max = 0.1, 0.001, 10
    sched = CosineAnnealingLR(Adam([param()], lr=base), T_max=T_max, eta_min=eta_min)
    lrs = lr_sequence(sched, 2 * T_max)
    expected = [eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2 for e in range(2 * T_max + 1)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    assert lrs[0] == base and lrs[T_max] == pytest.approx(eta_min, abs=1e-17)
    assert lrs[T_max // 2] == pytest.approx((base + eta_min) / 2, rel=1e-14)
    assert all(a > b for a, b in zip(lrs[:T_max], lrs[1 : T_max + 1], strict=True))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda opt: StepLR(opt, step_size=0), "step_size must be a positive integer"),
        (lambda opt: StepLR(opt, step_size=1.5), "step_size must be an integer"),
        (lambda opt: StepLR(opt, step_size=2, gamma=0.0), "gamma must be a positive finite number"),
        (lambda opt: CosineAnnealingLR(opt, T_max=0), "T_max must be a positive integer"),
        (lambda opt: CosineAnnealingLR(opt, T_max=5, eta_min=-1.0), "eta_min must be >= 0"),
        (lambda opt: StepLR("not an optimizer", step_size=2), "expects an Optimizer, got str"),
    ],
)
def test_bad_schedule_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(SGD([param()], lr=0.1))


@pytest.mark.parametrize(
    "name, kwargs", [("StepLR", dict(step_size=3, gamma=0.5)), ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01))]
)
def test_schedules_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = getattr(optim, name)(SGD([param()], lr=0.1), **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), **kwargs
    )
    for _ in range(10):
        ours.step()
        theirs.optimizer.step()  # torch warns when the schedule steps before the optimizer
        theirs.step()
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)


# --- state_dict ----------------------------------------------------------------------------
def make_run(seed):
    """A tiny regression model, Adam with weight decay and a cosine schedule."""
    model = ns.nn.Linear(4, 3, bias=True, rng=np.random.default_rng(seed))
    optimizer = Adam(model.parameters(), lr=0.05, weight_decay=0.01)
    return model, optimizer, CosineAnnealingLR(optimizer, T_max=6, eta_min=0.001)


def train_epochs(model, optimizer, scheduler, epochs, steps=3):
    data = np.random.default_rng(2)
    x, y = data.normal(size=(8, 4)).astype(np.float32), data.normal(size=(8, 3)).astype(np.float32)
    for _ in range(epochs):
        for _ in range(steps):
            optimizer.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("through_npz", [False, True])
def test_resumed_training_is_bit_identical(tmp_path, through_npz):
    model, optimizer, scheduler = make_run(seed=0)
    train_epochs(model, optimizer, scheduler, 6)

    model_a, optimizer_a, scheduler_a = make_run(seed=0)
    train_epochs(model_a, optimizer_a, scheduler_a, 3)
    saved = model_a.state_dict(), optimizer_a.state_dict(), scheduler_a.state_dict()
    if through_npz:
        for name, state in zip("mos", saved, strict=True):
            np.savez(tmp_path / f"{name}.npz", allow_pickle=False, **state)
        saved = [dict(np.load(tmp_path / f"{name}.npz", allow_pickle=False)) for name in "mos"]
    train_epochs(model_a, optimizer_a, scheduler_a, 1)  # later steps must not change what was saved

    model_b, optimizer_b, scheduler_b = make_run(seed=1)
    for owner, state in zip((model_b, optimizer_b, scheduler_b), saved, strict=True):
        owner.load_state_dict(state)
    assert optimizer_b.lr == scheduler_b.lr_at(3) and scheduler_b.last_epoch == 3
    train_epochs(model_b, optimizer_b, scheduler_b, 3)

    for name, w in model.state_dict().items():
        assert np.array_equal(model_b.state_dict()[name], w), name
    assert optimizer_b.lr == optimizer.lr
    for key, value in optimizer.state_dict().items():
        assert np.array_equal(optimizer_b.state_dict()[key], value), key


def test_state_dict_contents():
    p = param(dtype=np.float32)
    opt = SGD([p, param()], lr=0.1, momentum=0.9)
    run(opt, p, GRADS[:1])
    state = opt.state_dict()
    assert sorted(state) == ["lr", "momentum", "nesterov", "state.0.momentum_buffer", "weight_decay"]
    assert state["state.0.momentum_buffer"].dtype == np.float32
    adam = Adam([p], betas=(0.8, 0.9))
    run(adam, p, GRADS[:2])
    state = adam.state_dict()
    assert sorted(state) == [
        "betas",
        "eps",
        "lr",
        "state.0.exp_avg",
        "state.0.exp_avg_sq",
        "state.0.step",
        "weight_decay",
    ]
    assert state["state.0.step"] == 2 and state["betas"].tolist() == [0.8, 0.9]


def trained_adam(dtype=np.float64):
    p = param(dtype=dtype)
    opt = Adam([p], lr=0.01)
    run(opt, p, GRADS[:2])
    return opt


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda s: s.pop("eps"), r"missing keys \['eps'\]"),
        (lambda s: s.update({"state.1.exp_avg": np.zeros(3)}), r"unexpected keys \['state.1.exp_avg'\]"),
        (lambda s: s.update({"momentum": 0.9}), r"unexpected keys \['momentum'\]"),
        (lambda s: s.update({"state.0.exp_avg": np.zeros(4)}), r"state.0.exp_avg: expected shape \(3,\), got \(4,\)"),
        (lambda s: s.update({"state.0.exp_avg_sq": np.zeros(3, np.float32)}), "expected dtype float64, got float32"),
        (lambda s: s.pop("state.0.exp_avg_sq"), r"state.0: has \['exp_avg', 'step'\] but needs all"),
        (lambda s: s.update({"betas": np.array([0.9, 1.5])}), r"betas must both be in \[0, 1\)"),
        (lambda s: s.update({"betas": 0.9}), "betas: expected 2 numbers"),
        (lambda s: s.update({"lr": "fast"}), "lr: expected a number"),
        (lambda s: s.update({"state.0.step": 1.5}), "state.0.step: expected an integer"),
    ],
)
def test_load_state_dict_errors_say_what_differs(edit, match):
    state = trained_adam().state_dict()
    edit(state)
    fresh = Adam([param()], lr=0.5)
    with pytest.raises(ValueError, match=match):
        fresh.load_state_dict(state)
    assert fresh.lr == 0.5 and fresh.state == [{}], "a failed load must change nothing"


def test_sgd_state_into_adam_is_an_error():
    match = r"missing keys \['betas', 'eps'\]; unexpected keys \['momentum', 'nesterov'\]"
    with pytest.raises(ValueError, match=match):
        Adam([param()]).load_state_dict(SGD([param()], lr=0.1).state_dict())


def test_scheduler_load_state_dict_errors():
    state = StepLR(SGD([param()], lr=0.1), step_size=3).state_dict()
    assert state == {"base_lr": 0.1, "last_epoch": 0, "step_size": 3, "gamma": 0.1}
    with pytest.raises(ValueError, match=r"missing keys \['T_max', 'eta_min'\]"):
        CosineAnnealingLR(SGD([param()], lr=0.1), T_max=5).load_state_dict(state)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        StepLR(SGD([param()], lr=0.1), step_size=3).load_state_dict({**state, "step_size": 0})
    with pytest.raises(ValueError, match="last_epoch: expected an integer"):
        StepLR(SGD([param()], lr=0.1), step_size=3).load_state_dict({**state, "last_epoch": 2.0})
