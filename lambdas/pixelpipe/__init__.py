"""Pixel-Pipe: the code that runs inside the Lambdas, on AWS and in the local stack alike."""
