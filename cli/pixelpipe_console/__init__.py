"""`pixelpipe console`: a local web console over the same adapters the CLI uses."""
