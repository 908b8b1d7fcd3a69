# make run   – everything up on local defaults (RabbitMQ, PostgreSQL and Redis running)
# make test  – every tier: unit, integration, end to end and reliability (quick scale)
VENV := .venv
PY := $(VENV)/bin/python
SERVICES := $(patsubst services/%/service.py,%,$(wildcard services/*/service.py))
DATABASES := $(patsubst services/%/migrations,%,$(wildcard services/*/migrations))
export PYTHONPATH := $(CURDIR)
# local defaults: the development passwords and keys (production refuses them)
LOCAL := ENVIRONMENT=$${ENVIRONMENT:-development}

.PHONY: install mail-catcher db run demo test test-e2e reliability test-unit test-integration bench bench-copy bench-media bench-e2e bench-scaleout bench-messages bench-gateway bench-my-events bench-webhooks lint k8s-validate docs asyncapi dead-letters replay \
	admin verify-email media-gc integration observe prometheus

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

# the node tools of package.json: maildev, the mail catcher; the AsyncAPI parser
node_modules/.installed: package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# the mail catcher: SMTP on 127.0.0.1:MAIL_SMTP (where the notifications
# service sends by default), the inbox and its REST API on MAIL_WEB
MAIL_SMTP := 1025
MAIL_WEB := 1080
MAILDEV := node_modules/.bin/maildev --ip 127.0.0.1 --smtp $(MAIL_SMTP) --web-ip 127.0.0.1 \
	--web $(MAIL_WEB)

# maildev alone, in the foreground (`make run` starts it beside the services)
mail-catcher: install
	$(MAILDEV)

# the databases, and each service's broker user with its permissions (shared.broker)
db: install
	@$(PY) scripts/preflight.py --management
	$(PY) -m shared.migrate $(addprefix services/,$(DATABASES))
	$(LOCAL) $(PY) -m shared.broker setup

run: install db
	MAILDEV="$(MAILDEV)" MAIL_SMTP=$(MAIL_SMTP) MAIL_WEB=$(MAIL_WEB) scripts/run.sh $(SERVICES)

# the whole story against a running system (make run in another terminal)
demo: install
	$(PY) scripts/demo.py

test: install prometheus
	@$(PY) scripts/preflight.py --management
	$(PY) -m pytest

test-unit: install prometheus
	$(PY) -m pytest tests/unit

test-integration: install
	@$(PY) scripts/preflight.py --management
	$(PY) -m pytest tests/integration

test-e2e: install prometheus
	@$(PY) scripts/preflight.py --management
	$(PY) -m pytest tests/e2e

# faults, fuzzing, the authorization matrix and a sustained load, at full
# scale; writes docs/reliability.md (takes minutes)
RELIABILITY := var/reliability
reliability: install
	@$(PY) scripts/preflight.py --management
	@command -v wrk >/dev/null || apt-get install -y -q wrk
	rm -rf $(RELIABILITY) && mkdir -p $(RELIABILITY)
	RELIABILITY_SCALE=full RELIABILITY_RESULTS=$(RELIABILITY)/results.jsonl $(PY) -m pytest \
		tests/reliability tests/e2e/test_authorization.py tests/e2e/test_tokens.py \
		--junitxml=$(RELIABILITY)/junit.xml
	$(PY) -m bench.load --seconds 60 --json $(RELIABILITY)/load.json
	$(PY) scripts/reliability_report.py $(RELIABILITY) > docs/reliability.md
	@echo "written: docs/reliability.md"

# every benchmark, progress as it goes; each writes its section of docs/benchmarks.md
bench: bench-copy bench-media bench-e2e bench-scaleout bench-messages bench-gateway bench-my-events bench-webhooks
	@echo "written: docs/benchmarks.md"

bench-copy: install
	@$(PY) scripts/preflight.py
	$(PY) -m bench.copy_bench

bench-media: install
	@$(PY) scripts/preflight.py
	$(PY) -m bench.media_bench

bench-e2e: install
	@$(PY) scripts/preflight.py --management
	$(PY) -m bench.e2e_copy_bench

bench-scaleout: install
	@$(PY) scripts/preflight.py --management
	$(PY) -m bench.scaleout_bench

bench-messages: install
	@$(PY) scripts/preflight.py --management
	$(PY) -m bench.message_bench --rounds 5 --observability default,off,metrics,collector,sampled

bench-gateway: install
	@$(PY) scripts/preflight.py --management
	@command -v wrk >/dev/null || apt-get install -y -q wrk
	$(PY) -m bench.gateway_bench

bench-my-events: install
	@$(PY) scripts/preflight.py --management
	@command -v wrk >/dev/null || apt-get install -y -q wrk
	$(PY) -m bench.my_events_bench

bench-webhooks: install
	@$(PY) scripts/preflight.py --management
	$(PY) -m bench.webhook_bench

# style, and the import rule of contracts/ (pyproject.toml, [tool.importlinter])
lint: install prometheus
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m shared.settings check
	$(MAKE) --no-print-directory k8s-validate

# deploy/k8s rendered (kustomize's subset) and checked against the Kubernetes
# schemas and the code; no cluster needed
k8s-validate: install
	$(PY) -m scripts.k8s validate
	promtool check config deploy/prometheus/prometheus.yml deploy/prometheus/compose.yml
	node scripts/validate_asyncapi.mjs docs/asyncapi.yaml

# the tables of docs/ that describe code (RPC, messages, settings), from the code
docs: install asyncapi
	$(PY) -m scripts.docs

# docs/asyncapi.yaml, the AsyncAPI document of the messages (contracts/asyncapi.py)
asyncapi: install
	$(PY) -m scripts.asyncapi

# make integration NAME=crm EVENTS='event.* invite.accepted' [REMOVE=1]: an
# integration's broker account and queue (prints its password once), or away
integration: install
	$(PY) -m shared.integrations $(if $(REMOVE),remove $(NAME),add $(NAME) \
		$(foreach pattern,$(EVENTS),'$(pattern)'))

# Prometheus and promtool (Debian's package): `observe`, the alert rules' tests, lint
prometheus:
	@command -v promtool >/dev/null || apt-get install -y -q --no-install-recommends prometheus

# Prometheus on http://127.0.0.1:9090 scraping every service of `make run` and
# RabbitMQ (its rabbitmq_prometheus plugin), with the alerts, in the foreground
PROMETHEUS_PORT := 9090
observe: install prometheus
	-@rabbitmq-plugins -q enable rabbitmq_prometheus
	$(PY) scripts/observe.py --port $(PROMETHEUS_PORT)

dead-letters: install
	$(LOCAL) $(PY) -m shared.deadletters list

# make replay SERVICE=roles MESSAGE=<message id>
replay: install
	$(LOCAL) $(PY) -m shared.deadletters replay $(SERVICE) $(MESSAGE)

# make admin EMAIL=<email> [REVOKE=1]: grant (or revoke) a user's admin flag
admin: install
	$(PY) -m services.roles.admin $(if $(REVOKE),revoke,grant) $(EMAIL)

# make verify-email EMAIL=<email>: mark an email verified (a support case)
verify-email: install
	$(PY) -m services.roles.admin verify $(EMAIL)

# remove retired media records and unreferenced blobs older than GC_GRACE_SECONDS
media-gc: install
	$(PY) -m services.media.gc
