"""Library code shared by every Video Factory service.

Services import `shared`, never each other; they meet only on NATS JetStream.
"""
