"""The wixl path of the MSI build: component conditions moved out of the WiX source."""

from __future__ import annotations

from tests.packaging.conftest import ROOT, load_build_module


def test_every_component_condition_is_moved_out():
    build = load_build_module()
    source = (ROOT / "packaging" / "windows" / "MailBeacon.wxs").read_text(encoding="utf-8")
    text, conditions = build.split_component_conditions(source)
    assert "<Condition>" not in text
    assert source.count("<Condition>") == len(conditions) == 14
    assert conditions["Autostart"] == 'AUTOSTART = "1"'
    # a remembered ENDPOINTS gives way to hosts given now; one given now wins over them
    assert conditions["CfgEndpointsBoth"] == "NOT CMDLINE_ENDPOINTS AND SMTP_HOST AND IMAP_HOST"


def test_msi_version_is_three_numbers():
    build = load_build_module()
    assert build.msi_version("1.2.3") == "1.2.3"
    assert build.msi_version("0.4") == "0.4.0"
    assert build.msi_version("2.0.1rc1+local.5") == "2.0.1"


def test_qt_trimming_keeps_what_the_tray_needs():
    build = load_build_module()
    keep = build.keep_file
    assert keep("PySide6/Qt/plugins/platforms/libqxcb.so", "linux")
    assert keep("PySide6/Qt/lib/libQt6Widgets.so.6", "linux")
    assert keep("libxcb-cursor.so.0", "linux")  # often missing from distributions
    assert not keep("PySide6/Qt/lib/libQt6Quick.so.6", "linux")
    assert not keep("PySide6/Qt/translations/qtbase_de.qm", "linux")
    assert not keep("libfontconfig.so.1", "linux")  # the desktop's own
    assert keep("libfontconfig.so.1", "darwin")
    assert not keep("PySide6/Qt6Qml.dll", "win32")
    assert not keep("PySide6/opengl32sw.dll", "win32")
