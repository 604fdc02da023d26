"""Print line coverage per service and SDK package from a Cobertura XML report.

`make test` calls this after pytest, so each service's figure is visible on its own.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import PurePosixPath

# Coverage below this, for any package listed here, is called out in the report.
TARGET_PERCENT = 85.0


def package_of(filename: str) -> str:
    parts = PurePosixPath(filename).parts
    for marker in ("ia_modules", "ia_service_kit", "ia_registry", "ia_executor", "ia_plugins", "ia_telemetry"):
        if marker in parts:
            index = parts.index(marker)
            if marker == "ia_modules" and len(parts) > index + 2:
                return f"{marker}.{parts[index + 1]}"
            return marker
    return parts[0] if parts else filename


def main(report: str) -> None:
    covered: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for cls in ET.parse(report).getroot().iter("class"):
        package = package_of(cls.get("filename", ""))
        for line in cls.iter("line"):
            total[package] += 1
            covered[package] += int(line.get("hits", "0")) > 0
    print(f"\n{'package':<32}{'lines':>8}{'covered':>10}")
    for package in sorted(total):
        percent = 100.0 * covered[package] / total[package] if total[package] else 100.0
        flag = "" if percent >= TARGET_PERCENT else f"   below {TARGET_PERCENT:.0f}%"
        print(f"{package:<32}{total[package]:>8}{percent:>9.1f}%{flag}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/coverage.xml")
