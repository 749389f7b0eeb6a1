# Test tool only (never deployed): Debian's headless Chromium, to load the overview page like
# an operator's browser would, keep a screenshot and the DOM after the graphs are drawn.
# Built by tests/e2e/test_monitoring.py from this folder. Classic builder compatible.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends chromium fonts-dejavu-core; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --uid 10191 --create-home --shell /usr/sbin/nologin shot
USER 10191:10191
WORKDIR /home/shot
# --no-sandbox: Chromium's sandbox needs user namespaces a locked-down container does not get;
# the container itself (no capability, read-only, internal network only) is the sandbox here.
ENTRYPOINT ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", \
            "--hide-scrollbars", "--no-first-run", "--disable-extensions"]
