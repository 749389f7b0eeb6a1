"""offsite-copy: rclone copy of a set, then rclone check --one-way (the remote's checksums
compared with ours); both exit codes checked."""
import fnmatch
import json
import os

from .process import Failed, run


def cmd_offsite_copy(args):
    common = ["--config", args.config] if args.config else []
    for name in args.exclude:
        common += ["--exclude", name]
    # the image's root file system is read-only: rclone's cache goes to /tmp
    env = dict(os.environ, RCLONE_CACHE_DIR="/tmp/rclone-cache")
    if not args.config:
        env["RCLONE_CONFIG"] = "/tmp/rclone-cache/none.conf"   # no remote needs one: a local path
    try:
        run(["rclone", "copy", *common, args.source, args.dest], env=env)
    except Failed as error:
        raise Failed(f"copying {args.source} to {args.dest}: {error}") from None
    try:
        run(["rclone", "check", *common, "--one-way", args.source, args.dest], env=env)
    except Failed as error:
        raise Failed(f"checking the copy on {args.dest} (checksums differ or files are missing): {error}") from None
    copied = 0
    for root, _, files in os.walk(args.source):
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), args.source)
            if not any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in args.exclude):
                copied += 1
    print(json.dumps({"copied": copied}))

