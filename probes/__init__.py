"""Probes: the same small models, with the same weights, measured in both frameworks.

``probes.runner`` (imports no framework) starts one fresh subprocess per framework
(``python -m probes worker ...``); ``probes.torch_probe`` and ``probes.tensorflow_probe``
run inside those subprocesses only.
"""
