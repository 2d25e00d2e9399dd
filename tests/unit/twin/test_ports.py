"""Loopback ports for test servers are chosen where outgoing connections never land."""

import socket

from brixcheck.twin.ports import ephemeral_range, free_port, is_free


def test_free_port_lies_below_the_ephemeral_range_and_binds():
    port = free_port()
    assert 1024 <= port < ephemeral_range()[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_listening_port_is_not_free():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        assert not is_free(sock.getsockname()[1])
