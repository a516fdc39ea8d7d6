"""approxdse: predictors package."""
