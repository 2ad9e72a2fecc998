"""Using a trained attributor: batched attribution of files, evaluation, calibration, open-set rules."""
