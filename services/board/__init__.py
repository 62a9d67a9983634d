"""The board: the job lifecycle's HTTP API, the conductor and the projector."""
