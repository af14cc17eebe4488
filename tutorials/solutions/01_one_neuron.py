def spike_period(x, threshold=1.0):
    """Steps from one spike to the next of an IF neuron (reset to rest = 0) under a constant input x > 0 (an array)."""
    return np.ceil(threshold / x)
