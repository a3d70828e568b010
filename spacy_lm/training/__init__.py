"""Training helpers: learning-rate and KL schedules, layer groups and discriminative Adam, gradient clipping, the progress logger."""
