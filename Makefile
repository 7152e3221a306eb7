# Spool's commands. A fresh clone needs two: `make dev` and `make test`; each installs what is
# missing first (Node 24, pnpm, dependencies, redis-server, Docker where it can) and says so when
# it is already there. `make` alone lists them all and starts nothing.
.DEFAULT_GOAL := help
.PHONY: help dev dev-cluster status tail verify replay query observability test test-chaos soak loadtest bench images test-images clean

help: ## list the targets (this)
	@awk 'BEGIN { FS = ":.*## " } /^[a-z-]+:.*## / { printf "  make %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo '  (ARGS="..." passes options to loadtest, test-chaos, soak and bench; ARGS="--help" lists them)'

dev: ## run the whole pipeline locally: Redis, an S3 stand-in, the ingest and the flusher
	@bash scripts/dev.sh

dev-cluster: ## make dev on a Redis Cluster of 3 masters and 3 replicas (ports 7000-7005)
	@SPOOL_DEV_CLUSTER=1 bash scripts/dev.sh

status: ## a live table of the running pipeline (make dev's flusher; ARGS="--url URL", "--redis URL" or "--cluster host:port")
	@bash scripts/tool.sh spool status $(if $(findstring --url,$(ARGS))$(findstring --redis,$(ARGS))$(findstring --cluster,$(ARGS)),,--url http://127.0.0.1:$${SPOOL_DEV_FLUSHER_PORT:-9091}) $(ARGS)

tail: ## print a stream's events as they arrive: make tail STREAM=web (make dev's Redis, or REDIS_URL or REDIS_CLUSTER_NODES; ARGS="--from-start")
	@bash scripts/tool.sh spool tail "$(STREAM)" $(if $(REDIS_CLUSTER_NODES)$(findstring --cluster,$(ARGS))$(findstring --redis,$(ARGS)),,--redis "$${REDIS_URL:-redis://127.0.0.1:$${SPOOL_DEV_REDIS_PORT:-6390}}") $(ARGS)

# make verify and make replay read make dev's store (S3_BUCKET's bucket there, as make dev
# writes it) unless S3_ENDPOINT, AWS_ACCESS_KEY_ID or AWS_PROFILE says which store: its address,
# and the stand-in's local credentials (LOCAL_S3_CREDENTIALS in packages/testkit/src/local-stack/s3-standin.ts).
DEV_S3 = $(if $(S3_ENDPOINT)$(AWS_ACCESS_KEY_ID)$(AWS_PROFILE),,S3_BUCKET=$${S3_BUCKET:-spool} \
	S3_ENDPOINT=http://127.0.0.1:$${SPOOL_DEV_S3_PORT:-9000} \
	S3_FORCE_PATH_STYLE=true AWS_ACCESS_KEY_ID=spool AWS_SECRET_ACCESS_KEY=spool-local-secret)

verify: ## check a day in S3 against its manifest: make verify STREAM=web DAY=2026-12-01 (make dev's store, or S3_ENDPOINT or AWS credentials and the S3 settings; ARGS="--deep")
	@$(DEV_S3) bash scripts/tool.sh spool verify --stream "$(STREAM)" --day "$(DAY)" $(ARGS)

replay: ## rewrite landed objects elsewhere or in another format: ARGS="--stream web --from D --to D --to-prefix P --format ndjson.zst" (make dev's store, or S3_ENDPOINT or AWS credentials and the S3 settings)
	@$(DEV_S3) bash scripts/tool.sh spool replay $(ARGS)

# SQL as it was written: make would read its `$.page.path` as the variable `.` (empty) and `$$` as
# `$` when passing it on; $(value SQL) is its text, handed over in a file (it may hold newlines).
query: ## run SQL with DuckDB, e.g. on make dev's objects (docs/output.md): make query SQL="SELECT …" (or the SQL on stdin)
	@$(eval QUERY_FILE := $(shell mktemp))$(file >$(QUERY_FILE),$(value SQL))bash scripts/tool.sh query "$$(cat $(QUERY_FILE))"; \
	  status=$$?; rm -f $(QUERY_FILE); exit $$status

observability: ## the compose stack with Prometheus (Spool's alerts) and Grafana (its dashboard)
	@bash scripts/observability.sh

test: ## lint, type-check, audit, unit, integration, chaos (short) and compose tests
	@bash scripts/test.sh

loadtest: ## rehearse production load, then prove nothing was lost or doubled: ARGS="--target-buffer 500MB"
	@bash scripts/tool.sh loadtest $(ARGS)

test-chaos: ## faults under load (kill -9, S3 down, cut networks, lost replies): ARGS="--fsync everysec"
	@bash scripts/tool.sh chaos $(ARGS)

soak: ## steady load for 30 minutes, watching memory: ARGS="--duration 5m"
	@bash scripts/tool.sh soak $(ARGS)

bench: ## each benchmark scenario beside its baseline (bench/): ARGS="c" runs one
	@bash scripts/tool.sh bench $(ARGS)

images: ## build the production images spool/ingest and spool/flusher
	@bash scripts/build-images.sh

test-images: ## build (or reuse) the container images the integration tests use
	@bash scripts/test-images.sh

clean: ## remove build output and installed tools (not .data/)
	rm -rf .tools .tsbuild node_modules docker/test-images/s3/node_modules apps/*/node_modules packages/*/node_modules tools/*/node_modules tests/*/node_modules apps/*/dist packages/*/dist tools/*/dist .turbo
