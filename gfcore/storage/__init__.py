"""Files on disk, written so that an interrupted command leaves no half-written file and overwrites no user file.

* :mod:`~gfcore.storage.atomic`: atomic writes (temporary name, fsync, rename) of bytes, text and JSON;
* :mod:`~gfcore.storage.jsonio`: strict JSON documents, and reading one back (``format``-tagged, depth-limited);
* :mod:`~gfcore.storage.regular`: data is read only from regular files (never a FIFO or a device);
* :mod:`~gfcore.storage.lock`: one writer per run folder, named in the message of a second one;
* :mod:`~gfcore.storage.tensorio`: weights in safetensors with JSON metadata (nothing executes code);
* :mod:`~gfcore.storage.outfolder`: claiming an ``--out`` folder (never overwrite what gfp did not create).
"""
