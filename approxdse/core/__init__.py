"""What every approxdse package shares: errors, atomic files, YAML reading, paths, executors."""
