class TrueStep(Surrogate):
    """The spike's true derivative: forward H(z), smooth step H(z) itself, derivative H'(z)."""

    def smooth(self, z):
        return self.forward(z)  # H itself: nothing smooth about the true step

    def derivative(self, z):
        return np.zeros_like(z)  # H'(z) = 0 for z != 0; at z = 0, H's derivative from the right, also 0
