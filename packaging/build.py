"""Build MailBeacon's release artefacts: the frozen app (PyInstaller), the Linux tarball and the MSI.

    python packaging/build.py frozen|tarball|msi|dmg|all [--force]

Outputs go under build/ (work files, the frozen app in build/dist/) and dist/ (artefacts).
The version comes from pyproject.toml alone and is written into every artefact.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import plistlib
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
BUILD = Path(os.environ.get("MB_PACKAGING_BUILD_DIR", REPO / "build"))
DIST = Path(os.environ.get("MB_PACKAGING_DIST_DIR", REPO / "dist"))
STAGE = BUILD / "stage"
FROZEN_DIST = BUILD / "dist"
APP_DIR = "MailBeacon"
EXE_NAME = "MailBeacon"
BUNDLE_ID = "org.mailbeacon.MailBeacon"
# namespace for the MSI component GUIDs: the same installed path keeps the same GUID
_GUID_NAMESPACE = uuid.UUID("6f1b3c9e-2d47-4a55-9a1e-4b0c2f7d8e31")

# Python modules the app never uses; the Qt ones would drag in QML/Quick and friends
EXCLUDED_MODULES = [
    "tkinter", "_tkinter", "unittest", "pydoc", "pydoc_data", "lib2to3", "idlelib",
    "test", "pytest", "_pytest", "pytestqt", "setuptools", "pip", "distutils",
    # optional imports of libraries in the environment, never used by the app
    "IPython", "jedi", "parso", "numpy", "matplotlib", "PIL", "pandas", "scipy", "pygments",
    "docutils", "sphinx", "black", "mypy", "ruff", "jinja2", "markupsafe", "pkg_resources",
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick", "PySide6.QtWebChannel", "PySide6.QtWebSockets",
    "PySide6.QtMultimedia", "PySide6.QtMultimediaWidgets", "PySide6.QtPdf", "PySide6.QtPdfWidgets",
    "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools",
    "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtPrintSupport", "PySide6.QtXml",
    "PySide6.QtConcurrent", "PySide6.QtCharts", "PySide6.QtDataVisualization",
    "PySide6.Qt3DCore", "PySide6.QtBluetooth", "PySide6.QtPositioning", "PySide6.QtSerialPort",
    "PySide6.QtStateMachine", "PySide6.QtTextToSpeech", "PySide6.QtSpatialAudio",
]

# Files the Qt hooks collect that a tray app does not need (matched against the bundle path).
_DROP = re.compile(
    r"""(
      /translations/                                  # the app is not translated
    | /qml/ | /qmltooling/ | /designer/
    | qt6?(qml|quick|labs|lottie|pdf|virtualkeyboard|designer|wayland|wlshell|eglfs|opengl
          |test|sql|help|uitools|concurrent|printsupport|xml|shadertools|charts|multimedia
          |webengine|webchannel|websockets|3d|statemachine|positioning|spatialaudio)
    | /plugins/(egldeviceintegrations|xcbglintegrations|wayland-[^/]+|generic|networkinformation
          |tls|sqldrivers|printsupport|vectorimageformats|multimedia|position|qmllint)/
    | /platforms/(lib)?q(eglfs|linuxfb|minimalegl|vkkhrdisplay|vnc|wayland|direct2d)
    | /platformthemes/(lib)?qgtk3                     # would pull the system's GTK into the bundle
    | /platforminputcontexts/(lib)?qtvirtualkeyboard
    | /imageformats/(lib)?q(gif|jpeg|pdf|tga|tiff|wbmp|webp)
    | /opengl32sw\.dll$ | /d3dcompiler_\d+\.dll$     # software OpenGL for Quick on Windows
    | ^/mailbeacon\.egg-info/                         # an editable install's metadata, which
                                                      # would shadow the staged dist-info's version
    )""",
    re.VERBOSE | re.IGNORECASE,
)

# Linux libraries every desktop that can show a tray already has, left out the way AppImage's
# excludelist does: a bundled fontconfig, freetype, glib or X11 older than the desktop's own is
# a classic source of crashes and broken fonts. The xcb-util family Qt needs (xcb-cursor,
# xcb-icccm, ...) is often missing from distributions, so it stays in the bundle.
_LINUX_SYSTEM_LIBS = re.compile(
    r"""^lib(
      X11|X11-xcb|Xau|Xdmcp|Xext|Xrender|fontconfig|freetype|png16|jpeg|expat
    | glib-2\.0|gio-2\.0|gobject-2\.0|gmodule-2\.0|gthread-2\.0|dbus-1|systemd
    | gtk-3|gdk-3|gdk_pixbuf-2\.0|atk[-\w.]*|cairo[-\w]*|pango[-\w.]*|harfbuzz[-\w]*|graphite2
    | fribidi|thai|datrie|pixman-1|epoxy|wayland-[\w]+|selinux|mount|blkid|gcrypt|gpg-error
    | pcre2-8|cap|uuid|bsd|md|brotli\w+|GL|GLX|EGL|OpenGL|GLdispatch
    )\.so(\.\d+)*$""",
    re.VERBOSE,
)

_SOURCE_GLOBS = ["app/**/*", "resources/**/*", "pyproject.toml", "packaging/mailbeacon.spec",
                 "packaging/build.py", "packaging/icu_data.py", "packaging/entry.py",
                 "packaging/macos/Info.plist"]
# a new release of these changes the bundle as much as a source edit does
_BUNDLED_DISTRIBUTIONS = ["PySide6_Essentials", "shiboken6", "cryptography", "pyinstaller"]
_ICU_DATA = re.compile(r"libicudata\.so\.\d+(\.\d+)*$")


def project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def project_urls() -> dict[str, str]:
    with (REPO / "pyproject.toml").open("rb") as fh:
        return dict(tomllib.load(fh)["project"].get("urls", {}))


def msi_version(version: str) -> str:
    """MSI ProductVersion: three numbers (major and minor below 256), no pre-release tags."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    numbers += [0] * (3 - len(numbers))
    return ".".join(str(n) for n in numbers)


