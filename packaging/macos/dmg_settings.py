"""dmgbuild settings for MailBeacon's disk image: the app and a link to Applications.

    dmgbuild -s packaging/macos/dmg_settings.py -D app=build/dist/MailBeacon.app \
             "MailBeacon" dist/MailBeacon-<version>.dmg
dmgbuild runs this file with `defines` (the -D values) in its namespace.
"""

import os.path

# dmgbuild injects `defines`; a plain import (the tests) sees the defaults
defines = globals().get("defines", {})  # noqa: F821
application = defines.get("app", "build/dist/MailBeacon.app")
appname = os.path.basename(application)

format = defines.get("format", "UDZO")  # compressed, read-only
filesystem = "HFS+"
size = None  # computed from the contents
files = [application]
symlinks = {"Applications": "/Applications"}
hide_extensions = [appname]
icon_locations = {appname: (140, 120), "Applications": (500, 120)}
background = "builtin-arrow"
show_status_bar = False
show_tab_view = False
show_toolbar = False
show_pathbar = False
show_sidebar = False
window_rect = ((200, 200), (640, 280))
default_view = "icon-view"
icon_size = 96
text_size = 13
