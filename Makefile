# The two commands a fresh clone needs. Each installs what is missing first (Node 24, pnpm,
# dependencies, redis-server, Docker where it can), and says so when it is already there.
.PHONY: dev test test-chaos soak loadtest bench images test-images clean

dev: ## install what is missing, build, run the whole pipeline locally
	@bash scripts/dev.sh

test: ## install what is missing, then lint, type-check, unit and integration tests
	@bash scripts/test.sh

loadtest: ## rehearse production load and verify nothing was lost: make loadtest ARGS="--target-buffer 500MB"
	@bash scripts/loadtest.sh $(ARGS)

test-chaos: ## faults under load (kill -9, S3 500/slow/gone, network cut, Redis restart): make test-chaos ARGS="--fsync everysec"
	@bash scripts/chaos.sh $(ARGS)

soak: ## steady load for 30 minutes, watching memory: make soak ARGS="--duration 5m"
	@bash scripts/soak.sh $(ARGS)

bench: ## each benchmark scenario beside its baseline (bench/); make bench ARGS="c" runs one
	@bash scripts/bench.sh $(ARGS)

images: ## build the production images spool/ingest and spool/flusher
	@bash scripts/build-images.sh

test-images: ## build (or reuse) the container images the integration tests use
	@bash scripts/test-images.sh

clean: ## remove build output and installed tools (not .data/)
	rm -rf .tools node_modules apps/*/node_modules packages/*/node_modules apps/*/dist packages/*/dist .turbo
