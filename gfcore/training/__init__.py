"""Training by gradient descent, shared by every neural method.

* :mod:`~gfcore.training.neural`: ``NeuralConfig`` (the training fields) and ``NeuralAttributor``, the
  base class of a neural method (network, optimisers, training step, augmentation, batched inference);
* :mod:`~gfcore.training.loop`: the loop itself (``train_network``), the learning-rate schedule and
  ``step_if_finite``;
* :mod:`~gfcore.training.attribution_method`: the base of the methods built on the paper's network;
* :mod:`~gfcore.training.optim_state`: optimiser state as named tensors and JSON, for checkpoints.
"""
