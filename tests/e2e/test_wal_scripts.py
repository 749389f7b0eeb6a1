"""The archive_command / restore_command contract of the postgres image, run in the image itself.

dfr-archive-wal must exit 0 only when the file is durably archived (and never overwrite a
different one); dfr-restore-wal must tell "not archived" (1: the end of the archive) from
"archived but damaged" (200: PostgreSQL stops instead of promoting early). Archives written
by dfr-deploy 0.2 (gzip) stay readable.
"""
import pytest

from dfr_deploy.docker import docker

from .conftest import TEST_REGISTRY

pytestmark = pytest.mark.e2e

SEGMENT = "000000010000000000000003"

# One shell session in the image: every line prints `<step> <exit status>` (and file names).
SCRIPT = r"""
set -u
mkdir -p /tmp/pg_wal /tmp/restored; cd /tmp/pg_wal
head -c 16777216 /dev/urandom > SEG
head -c 16777216 /dev/zero > OTHER
dfr-archive-wal SEG "$SEGMENT"; echo "archive $?"
ls /wal_archive
dfr-archive-wal SEG "$SEGMENT"; echo "again-same $?"
dfr-archive-wal OTHER "$SEGMENT" 2>/tmp/err; echo "again-different $?"; grep -c 'ALREADY EXISTS WITH DIFFERENT' /tmp/err
dfr-archive-wal SEG "../etc/passwd" 2>/dev/null; echo "bad-name $?"
dfr-restore-wal "$SEGMENT" /tmp/restored/a; echo "restore $?"
cmp -s SEG /tmp/restored/a; echo "same-bytes $?"
dfr-restore-wal 000000010000000000000004 /tmp/restored/b; echo "missing $?"
gzip -1 -c OTHER > /wal_archive/000000010000000000000005.gz
dfr-restore-wal 000000010000000000000005 /tmp/restored/c; echo "legacy-gzip $?"
cmp -s OTHER /tmp/restored/c; echo "legacy-same-bytes $?"
dfr-archive-wal OTHER 000000010000000000000005; echo "legacy-rearchive $?"
test -e /wal_archive/000000010000000000000005.zst; echo "legacy-no-duplicate $?"
perl -e 'open F, "+<", $ARGV[0] or die; $m = int((-s F) / 2); seek F, $m, 0; read F, $b, 16;
  seek F, $m, 0; print F ($b ^ ("\xff" x 16)); close F or die' /wal_archive/$SEGMENT.zst
dfr-restore-wal "$SEGMENT" /tmp/restored/d 2>/tmp/err; echo "corrupted $?"; grep -c CORRUPTED /tmp/err
test -e /tmp/restored/d; echo "nothing-written $?"
"""


def test_archive_and_restore_commands_keep_their_contract(test_images):
    image = f"{TEST_REGISTRY}/postgres:prod"
    out = docker()["run", "--rm", "--network", "none", "-u", "postgres", "-e", f"SEGMENT={SEGMENT}",
                   "--tmpfs", "/wal_archive:uid=999,gid=999,mode=0700", "--entrypoint", "bash", image,
                   "-c", SCRIPT].run(timeout=120)[1]
    lines = out.split("\n")
    result = dict(line.rsplit(" ", 1) for line in lines if line.count(" ") == 1 and line.split()[1].isdigit())
    assert f"{SEGMENT}.zst" in lines, out                # compressed with zstd, under its own name
    assert result["archive"] == "0" and result["again-same"] == "0", out
    assert result["again-different"] == "1" and "1" in lines, out    # never overwritten, said loudly
    assert result["bad-name"] == "1", out
    assert result["restore"] == "0" and result["same-bytes"] == "0", out
    assert result["missing"] == "1", out                 # the end of the archive, not an error
    assert result["legacy-gzip"] == "0" and result["legacy-same-bytes"] == "0", out
    assert result["legacy-rearchive"] == "0" and result["legacy-no-duplicate"] == "1", out
    assert result["corrupted"] == "200", out             # stop recovery, never promote early
    assert result["nothing-written"] == "1", out
