"""The registry: owns configuration and publishes it to the KV bucket `config`."""
