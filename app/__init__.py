"""LCI Studio: learned image compression, made visible."""

import os

# OpenMP threads that spin while they wait for work turn a busy machine into a crawl: on two
# cores with other CPU-bound work running, MS-SSIM of a 768×512 photo took 2.9 s with torch's
# two spinning threads and 0.14 s with sleeping ones (bench/thread_policy.py measures it).
# Set before anything imports torch; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
