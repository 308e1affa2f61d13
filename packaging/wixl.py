"""What wixl (msitools) makes differently from WiX's light for packaging/windows/MailBeacon.wxs,
and the queries that correct its MSI so both builds have the same tables."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

_COMPONENT = re.compile(r"(<Component\b[^>]*\bId=\"([^\"]+)\"[^>]*>)(.*?)(</Component>)", re.S)
_CONDITION = re.compile(r"\s*<Condition>(.*?)</Condition>", re.S)


def split_component_conditions(wxs: str) -> tuple[str, dict[str, str]]:
    """The WiX source without <Component><Condition>, and {component id: condition}."""
    conditions: dict[str, str] = {}

    def strip(match: re.Match[str]) -> str:
        found = _CONDITION.search(match.group(3))
        if not found:
            return match.group(0)
        condition = html.unescape(found.group(1).strip())
        if "'" in condition:
            raise ValueError(f"component {match.group(2)}: use double quotes in its condition")
        conditions[match.group(2)] = condition
        return match.group(1) + _CONDITION.sub("", match.group(3), count=1) + match.group(4)

    return _COMPONENT.sub(strip, wxs), conditions


def correct_tables(msi: Path, wxs: str, conditions: dict[str, str], version: str) -> None:
    """Write into `msi` (built by wixl from `wxs`, the source without component conditions)
    what light would have: the conditions, SecureCustomProperties, an inclusive upgrade of the
    same version, and the custom actions' types and places in the sequences."""
    queries = [
        f"UPDATE `Component` SET `Condition` = '{cond}' WHERE `Component` = '{comp}'"
        for comp, cond in conditions.items()
    ]
    # wixl ignores Property/@Secure, which light turns into SecureCustomProperties
    secure = re.findall(r'<Property\s+Id="([A-Z0-9_]+)"[^>]*\bSecure="yes"', wxs)
    if secure:
        current = msi_property(msi, "SecureCustomProperties")
        names = [n for n in current.split(";") if n] + secure
        queries.append(
            f"UPDATE `Property` SET `Value` = '{';'.join(names)}' "
            "WHERE `Property` = 'SecureCustomProperties'"
        )
    # wixl ignores MajorUpgrade/@AllowSameVersionUpgrades; light makes the maximum inclusive
    # (Attributes is part of the table's key, so the row is replaced, not updated)
    code = re.search(r'\bUpgradeCode="([0-9A-Fa-f-]+)"', wxs)
    if code and re.search(r'<MajorUpgrade\b[^>]*\bAllowSameVersionUpgrades="yes"', wxs):
        queries += [
            "DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'",
            "INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) "
            f"VALUES ('{{{code.group(1).upper()}}}', '{version}', 513, 'WIX_UPGRADE_DETECTED')",
        ]
    queries += custom_action_fixes(wxs, msi)
    for query in queries:
        subprocess.run(["msibuild", str(msi), "-q", query], check=True)


_CUSTOM_ACTION = re.compile(r'<CustomAction\s+Id="(\w+)"\s+Property="\w+"\s+Value="[^"]*"([^>]*)/>')
_SCHEDULED = re.compile(r'<Custom\s+Action="(\w+)"\s+(Before|After)="(\w+)"')
_SEQUENCE_BLOCK = re.compile(r"<(InstallUISequence|InstallExecuteSequence)>(.*?)</\1>", re.S)


def custom_action_fixes(wxs: str, msi: Path) -> list[str]:
    """Queries that make wixl's custom actions what light makes of the same source: a
    property-setting action is type 51 (+256 for Execute="firstSequence"; wixl marks each one
    deferred, which Windows Installer refuses outside the script), and Before/After puts it
    next to its anchor (wixl puts some of them after the end of the sequence)."""
    queries = []
    for action, rest in _CUSTOM_ACTION.findall(wxs):
        kind = 51 + (256 if 'Execute="firstSequence"' in rest else 0)
        queries.append(f"UPDATE `CustomAction` SET `Type` = {kind} WHERE `Action` = '{action}'")
    for table, body in _SEQUENCE_BLOCK.findall(wxs):
        numbers = {row["Action"]: int(row["Sequence"]) for row in msi_table(msi, table)}
        for action, where, anchor in _SCHEDULED.findall(body):
            if anchor not in numbers:
                raise ValueError(f"{table}: {action} is scheduled against {anchor}, which is not in it")
            number = numbers[anchor] + (1 if where == "After" else -1)
            queries.append(f"UPDATE `{table}` SET `Sequence` = {number} WHERE `Action` = '{action}'")
    return queries


def msi_table(msi: Path, name: str) -> list[dict[str, str]]:
    text = subprocess.run(["msiinfo", "export", str(msi), name], check=True, capture_output=True,
                          text=True).stdout
    lines = text.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


def msi_property(msi: Path, name: str) -> str:
    for row in msi_table(msi, "Property"):
        if row["Property"] == name:
            return row["Value"]
    return ""