def platform_tag() -> str:
    import platform

    machine = platform.machine().lower().replace("amd64", "x86_64")
    return {"win32": f"windows-{machine}", "darwin": f"macos-{machine}"}.get(
        sys.platform, f"linux-{machine}"
    )


def keep_file(bundle_path: str, platform: str = sys.platform) -> bool:
    """False for the Qt parts a tray never loads and, on Linux, the desktop's own libraries."""
    path = bundle_path.replace("\\", "/")
    if _DROP.search("/" + path):
        return False
    return not (platform.startswith("linux") and _LINUX_SYSTEM_LIBS.match(path.rsplit("/", 1)[-1]))


def load_sibling(stem: str):
    """packaging/<stem>.py, whether or not packaging/ is on sys.path."""
    import importlib.util

    name = f"mailbeacon_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_icu_data_module():
    return load_sibling("icu_data")


wixl = load_sibling("wixl")
split_component_conditions = wixl.split_component_conditions


def reduce_icu_data(binaries: list, platform: str = sys.platform) -> list:
    """The binaries TOC with Linux's libicudata.so.NN (31 MiB) swapped for a reduced build
    (packaging/icu_data.py); unchanged elsewhere, or with a warning when it cannot be built."""
    if not platform.startswith("linux"):
        return binaries
    icu_data = load_icu_data_module()
    result = []
    for dest, src, kind in binaries:
        if _ICU_DATA.search(dest.replace("\\", "/")):
            try:
                src = str(icu_data.reduce_library(Path(src), BUILD / "icu"))
            except (OSError, ValueError, RuntimeError, subprocess.CalledProcessError) as exc:
                print(f"warning: keeping the full ICU data ({exc})", file=sys.stderr)
        result.append((dest, src, kind))
    return result


# ---------------------------------------------------------------- staging


def stage_sources() -> Path:
    """The package as a wheel would install it (resources/ inside app/), plus its metadata."""
    version = project_version()
    if STAGE.exists():
        shutil.rmtree(STAGE)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "app", STAGE / "app", ignore=ignore)
    shutil.copytree(REPO / "resources", STAGE / "app" / "resources", ignore=ignore)
    # importlib.metadata.version("mailbeacon") in the frozen app reads this
    info = STAGE / f"mailbeacon-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: mailbeacon\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nmailbeacon = app.cli:main\n", encoding="utf-8"
    )
    return STAGE


def frozen_datas(stage: Path) -> list[tuple[str, str]]:
    datas = []
    resources = stage / "app" / "resources"
    for path in sorted(resources.rglob("*")):
        if path.is_file() and path.suffix != ".py":
            datas.append((str(path), str(path.parent.relative_to(stage))))
    for info in stage.glob("mailbeacon-*.dist-info"):
        datas.append((str(info), info.name))
    return datas


