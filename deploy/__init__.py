"""Running the stack: docker compose (python-on-whales) and the local Maven-jar stack."""
