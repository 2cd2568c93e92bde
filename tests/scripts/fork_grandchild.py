"""Forks a grandchild (``sleep``) and prints ``grandchild <pid>``; both then wait forever."""

import subprocess
import time

grandchild = subprocess.Popen(["sleep", "1000"])
print(f"grandchild {grandchild.pid}", flush=True)
while True:
    time.sleep(60)
