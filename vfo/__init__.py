"""`vfo`: the command line of Video Factory (up, make, run, status, board rebuild)."""
