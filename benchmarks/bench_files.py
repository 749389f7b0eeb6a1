#!/usr/bin/env python3
"""Write benchmark filestore files (run by generate_backup_data.py inside the backup-tools
container, as the tools' user - uid 1000 like Odoo - with the odoo_data volume mounted).

    bench_files.py FOLDER TOTAL_BYTES

About 70% random bytes like photos and PDFs, 30% compressible text, each stored under its SHA-1
as Odoo does; prints one COPY row a file: name, store_fname, checksum, size. Benchmark data only.
"""
import hashlib
import os
import random
import sys


def main(root, total):
    random.seed(42)
    text = b"Farmer registration form. Name, national id, village, plot, crop, household. " * 13000
    written = n = 0
    os.makedirs(root, exist_ok=True)
    while written < total:
        n += 1
        size = random.randint(100_000, 1_000_000)
        # every file different (the filestore stores equal contents once): numbered text forms
        data = os.urandom(size) if random.random() < 0.7 else (b"Form %d. " % n + text)[:size]
        sha = hashlib.sha1(data).hexdigest()
        folder = os.path.join(root, sha[:2])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, sha), "wb") as handle:
            handle.write(data)
        written += size
        print(f"bench{n}.bin\t{sha[:2]}/{sha}\t{sha}\t{size}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
