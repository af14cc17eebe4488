def count_moments(p, T):
    """Mean and variance of a pixel's spike count over T steps of Poisson coding, for intensity p in [0, 1]."""
    return T * p, T * p * (1 - p)
