"""Where and how tensors run: device choice, bf16 / torch.compile settings, torchrun processes."""
