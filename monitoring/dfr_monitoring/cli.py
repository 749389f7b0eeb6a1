"""`dfr-monitoring COMMAND`: the entrypoint of the monitoring image.

Service commands render their configs and exec the Debian binary (see services.py);
`mailcatcher` runs the SMTP catcher; `check` and `test-rules` run the Prometheus tools on the
rendered files (image build, fast test tier); `render DIR` writes the files for inspection.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import render, services, settings

USAGE = ("usage: dfr-monitoring {" + "|".join([*services.SERVICES, "mailcatcher"]) + "}\n"
         "       dfr-monitoring render DIR | check | test-rules | settings | alerts [--json]")


def run(argv):
    """Run a checker, print what it says, return its exit code."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    print(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}".rstrip(), flush=True)
    return result.returncode


def check(values):
    """Render with these settings into a scratch folder and let each tool validate its file."""
    with tempfile.TemporaryDirectory(prefix="dfr-check-") as scratch:
        paths = render.render_all(values, scratch)
        codes = [
            run(["promtool", "check", "config", str(paths["prometheus"])]),
            run(["amtool", "check-config", str(paths["alertmanager"])]),
            run(["prometheus-blackbox-exporter", f"--config.file={paths['blackbox']}", "--config.check"]),
            run(["mtail", "-compile_only", "-logtostderr", "-progs", str(render.SHARE / "mtail")]),
        ]
    return 0 if not any(codes) else 1


def test_rules(values):
    """`promtool test rules` (every *.test.yml) on the rule file rendered with these settings."""
    with tempfile.TemporaryDirectory(prefix="dfr-rules-") as scratch:
        render.write(Path(scratch) / render.RULES_NAME, render.rules_text(values))
        tests = []
        for source in sorted((render.SHARE / "prometheus").glob("*.test.yml")):
            tests.append(str(shutil.copy(source, Path(scratch) / source.name)))
        return run(["promtool", "test", "rules", *tests])


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    if command == "alerts":
        from .alerts import main as alerts_main
        return alerts_main(args)
    try:
        values = settings.load()
        if command in services.SERVICES:
            binary_argv = services.SERVICES[command](values)
            sys.stdout.flush()
            os.execv(binary_argv[0], binary_argv)
        if command == "mailcatcher":
            from .mailcatcher import main as mailcatcher_main
            return mailcatcher_main(values)
        if command == "render" and len(args) == 1:
            for name, path in render.render_all(values, args[0]).items():
                print(f"{name}: {path}")
            return 0
        if command == "check":
            return check(values)
        if command == "test-rules":
            return test_rules(values)
        if command == "settings":
            for name, value in values.items():
                print(f"{name}={value}")
            return 0
    except settings.SettingError as error:
        print(f"dfr-monitoring: {error}", file=sys.stderr)
        return 2
    print(USAGE, file=sys.stderr)
    return 2
