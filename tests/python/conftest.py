"""Fixtures of the Python binding's tests (lmdtest.py has the helpers)."""

import pytest

from lmdtest import Server, Vendor


@pytest.fixture(scope="session")
def vendor(tmp_path_factory):
    return Vendor(tmp_path_factory.mktemp("vendor"))


@pytest.fixture
def start_server(tmp_path, vendor):
    """start_server(features, **options) starts an lmd serving the license
    lines features (after its SERVER and VENDOR acme lines); every server
    started is killed when the test ends."""
    servers = []

    def start(features, **options):
        server = Server(tmp_path / f"server{len(servers)}", vendor, features, **options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def server(start_server):
    """An lmd serving 2 seats of stats 29.0."""
    return start_server(["FEATURE stats acme 29.0 permanent 2"])
