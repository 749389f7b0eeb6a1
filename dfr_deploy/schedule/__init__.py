"""Jobs that run by themselves: the environment's backups, base backups, restore drills and WAL
checks, installed as systemd timers (cron where the host has no systemd).

- calendar  cron expressions (what config/<env>.env holds) -> systemd OnCalendar, said once
- jobs      which jobs exist, their settings and defaults
- units     the unit files and cron lines of an environment's jobs
- install   writing them (idempotently), enabling, removing, showing
- notify    telling a person when a job failed: mail through the SMTP relay, a webhook
"""
