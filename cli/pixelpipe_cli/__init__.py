"""The `pixelpipe` operator command: jobs, workflow graphs, traces, retries, dead letters, cost."""

from importlib import resources
from pathlib import Path

# The bundled demo images: a link to the repository's samples/ in a checkout, a copy in the wheel.
SAMPLES = Path(str(resources.files(__name__).joinpath("samples")))
