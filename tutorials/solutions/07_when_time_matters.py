def truncated_gradients(model, x, gy, K):
    """dL/dW for L = sum(gy * model(x)) by truncated BPTT over windows of K steps; x [N, T, 3], gy [N, T, 2]."""
    linear1, neurons1, linear2, neurons2 = model
    model.zero_grad()
    v1 = v2 = None  # each layer's membrane state, handed from one window to the next (None: start at 0)
    for start in range(0, x.shape[1], K):
        window = slice(start, start + K)
        s1, v1 = neurons1.forward_with_state(linear1(ns.Tensor(x[:, window])), v0=v1)
        s2, v2 = neurons2.forward_with_state(linear2(s1), v0=v2)
        (s2 * gy[:, window]).sum().backward()  # this window's share of L; its graph starts at the window's edge
    return [p.grad.copy() for p in model.parameters()]
