r"""Pictures of spiking networks: one neuron charging and firing, rasters, a sample step by step, BPTT.

Every function draws the numbers it is given and nothing else: the data come from the
arrays you pass or, for ``step_by_step``/``animate``/``bptt_view``, from ``numsnn.nn.record``
(the gradients are those of the hand-written BPTT in ``numsnn.nn.bptt``, never recomputed).

One module per picture: ``neuron`` (membrane, raster), ``sample`` (one sample step by step),
``maps`` (feature_maps: a convolutional layer's spike maps), ``bptt`` (bptt_view), ``flow``
(bptt_flow: one neuron's BPTT from an explain table), ``graph`` (an autograd graph with each
tensor's data and grad), ``surrogate``, ``training`` (training curves), ``files`` (save_figure,
save_gif), on top of ``style`` (colours, input checks, figures and colour scales they share) and
``roles`` (``layer_roles``: layers named "hidden, 800 IF", not by their index).

Conventions:

- Single-axes plots take ``ax=None`` (a new figure) and return their artists; multi-panel
  views take ``fig=None`` and return the Figure (or the animation). Nothing calls ``plt.show()``.
- Arrays may be numsnn Tensors or ndarrays. Per-sample plots take ``[T, M]`` (time,
  neurons) or ``[N, T, M]`` with ``sample=i``; any other layout is an error that says so.
- Colour maps are colour-blind safe: viridis/cividis for values, ``RdBu_r`` centred at 0
  for gradients (red: raising the value raises the loss, blue: lowers it); lines use the
  Okabe-Ito palette. Each colour scale lies under the panel it belongs to and as wide as it,
  so its label cannot be read as the y-label of a neighbouring panel.

>>> import numsnn as ns, numsnn.plot                              # doctest: +SKIP
>>> model = ns.nn.reference_model(784, 64, 10, rng=0)             # doctest: +SKIP
>>> with ns.nn.record(model) as traces:                           # doctest: +SKIP
...     ns.nn.mse_rate_loss(model(x), labels).backward()
>>> numsnn.plot.bptt_view(traces["1"], sample=0)                  # doctest: +SKIP
"""

from numsnn.plot.bptt import bptt_view
from numsnn.plot.files import save_figure, save_gif
from numsnn.plot.flow import bptt_flow
from numsnn.plot.graph import GraphArtists, graph
from numsnn.plot.maps import feature_maps, map_layers
from numsnn.plot.neuron import MembraneArtists, membrane, raster
from numsnn.plot.roles import LayerRole, layer_roles
from numsnn.plot.sample import SampleRecord, animate, record_sample, step_by_step
from numsnn.plot.style import OKABE_ITO
from numsnn.plot.surrogate import SurrogateArtists, surrogates
from numsnn.plot.training import training_curves

__all__ = [
    "membrane",
    "MembraneArtists",
    "raster",
    "record_sample",
    "SampleRecord",
    "step_by_step",
    "animate",
    "save_gif",
    "save_figure",
    "bptt_view",
    "bptt_flow",
    "graph",
    "GraphArtists",
    "feature_maps",
    "map_layers",
    "surrogates",
    "SurrogateArtists",
    "training_curves",
    "OKABE_ITO",
    "layer_roles",
    "LayerRole",
]
