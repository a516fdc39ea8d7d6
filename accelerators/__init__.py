"""approxdse: accelerators package."""
