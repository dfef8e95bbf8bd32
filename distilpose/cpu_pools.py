"""Libraries' helper thread pools on a machine with few cores: the live view keeps its cores for its own threads.

The live view runs the pose model, the person detector, the frame reader and the GUI thread at once. A library
call that splits its work with a pool of its own (Qt's raster fills, OpenCV's colour conversion and resizing)
waits for a pool thread, and with every core taken the pool thread waits for a core: on 2 shared cores the call
costs a scheduling wait instead of saving time (ADR 0020, amendments 3 and 4). From ``POOL_MIN_CORES`` cores on
the pools are left alone (not measured there).
"""

from __future__ import annotations

import os

#: From this many cores on, Qt's and OpenCV's own thread pools are left on.
POOL_MIN_CORES = 8


def opencv_on_calling_thread(cores: int | None = None) -> bool:
    """Have each OpenCV call run on the thread that makes it on a machine with few cores; returns whether it
    did. A 2 MP colour conversion (a played frame to the canvas's pixels) beside one or two busy processes on 2
    cores: 0.3-0.5 ms at the median either way, but with OpenCV's 2-thread pool a rare call waited 20-44 ms for
    the pool thread (the worst of 900 calls, in 4 of 5 runs), on the calling thread the worst was 1.3-8.6 ms
    (ADR 0020, amendment 4). Process-wide: the app and ``bench --pipeline`` both set it, so the bench measures
    the threads the window runs."""
    cores = (os.cpu_count() or 1) if cores is None else cores
    if cores >= POOL_MIN_CORES:
        return False
    import cv2

    cv2.setNumThreads(1)
    return True