# the sizes Windows picks from for the taskbar, Explorer views, Apps & features and Alt+Tab
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def make_icons() -> dict[str, str]:
    """Platform icons rendered from resources/mailbeacon.svg with Qt ({} while it does not exist).

    Qt renders every PNG; Pillow packs the Windows .ico from them (no ImageMagick, whose SVG
    support depends on a delegate that may or may not be installed). A missing optional tool
    (Pillow, macOS iconutil) leaves that one icon out with a warning."""
    svg = REPO / "resources" / "mailbeacon.svg"
    out = BUILD / "icons"
    if not svg.exists():
        print(f"warning: {svg} is missing; building without an app icon", file=sys.stderr)
        return {}
    out.mkdir(parents=True, exist_ok=True)
    renders = {size: out / f"mailbeacon-{size}.png" for size in ICO_SIZES}
    iconset = out / "mailbeacon.iconset"
    mac = sys.platform == "darwin" and shutil.which("iconutil") is not None
    if mac:
        iconset.mkdir(exist_ok=True)
        for size in (16, 32, 128, 256, 512):
            renders[f"{size}"] = iconset / f"icon_{size}x{size}.png"
            renders[f"{size}@2x"] = iconset / f"icon_{size}x{size}@2x.png"
    render_pngs(svg, renders)
    icons = {"linux": str(renders[256])}
    try:
        icons["win32"] = str(write_ico({s: renders[s] for s in ICO_SIZES}, out / "mailbeacon.ico"))
    except ImportError:
        print("warning: Pillow is not installed (pip install -e '.[packaging]'); building "
              "without the Windows .ico", file=sys.stderr)
    if mac:
        icns = out / "mailbeacon.icns"
        subprocess.run(["iconutil", "-c", "icns", str(iconset), "-o", str(icns)], check=True)
        icons["darwin"] = str(icns)
    elif sys.platform == "darwin":
        print("warning: iconutil not found; building without the macOS .icns", file=sys.stderr)
    return icons


def write_ico(pngs: dict[int, Path], ico: Path) -> Path:
    """One .ico holding each PNG at its own size (each drawn by Qt at that size, not scaled
    down from the largest)."""
    from PIL import Image

    images = [Image.open(pngs[size]).convert("RGBA") for size in sorted(pngs, reverse=True)]
    largest, rest = images[0], images[1:]
    largest.save(ico, format="ICO", sizes=[im.size for im in images], append_images=rest)
    return ico


