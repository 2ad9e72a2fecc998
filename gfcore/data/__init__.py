"""Images and prepared datasets: decoding policy, source folders, the on-disk dataset format."""
