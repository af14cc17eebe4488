def if_backward(u, s, gy, f_prime, beta, threshold, rest, reset, detach_reset):
    """BPTT of one neuron: u, s, gy, f_prime [T] -> gs = dL/ds, gu = dL/du, each [T]."""
    gs, gu = np.empty_like(u), np.empty_like(u)
    gv = 0.0  # dL/dv_{T-1}: nothing depends on the last v
    for t in reversed(range(len(u))):
        if reset == "rest":
            dv_du, dv_ds = 1 - s[t], rest - u[t]
        elif reset == "subtract":
            dv_du, dv_ds = 1.0, -threshold
        else:
            dv_du, dv_ds = 1.0, 0.0
        gs[t] = gy[t] if detach_reset else gy[t] + gv * dv_ds
        gu[t] = gv * dv_du + gs[t] * f_prime[t]
        gv = beta * gu[t]
    return gs, gu
