"""dfr-acme: the acme service of dfr-deploy (TLS_MODE=acme or files).

- settings     the service's environment, checked once, one line per mistake
- certificate  what a PEM certificate says (openssl), and whether a key belongs to it
- store        the certificate volume (releases, the `live` link swapped atomically) and the
               service's state file and lock
- lego         running Debian's lego: its arguments, environment, and one-line errors
- metrics      dfr_tls.prom for node_exporter's textfile collector
- renewal      when to renew, one attempt, the files mode's report
- cli          run (the loop), renew, status, health, check
"""
