"""Seeing fingerprints (the paper's visNet figures and its fingerprint analysis): what ``gfp visualize``
draws.

* :mod:`.responses` -- the numbers: joint normalisation of model fingerprints, an image fingerprint's
  response to each model fingerprint, response strengths and the grid's diagonal dominance (numpy only);
* :mod:`.tsne` -- a 2-d t-SNE embedding of features and how well neighbours in it agree on the source;
* :mod:`.drawing` -- the matplotlib figures, in the shared style of :mod:`gfcore.studies.figures`;
* :mod:`.report` -- everything a run allows, written into an output folder, with the numbers as a dict.
"""
