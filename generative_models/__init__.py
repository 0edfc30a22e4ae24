"""pymdp generative models (A, B, C, D), one module per system."""
