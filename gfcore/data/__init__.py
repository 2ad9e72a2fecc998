"""Images and prepared datasets.

* :mod:`~gfcore.data.images`: decoding image files, and the size policy that fits them to a resolution;
* :mod:`~gfcore.data.sources`: the source folders ``gfp prepare`` reads (one sub-folder per class);
* :mod:`~gfcore.data.dataset`: the prepared-dataset format (``manifest.json`` and uint8 arrays per split),
  ``gfp prepare``'s decode-split-write steps, ``load_dataset`` and ``write_dataset``;
* :mod:`~gfcore.data.synthetic`: synthetic attribution tasks for tests, benchmarks and plugin authors;
* :mod:`~gfcore.data.hashing`: the content hashes that datasets and runs record for provenance.
"""
