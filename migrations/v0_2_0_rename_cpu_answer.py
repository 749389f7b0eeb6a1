#!/usr/bin/env python3
"""Migration to 0.2.0, run by `copier update` before the update: the answer `prod_cpus` was
renamed `prod_cpu_cores`. Without this, the update would forget the country's answer and size
production for the default 4 cores. Idempotent; keeps every other answer and comment.
Usage: v0_2_0_rename_cpu_answer.py PROJECT_DIR
"""
import re
import sys
from pathlib import Path

answers = Path(sys.argv[1]) / ".copier-answers.yml"
text = answers.read_text()
if re.search(r"^prod_cpus:", text, re.M) and not re.search(r"^prod_cpu_cores:", text, re.M):
    answers.write_text(re.sub(r"^prod_cpus:", "prod_cpu_cores:", text, flags=re.M))
    print("migration 0.2.0: renamed answer prod_cpus -> prod_cpu_cores")
else:
    print("migration 0.2.0: nothing to rename")
