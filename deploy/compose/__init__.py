"""``squall compose``: the production stack on a Docker engine (deploy/docker-compose.yml).

``engine`` finds or starts the Docker engine, the compose plugin and the Debian base
image; ``context`` resolves wheels and jars on the host into the offline build context;
``project`` drives ``docker compose`` through python-on-whales.
"""
