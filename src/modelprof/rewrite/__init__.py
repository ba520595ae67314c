"""Make it cheaper, then prove it."""
