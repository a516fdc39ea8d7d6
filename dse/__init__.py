"""approxdse: dse package."""
