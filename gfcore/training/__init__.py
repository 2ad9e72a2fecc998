"""The training loop shared by every neural attributor, and optimiser state in safetensors."""
