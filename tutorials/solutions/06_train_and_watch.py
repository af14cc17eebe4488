def rows_with_gradient(spikes, label):
    """The output neurons c whose gs_t = dL/ds_t is non-zero at some step, under mse_rate_loss, for one digit.

    spikes: the digit's output spikes [T, C], 0 or 1; label: its class. Returns a set of ints.
    """
    rate = spikes.mean(axis=0)  # r_c
    target = np.eye(spikes.shape[1])[label]  # y_c
    # gy_t = 2 (r_c - y_c) / (N C T) at every t. If it is 0, gv_(T-1) = 0 keeps gs = gu = gv = 0 all the way back;
    # if not, gs_(T-1) = gy_(T-1) is not 0. The neurons of a layer do not share their BPTT.
    return {int(c) for c in np.flatnonzero(rate != target)}
