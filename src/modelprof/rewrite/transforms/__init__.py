"""Model rewrites that make a network cheaper: depthwise-separable convolutions, pruning."""
