"""Files on disk: atomic writes, JSON and safetensors I/O, claiming an output folder."""
