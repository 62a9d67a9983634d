"""The Video Factory services. Each imports `shared`, never another service."""
