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
