# byov build, test and development entry points. Everything needs only Go.
GO        ?= go
BIN       := bin
PLUGINS   := $(BIN)/plugins
# Pinned tool versions, run through the Go toolchain.
BUF          := github.com/bufbuild/buf/cmd/buf@v1.75.0
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_FLAGS   ?= -race -count=1 -timeout 15m

.PHONY: all build dev test bench soak lint proto clean

all: build

build:
	$(GO) build -o $(BIN)/byov ./cmd/byov
	$(GO) build -o $(BIN)/psemu ./cmd/psemu
	$(GO) build -o $(PLUGINS)/byov-connector-builtin ./plugins/builtin
	$(GO) build -o $(PLUGINS)/byov-connector-passwordsecure ./plugins/passwordsecure

# dev builds everything and runs the host on loopback with demo data.
dev: build
	$(BIN)/byov dev -plugin-dir $(PLUGINS)

# test runs every module's tests with the race detector.
test:
	$(GO) vet ./...
	cd sdk && $(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...
	cd sdk && $(GO) test $(TEST_FLAGS) ./...
	cd examples/connector-passage && $(GO) vet ./... && $(GO) test $(TEST_FLAGS) ./...

SOAK ?= 10m

# soak runs byov under load and faults (SOAK=60s for a short run; CI runs one).
soak:
	$(GO) run ./soak -duration $(SOAK)

bench:
	$(GO) run ./bench $(BENCHFLAGS)

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./... && (cd sdk && $(GO) vet ./...)
	$(GO) run $(STATICCHECK) ./...
	cd sdk && $(GO) run $(STATICCHECK) ./...
	cd examples/connector-passage && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

# proto regenerates the protocol code with pinned generators (see sdk/buf.gen.yaml).
proto:
	cd sdk && $(GO) run $(BUF) generate

clean:
	rm -rf $(BIN)
