"""The machines a run uses: starting or joining Ray, process-wide settings, threads, GPUs, the watchdog."""
