# Make targets of the original design, delegating to the invoke tasks (see `invoke --list`).
INVOKE ?= .venv/bin/invoke
BACKUP_FILE ?=

.PHONY: help setup test render_config build_odoo build_postgres build_nginx build_all_images \
	deploy_dev deploy_staging deploy_production stop_dev stop_staging stop_production \
	logs_dev logs_staging logs_production status_dev status_staging status_production

help:
	@$(INVOKE) --list

setup:
	bash setup.sh --no-deploy

test:
	.venv/bin/pytest

# Re-render this repository's own config/*.env from the template (see tests/fixtures/self-answers.yml).
render_config:
	.venv/bin/python tests/render_self_config.py

build_odoo:
	$(INVOKE) img-build --service=odoo
build_postgres:
	$(INVOKE) img-build --service=postgres
build_nginx:
	$(INVOKE) img-build --service=nginx
build_all_images: build_odoo build_postgres build_nginx

deploy_dev:
	$(INVOKE) deploy --env=devel
deploy_staging:
	$(INVOKE) deploy --env=staging
deploy_production:
	$(INVOKE) deploy --env=prod

stop_dev:
	$(INVOKE) stop --env=devel
stop_staging:
	$(INVOKE) stop --env=staging
stop_production:
	$(INVOKE) stop --env=prod

logs_dev:
	$(INVOKE) logs --env=devel --follow
logs_staging:
	$(INVOKE) logs --env=staging --follow
logs_production:
	$(INVOKE) logs --env=prod --follow

status_dev:
	$(INVOKE) status --env=devel
status_staging:
	$(INVOKE) status --env=staging
status_production:
	$(INVOKE) status --env=prod

# Backups (see backup/README.md): a verified set of production; a restore into staging.
.PHONY: backup_db_prod restore_db_staging backups_prod
backup_db_prod:
	$(INVOKE) backup --env=prod
backups_prod:
	$(INVOKE) backups --env=prod
restore_db_staging:
	@test -n "$(BACKUP_FILE)" || { echo "usage: make restore_db_staging BACKUP_FILE=<set folder, Odoo zip or pg_dump file>"; exit 2; }
	$(INVOKE) restore --env=staging --file="$(BACKUP_FILE)"
