# mpdash's probe, as a package (see ../sitecustomize.py, its entry point).
# Importing the package does nothing: `start.start()` starts the probe in
# this process; each concern's module is imported when the program first
# imports the multiprocessing module it patches.
