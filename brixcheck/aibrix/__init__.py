"""Facts of each supported AIBrix version; one module per version."""
