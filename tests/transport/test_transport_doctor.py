"""Doctor probes: vpcd config parsing, /proc/net/tcp reading, check assembly."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.transport import doctor
from host.transport.base import TransportFailure
from host.transport.doctor import PortState, read_vpcd_config, tcp_port_state

pytestmark = pytest.mark.unit

# Format of Linux /proc/net/tcp: local 127.0.0.1:35963 listening (0A) and one
# established (01) connection on it; a connection *to* 35963 from an ephemeral port.
PROC_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: 00000000:8C7B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   1: 0100007F:8C7B 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0
   2: 0100007F:A1B2 0100007F:8C7B 01 00000000:00000000 00:00000000 00000000     0
"""


def test_tcp_port_state_counts_listeners_and_attached_cards(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(PROC_TCP)
    assert tcp_port_state(35963, tmp_path) == PortState(listening=True, connections=1)
    assert tcp_port_state(35964, tmp_path) == PortState(listening=False, connections=0)
    assert tcp_port_state(35963, tmp_path / "absent") is None


def test_read_vpcd_config_as_debian_installs_it(tmp_path: Path) -> None:
    conf = tmp_path / "vpcd"
    conf.write_text('FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x8C7B\n'
                    "LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so\n"
                    "CHANNELID    0x8C7B\n")
    config = read_vpcd_config(conf)
    assert config is not None
    assert (config.friendly_name, config.base_port) == ("Virtual PCD", 35963)
    assert config.library == Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
    assert read_vpcd_config(tmp_path / "missing") is None


def test_doctor_reports_a_missing_pcscd_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "pcscd_running", lambda: False)
    checks = {c.name: c for c in doctor.doctor_checks(list_readers=lambda: [])}
    assert not checks["pcscd running"].ok
    assert "pcscd --foreground" in checks["pcscd running"].fix_hint
    assert "virtual readers" not in checks  # pointless without pcscd


def test_doctor_reader_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "pcscd_running", lambda: True)
    ok = {c.name: c for c in doctor.doctor_checks(
        list_readers=lambda: ["Virtual PCD 00 00", "Virtual PCD 00 01"])}
    assert ok["virtual readers"].ok == (doctor.read_vpcd_config() is not None)

    def broken() -> list[str]:
        raise TransportFailure("service gone")

    bad = {c.name: c for c in doctor.doctor_checks(list_readers=broken)}
    assert not bad["virtual readers"].ok and bad["virtual readers"].detail == "service gone"
