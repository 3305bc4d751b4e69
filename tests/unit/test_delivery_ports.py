"""The delivery services speak to storage through protocols (services/delivery_ports.py); the repository in
adapters/ must answer every method they name, with the same parameters."""

from __future__ import annotations

import inspect

import pytest
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.services.delivery_ports import DeliveryLog, OwnerTaskWork, PushPlanning


def _params(fn) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("port", [DeliveryLog, PushPlanning, OwnerTaskWork], ids=lambda p: p.__name__)
def test_the_repository_answers_every_method_of_the_port_with_its_parameters(port):
    # GIVEN the methods a port names
    methods = {n: f for n, f in inspect.getmembers(port, inspect.isfunction) if not n.startswith("_")}
    assert methods
    for name, fn in methods.items():
        # THEN the repository has each, taking the port's parameters in order, and more only with defaults
        impl = getattr(DeliveryRepository, name)
        wanted, given = _params(fn), _params(impl)
        assert given[:len(wanted)] == wanted, name
        assert all(default is not inspect.Parameter.empty for _, _, default in given[len(wanted):]), name
