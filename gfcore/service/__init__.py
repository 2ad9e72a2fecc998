"""``gfp serve``: a local web service over one trained run -- a JSON API and a page -- built on the same
:class:`~gfcore.inference.model.Model` as the Python API, so every answer is the one ``gfp.load(run).predict``
gives (:mod:`gfcore.service.app` lists the routes)."""