def render_pngs(svg: Path, pngs: dict) -> None:
    """Render `svg` into each PNG path; the key's number (16, "32@2x") is the size in pixels."""
    jobs = []
    for key, path in pngs.items():
        size, _, double = str(key).partition("@")
        jobs += [str(path), str(int(size) * (2 if double else 1))]
    # a child process: QGuiApplication must not live inside PyInstaller's analysis process
    code = (
        "import sys\n"
        "from PySide6.QtGui import QGuiApplication, QImage, QPainter\n"
        "from PySide6.QtSvg import QSvgRenderer\n"
        "from PySide6.QtCore import Qt\n"
        "app = QGuiApplication(['x', '-platform', 'offscreen'])\n"
        "renderer = QSvgRenderer(sys.argv[1])\n"
        "args = sys.argv[2:]\n"
        "for path, size in zip(args[::2], args[1::2]):\n"
        "    size = int(size)\n"
        "    img = QImage(size, size, QImage.Format.Format_ARGB32)\n"
        "    img.fill(Qt.GlobalColor.transparent)\n"
        "    p = QPainter(img); renderer.render(p); p.end()\n"
        "    if not img.save(path):\n"
        "        sys.exit(f'cannot write {path}')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(svg), *jobs], check=True,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def windows_version_file(version: str) -> str:
    """A PyInstaller version resource so Explorer and the MSI see the same version."""
    a, b, c = (int(n) for n in msi_version(version).split("."))
    path = BUILD / "version_info.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers=({a}, {b}, {c}, 0), prodvers=({a}, {b}, {c}, 0)),
  kids=[StringFileInfo([StringTable('040904B0', [
    StringStruct('CompanyName', 'MailBeacon'),
    StringStruct('FileDescription', 'MailBeacon'),
    StringStruct('FileVersion', '{version}'),
    StringStruct('InternalName', 'MailBeacon'),
    StringStruct('OriginalFilename', 'MailBeacon.exe'),
    StringStruct('ProductName', 'MailBeacon'),
    StringStruct('ProductVersion', '{version}')])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])]
)
""",
        encoding="utf-8",
    )
    return str(path)


def info_plist(version: str) -> dict:
    """packaging/macos/Info.plist with the version filled in."""
    with (PACKAGING / "macos" / "Info.plist").open("rb") as fh:
        data = plistlib.load(fh)
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = value.replace("@VERSION@", version)
    return data


def info_plist_overrides(version: str) -> dict:
    return info_plist(version)


# ---------------------------------------------------------------- frozen app


def sources_digest() -> str:
    from importlib import metadata

    digest = hashlib.sha256(sys.version.encode())
    for name in _BUNDLED_DISTRIBUTIONS:
        try:
            digest.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            pass
    for pattern in _SOURCE_GLOBS:
        for path in sorted(REPO.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def frozen_app_dir() -> Path:
    """The folder holding the frozen executable (inside the .app on macOS)."""
    if sys.platform == "darwin":
        return FROZEN_DIST / f"{APP_DIR}.app" / "Contents" / "MacOS"
    return FROZEN_DIST / APP_DIR


def frozen_executable() -> Path:
    return frozen_app_dir() / (EXE_NAME + (".exe" if sys.platform == "win32" else ""))


def build_frozen(force: bool = False) -> Path:
    """Run PyInstaller unless the sources are unchanged since the last build; the executable."""
    stamp = BUILD / "frozen.stamp"
    digest = sources_digest()
    exe = frozen_executable()
    if not force and exe.exists() and stamp.exists() and stamp.read_text() == digest:
        return exe
    stamp.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", str(PACKAGING / "mailbeacon.spec"), "--noconfirm",
         "--log-level", "WARN", "--distpath", str(FROZEN_DIST), "--workpath", str(BUILD / "pyi")],
        check=True,
        cwd=REPO,
    )
    stamp.write_text(digest)
    return exe


# ---------------------------------------------------------------- Linux tarball


def build_tarball() -> Path:
    """dist/mailbeacon-<version>-linux-<arch>.tar.gz: the frozen app, .desktop file, installer."""
    build_frozen()
    version = project_version()
    DIST.mkdir(parents=True, exist_ok=True)
    top = f"mailbeacon-{version}"
    out = DIST / f"{top}-{platform_tag()}.tar.gz"
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(FROZEN_DIST / APP_DIR, arcname=f"{top}/{APP_DIR}")
        tar.add(PACKAGING / "linux" / "install.sh", arcname=f"{top}/install.sh")
        desktop = REPO / "resources" / "mailbeacon.desktop"
        if desktop.exists():
            tar.add(desktop, arcname=f"{top}/mailbeacon.desktop")
        icon = REPO / "resources" / "mailbeacon.svg"
        if icon.exists():
            tar.add(icon, arcname=f"{top}/mailbeacon.svg")
    return out


# ---------------------------------------------------------------- MSI


def _payload_wxs(payload: Path, exe_source: str) -> str:
    """A fragment with one component per file of the frozen app (the executable excepted:
    Product.wxs declares it to hang the shortcut on). GUIDs derive from the installed path."""
    dirs: dict[Path, str] = {Path("."): "INSTALLDIR"}
    dir_xml: list[str] = []
    comp_xml: list[str] = []
    refs: list[str] = []

    def dir_id(rel: Path) -> str:
        if rel in dirs:
            return dirs[rel]
        parent = dir_id(rel.parent)
        ident = "d" + hashlib.sha1(str(rel.as_posix()).encode()).hexdigest()[:20]
        dirs[rel] = ident
        dir_xml.append(f'<DirectoryRef Id="{parent}"><Directory Id="{ident}" Name="{_xml(rel.name)}"/></DirectoryRef>')
        return ident

    for path in sorted(payload.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(payload)
        if rel.as_posix() == exe_source:
            continue
        key = rel.as_posix().lower()
        ident = "f" + hashlib.sha1(key.encode()).hexdigest()[:20]
        guid = str(uuid.uuid5(_GUID_NAMESPACE, key)).upper()
        comp_xml.append(
            f'<DirectoryRef Id="{dir_id(rel.parent)}"><Component Id="c{ident}" Guid="{guid}" Win64="yes">'
            f'<File Id="{ident}" Name="{_xml(rel.name)}" Source="$(var.SourceDir)/{_xml(rel.as_posix())}" KeyPath="yes"/>'
            f"</Component></DirectoryRef>"
        )
        refs.append(f'<ComponentRef Id="c{ident}"/>')
    body = "\n".join(dir_xml + comp_xml)
    group = "\n".join(refs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi"><Fragment>\n'
        f"{body}\n<ComponentGroup Id=\"Payload\">\n{group}\n</ComponentGroup>\n"
        "</Fragment></Wix>\n"
    )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def build_msi(payload: Path | None = None, out: Path | None = None) -> Path:
    """dist/MailBeacon-<version>-x64.msi from packaging/windows/MailBeacon.wxs: WiX v3 (candle
    and light) on Windows, wixl elsewhere, where the Linux bundle stands in for the payload."""
    if payload is None:
        build_frozen()
        payload = FROZEN_DIST / APP_DIR
    version = project_version()
    exe_source = EXE_NAME + (".exe" if (payload / f"{EXE_NAME}.exe").exists() else "")
    work = BUILD / "msi"
    work.mkdir(parents=True, exist_ok=True)
    fragment = work / "Payload.wxs"
    fragment.write_text(_payload_wxs(payload, exe_source), encoding="utf-8")
    DIST.mkdir(parents=True, exist_ok=True)
    out = out or DIST / f"MailBeacon-{version}-x64.msi"
    out.parent.mkdir(parents=True, exist_ok=True)  # wixl reports a missing folder only as a warning
    icon = make_icons().get("win32", "")
    # wixl resolves sources only relative to its working directory
    defines = {
        "Version": msi_version(version),
        "SourceDir": os.path.relpath(payload, REPO).replace("\\", "/"),
        "ExeSource": exe_source,
        "IconFile": os.path.relpath(icon, REPO).replace("\\", "/") if icon else "",
        "AboutUrl": project_urls().get("Homepage", ""),
        "HelpUrl": project_urls().get("Documentation", project_urls().get("Homepage", "")),
    }
    product = PACKAGING / "windows" / "MailBeacon.wxs"
    if sys.platform == "win32":
        args = [f"-d{k}={v}" for k, v in defines.items()]
        subprocess.run(["candle", "-nologo", "-arch", "x64", *args, "-out", f"{work}\\",
                        str(product), str(fragment)], check=True, cwd=REPO)
        subprocess.run(["light", "-nologo", "-sval", "-out", str(out),
                        str(work / "MailBeacon.wixobj"), str(work / "Payload.wixobj")], check=True)
    else:
        # wixl does not take <Condition> inside <Component> (and differs from light elsewhere):
        # build without them, then correct the tables (packaging/wixl.py)
        text, conditions = wixl.split_component_conditions(product.read_text(encoding="utf-8"))
        stripped = work / "MailBeacon.wxs"
        stripped.write_text(text, encoding="utf-8")
        args = [a for k, v in defines.items() for a in ("-D", f"{k}={v}")]
        out.unlink(missing_ok=True)
        subprocess.run(["wixl", "-a", "x64", *args, "-o", str(out), str(stripped), str(fragment)],
                       check=True, cwd=REPO)
        wixl.correct_tables(out, text, conditions, defines["Version"])
    return out


def build_dmg() -> Path:
    """dist/MailBeacon-<version>-macos-<arch>.dmg with dmgbuild (macOS only)."""
    build_frozen()
    DIST.mkdir(parents=True, exist_ok=True)
    out = DIST / f"MailBeacon-{project_version()}-{platform_tag()}.dmg"
    subprocess.run(["dmgbuild", "-s", str(PACKAGING / "macos" / "dmg_settings.py"),
                    "-D", f"app={FROZEN_DIST / (APP_DIR + '.app')}", "MailBeacon", str(out)],
                   check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=("frozen", "tarball", "msi", "dmg", "all"), nargs="?", default="frozen")
    parser.add_argument("--force", action="store_true", help="rebuild even if sources are unchanged")
    args = parser.parse_args(argv)
    print(build_frozen(force=args.force))
    if args.target in ("tarball", "all") and sys.platform.startswith("linux"):
        print(build_tarball())
    if args.target in ("msi", "all"):
        print(build_msi())
    if args.target == "dmg" or (args.target == "all" and sys.platform == "darwin"):
        print(build_dmg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
