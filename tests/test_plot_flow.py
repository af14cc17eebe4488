"""bptt_flow draws the explain table's own numbers, and each node is the sum of the edges drawn into it."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.patches import FancyArrowPatch

import numsnn as ns
from numsnn import plot
from numsnn.plot.flow import MAX_STEPS, PATHS

X = [0.6, 0.3, 0.5, 0.9, 0.2, 0.4, -0.3, 0.8]  # fires at some steps, silent at others
GY = [0.5, -1.0, 1.0, 0.25, 0.0, 1.0, -0.5, 1.0]


def nodes(fig):
    """Node values by row name, from the scatter of each row."""
    return {c.get_gid(): np.asarray(c.get_array()) for c in fig.axes[1].collections if c.get_gid()}


def edges(fig):
    """The edges by gid ("<path> <t>")."""
    return {p.get_gid(): p for p in fig.axes[1].patches if isinstance(p, FancyArrowPatch)}


def cut(arrow):
    return arrow.get_linestyle() not in ("-", "solid")


@pytest.mark.parametrize("reset", ["rest", "subtract", "none"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_bptt_flow_shows_the_tables_numbers(reset, detach_reset):
    table = ns.explain.explain(X, GY, beta=0.8, rest=-0.2, reset=reset, detach_reset=detach_reset)
    drawn = nodes(plot.bptt_flow(table))
    np.testing.assert_array_equal(drawn["gy"], table.gy)
    np.testing.assert_array_equal(drawn["gs"], table.gs)
    np.testing.assert_array_equal(drawn["gu"], table.gu)
    # gv_t = dL/dv_t: what reaches step t's state from step t+1, beta gu_{t+1}; nothing depends on the last v.
    np.testing.assert_allclose(drawn["gv"], np.r_[0.8 * table.gu[1:], 0.0], rtol=0, atol=0)


def labelled(fig, path, t):
    """The factor written beside the edge ``path`` of step t."""
    (text,) = [text for text in fig.axes[1].texts if text.get_gid() == f"factor {path} {t}"]
    return text.get_text()


def test_each_node_is_the_sum_of_its_incoming_edges_and_the_reset_acts_at_silent_steps():
    table = ns.explain.explain(X, GY, beta=0.8, rest=-0.2)
    fig = plot.bptt_flow(table)
    drawn, arrows = nodes(fig), edges(fig)
    p = table.params
    for t in range(len(X)):
        dv_du, dv_ds = ns.nn.bptt.reset_partials(p, table.u[t], table.s[t])
        # gs_t = gy_t + gv_t dv_t/ds_t and gu_t = gv_t dv_t/du_t + gs_t f'(u_t - threshold), from the drawn values.
        np.testing.assert_allclose(drawn["gs"][t], drawn["gy"][t] + drawn["gv"][t] * dv_ds, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(
            drawn["gu"][t], drawn["gv"][t] * dv_du + drawn["gs"][t] * table.surrogate_grad[t], rtol=1e-12, atol=1e-15
        )
        assert {f"direct {t}", f"reset {t}", f"surrogate {t}", f"carry {t}"} <= set(arrows)
        assert (f"leak {t}" in arrows) == (t > 0)  # gu_0 feeds v0, before the picture starts
        # Under the reset to rest, a spike cuts the charge path: dv_t/du_t = 1 - s_t = 0, drawn dotted.
        assert cut(arrows[f"carry {t}"]) == bool(table.s[t])
        assert not cut(arrows[f"reset {t}"])
    silent = [t for t in range(len(X) - 1) if table.s[t] == 0]
    assert silent and all(drawn["gs"][t] != drawn["gy"][t] for t in silent)  # the reset path acts without a spike
    assert any(table.s)
    widths = {gid: arrow.get_linewidth() for gid, arrow in arrows.items()}
    strongest = max(
        (gid for gid in widths if not cut(arrows[gid])), key=lambda gid: widths[gid]
    )  # the widest edge carries the largest |contribution|
    contributions = {f"direct {t}": abs(GY[t]) for t in range(len(X))}
    contributions.update({f"surrogate {t}": abs(table.gs[t] * table.surrogate_grad[t]) for t in range(len(X))})
    contributions.update({f"leak {t}": abs(0.8 * table.gu[t]) for t in range(1, len(X))})
    gv = np.r_[0.8 * table.gu[1:], 0.0]
    for t in range(len(X)):
        dv_du, dv_ds = ns.nn.bptt.reset_partials(p, table.u[t], table.s[t])
        contributions[f"reset {t}"] = abs(gv[t] * dv_ds)
        contributions[f"carry {t}"] = abs(gv[t] * dv_du)
    assert contributions[strongest] == pytest.approx(max(contributions.values()))
    assert labelled(fig, "leak", 3) == "×0.8"
    assert -0.2 - table.u[0] < 0 and labelled(fig, "reset", 0) == f"×(−{table.u[0] + 0.2:.4g})"


def test_detach_reset_cuts_the_reset_path_and_reset_none_has_none():
    detached = plot.bptt_flow(ns.explain.explain(X, GY, beta=0.8, detach_reset=True))
    assert all(cut(edges(detached)[f"reset {t}"]) for t in range(len(X)))
    np.testing.assert_array_equal(nodes(detached)["gs"], GY)  # nothing flows through the reset: gs_t = gy_t
    no_reset = plot.bptt_flow(ns.explain.explain(X, GY, beta=0.8, reset="none"))
    assert not [gid for gid in edges(no_reset) if gid.startswith("reset")]
    legend = [text.get_text() for text in no_reset.legends[0].get_texts()]
    assert PATHS["reset"][1] not in legend and PATHS["leak"][1] in legend


def test_bptt_flow_draws_in_a_given_figure_without_warnings():
    fig = plt.figure(layout="constrained")
    assert plot.bptt_flow(ns.explain.explain(X[:4]), fig=fig) is fig
    assert fig.axes[1].get_xlabel() == "time step t"
    assert "from t = 3" in fig.axes[1].get_title()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()


def test_bptt_flow_rejects_what_it_cannot_draw():
    with pytest.raises(TypeError, match="explain table"):
        plot.bptt_flow({"gu": np.ones(3)})
    with pytest.raises(ValueError, match=f"at most {MAX_STEPS} steps.*the table has {MAX_STEPS + 1}"):
        plot.bptt_flow(ns.explain.explain(np.full(MAX_STEPS + 1, 0.4)))
    busy = plt.figure()
    busy.add_subplot()
    with pytest.raises(ValueError, match="already has axes"):
        plot.bptt_flow(ns.explain.explain(X), fig=busy)
