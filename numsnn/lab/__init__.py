"""Layer 3, the lab: data, input encoding, optimizers, the training loop, checkpoints and diagnostics.

Everything here uses the engine and the network (``numsnn.autograd``, ``numsnn.nn``) and none
of it is needed to understand BPTT. The modules are also reachable from the top:
``ns.datasets``, ``ns.encoding``, ``ns.optim``, ``ns.train``, ``ns.metrics``,
``ns.checkpoint``, ``ns.diagnostics`` and ``ns.explain``.
"""
