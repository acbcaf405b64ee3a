"""joblib.Parallel on loky's process pool (scikit-learn's ``n_jobs``): ten calls on two workers."""

import os
import sys
import time

from joblib import Parallel, delayed


def slow_square(x):
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0.2)
    return x * x


if __name__ == "__main__":
    print("squares:", Parallel(n_jobs=2)(delayed(slow_square)(i) for i in range(10)))
    print("main", os.getpid(), "done")
