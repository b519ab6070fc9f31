"""LCI Studio: learned image compression, made visible."""

import os

# OpenMP threads that spin while they wait for work turn a busy machine into a crawl: beside one
# busy process, encode + decode of a 768×512 photo took 1.05 s with torch's two spinning threads
# and 0.82 s with sleeping ones, and at a load of 3-4 one MS-SSIM took 2.9 s instead of 0.14 s;
# quiet, the two are equal (bench/thread_policy.py, docs/results.md). Set before anything
# imports torch; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
