"""Network changes are noticed by comparing interface fingerprints on the tray's tick."""

from __future__ import annotations

from app.netwatch import NetworkWatch, fingerprint


def test_a_change_is_reported_once_and_unreadable_states_are_ignored():
    states = iter([
        (("wlan0", True, ("10.0.0.5",)),),
        (("wlan0", True, ("10.0.0.5",)),),
        (("wlan0", False, ()),),  # Wi-Fi dropped
        (("wlan0", False, ()),),
        None,  # could not read: say nothing
        (("wlan0", True, ("10.0.0.7",)),),  # back, with a new address
        (("wlan0", True, ("10.0.0.7",)), ("tun0", True, ("172.16.0.2",))),  # VPN up
    ])
    watch = NetworkWatch(read=lambda: next(states))
    assert [watch.changed() for _ in range(6)] == [False, True, False, False, True, True]


def test_the_fingerprint_of_this_machine_is_stable_and_leaves_out_loopback():
    first, second = fingerprint(), fingerprint()
    assert first is not None and first == second
    assert all(not all(ip.startswith("127.") or ip == "::1" for ip in ips) or not ips for _n, _up, ips in first)
