# Entry points for contributors; .ci/run calls the same commands.
.PHONY: fmt lint test test-integration bench run dashboard demo smoke-llm

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings

# The README's test command.
test:
	cargo test --workspace

test-integration:
	cargo test -p orx-cli --test it

# Benchmarks print figures; they never fail a test run.
bench:
	cargo bench -p orx-core --bench parsers
	cargo bench -p orx-dashboard --bench dashboard
	bash scripts/bench.sh cli
	bash scripts/bench.sh overhead
	bash scripts/bench.sh stream

# The dashboard on its default port, for the repository in the current directory.
run: dashboard

dashboard:
	cargo run --release -- dashboard

demo:
	cargo run --release -- demo

# Opt-in run against a real model provider: RUN_LLM_TESTS=1 make smoke-llm
smoke-llm:
	@if [ "$${RUN_LLM_TESTS:-0}" != "1" ]; then echo "skipped: set RUN_LLM_TESTS=1 to run against a real provider"; exit 0; fi; \
	echo "no real-provider adapter yet (agents issue)"; exit 1
