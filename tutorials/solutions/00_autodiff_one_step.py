ALPHA = 4.0  # the sharpness of the sigmoid surrogate, numsnn's default


class MySpike(ns.Function):
    """s = H(z) forward (the smooth f(z) = sigmoid(ALPHA z) if smooth=True); backward gz = gs * f'(z)."""

    def __init__(self, smooth=False):
        self.smooth = smooth

    def forward(self, z):
        self.save_for_backward(z)
        if self.smooth:
            return 1 / (1 + np.exp(-ALPHA * z))
        return (z >= 0).astype(z.dtype)

    def backward(self, gs):
        (z,) = self.saved
        sig = 1 / (1 + np.exp(-ALPHA * z))
        return gs * ALPHA * sig * (1 - sig)  # gz = gs * f'(z)
