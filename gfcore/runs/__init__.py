"""Run folders: attribution runs and GAN runs (run.json + safetensors), their validation, warm starts."""
