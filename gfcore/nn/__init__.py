"""Network building blocks that plugins import from :mod:`gfcore` instead of from each other.

* :mod:`~gfcore.nn.equalized`: equalised-learning-rate convolution and linear layers (ProGAN);
* :mod:`~gfcore.nn.progan_ops`: pixel norm, minibatch standard deviation, up- and down-scaling;
* :mod:`~gfcore.nn.attribution_net`: the paper's attribution network and its parts;
* :mod:`~gfcore.nn.losses`: the WGAN losses (with a drift term and gradient penalty) of the GAN families and visNet.
"""
