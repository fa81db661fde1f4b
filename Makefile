# The two commands: `make demo` and `make test` (fresh Debian 12, as root).
BUILD    ?= build
JOBS     ?= 2
PACKAGES := cmake g++ make ccache python3 libcaf-dev libprotobuf-dev protobuf-compiler \
            libsqlite3-dev libboost-test-dev librdkafka-dev libcpp-httplib-dev \
            nlohmann-json3-dev libspdlog-dev libcli11-dev libjs-chart.js libssl-dev
# What only the tests run: promtool and a prometheus server (tests/runtime/ui_metrics),
# chromium for the page (tests/runtime/ui_page), kcat for the Kafka tests (tests/kafka).
TEST_PACKAGES := prometheus chromium kcat openssl iproute2
DEMO_ARGS ?=

.PHONY: deps configure build demo test test-wire test-cluster bench install clean build-asan test-asan build-tsan test-tsan

# Installs the Debian packages only when one is missing (apt-get update is slow).
deps:
	@missing=""; for p in $(PACKAGES) $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/samples/word_count_demo $(DEMO_ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

# The runtime suites (operators, windows, state, receivers, recovery) again with
# sluice.serializer.local=true from a conf file: every partition between actors
# goes as codec bytes, as between processes.
test-wire: build
	cd $(BUILD) && SLUICE_CONF_FILE=$(CURDIR)/tests/conf/wire.conf \
	  ctest --output-on-failure -j$(JOBS) --timeout 600 -R '^runtime/'

# The semantic suites again at local-cluster[2,1] (tests/conf/cluster.conf): each context's
# stages run in two worker processes re-running the test program. One suite at a time: every
# context starts two processes.
CLUSTER_SUITES := stateless_ops|kv_ops|gather_ops|window_ops|state_ops|queue_stream|checkpoint|window_recovery|view_records
test-cluster: build
	cd $(BUILD) && SLUICE_CONF_FILE=$(CURDIR)/tests/conf/cluster.conf \
	  ctest --output-on-failure -j1 --timeout 900 -R '^runtime/($(CLUSTER_SUITES))$$'

bench: build
	@test -s $(BUILD)/corpus-50mb.txt || { python3 bench/gen_corpus.py 50 > $(BUILD)/corpus-50mb.tmp \
	  && mv $(BUILD)/corpus-50mb.tmp $(BUILD)/corpus-50mb.txt; }
	$(MAKE) -s -C . bench-run BUILD=$(BUILD)

# Runs the benchmarks on an existing build (make bench builds first).
.PHONY: bench-run
bench-run:
	$(BUILD)/bench/word_count --input $(BUILD)/corpus-50mb.txt --master local[2]
	$(BUILD)/bench/batch_overhead --batches 2000 --interval-ms 10 --master local[2] --ui compare --rounds 5
	$(BUILD)/bench/batch_overhead --batches 5000 --interval-ms 1 --master local[2]
	$(BUILD)/bench/batch_overhead --batches 2000 --interval-ms 10 --master local[2] --ui off --scheduler compare --rounds 3
	$(BUILD)/bench/host_latency --runs 3
	$(BUILD)/bench/batch_overhead --batches 2000 --interval-ms 10 --master "local-cluster[2,1]"
	$(BUILD)/bench/cluster_word_count --input $(BUILD)/corpus-50mb.txt --rounds 5
	$(BUILD)/bench/windowed_word_count --input $(BUILD)/corpus-50mb.txt --master local[2]
	$(BUILD)/bench/state_scaling --master local[2]
	$(BUILD)/bench/receiver_ingest --mode batch --seconds 5
	$(BUILD)/bench/checkpoint_cost --master local[2]
	$(BUILD)/bench/overload --seconds 60
	$(BUILD)/bench/simulation --batches 100 --seeds 5

# -- sanitizers -----------------------------------------------------------------
# make test-asan: every test (and the samples they run as child processes) built
# with AddressSanitizer + UndefinedBehaviorSanitizer at -O1 -g1 (ASan's advice:
# usable speed, stack traces with lines) in $(ASAN_BUILD); no benchmarks.
# Any finding fails its test (halt_on_error); cmake/*.supp hold the suppressions
# of findings in code we do not own, each with its reason.
# verify_asan_link_order=0: runtime/checkpoint_compat LD_PRELOADs a clock shim
# into a sample, which puts the shim before libasan in the library list.
# Shared libraries here: linked statically, the instrumented libraries (ASan's
# global redzones, UBSan's check data and their relocations, ~275 MB) were
# copied into every one of the ~40 test and sample binaries, 20 GB in all;
# a CI run once failed on a full disk.
ASAN_BUILD   ?= build-asan
ASAN_FLAGS   := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
                -DSLUICE_SANITIZE=address,undefined -DSLUICE_BUILD_BENCH=OFF -DBUILD_SHARED_LIBS=ON
ASAN_ENV     := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_init_order=1:check_initialization_order=1:detect_stack_use_after_return=0:verify_asan_link_order=0 \
                LSAN_OPTIONS=suppressions=$(CURDIR)/cmake/lsan.supp:print_suppressions=0 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/cmake/ubsan.supp
SAN_CTEST    := ctest --output-on-failure -j$(JOBS) --timeout 1200

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) $(ASAN_FLAGS) \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
	cmake --build $(ASAN_BUILD) -j$(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && $(ASAN_ENV) $(SAN_CTEST)

# make test-tsan: the tests built with ThreadSanitizer against a CAF built with it
# too (cmake/caf-tsan.sh: Debian's source package through apt, built once in
# $(TSAN_BUILD)/caf). A race report fails its test (TSan's exit code 66).
# TSAN_TESTS: ctest arguments, e.g. TSAN_TESTS='-R runtime/receiver'.
TSAN_BUILD   ?= build-tsan
TSAN_TESTS   ?=
CAF_DEBIAN_VERSION := 0.17.6-2.1
TSAN_ENV     := TSAN_OPTIONS=second_deadlock_stack=1:history_size=4:suppressions=$(CURDIR)/cmake/tsan.supp

build-tsan:
	$(MAKE) -s deps PACKAGES="$(PACKAGES) dpkg-dev"
	test -f $(TSAN_BUILD)/caf/prefix/lib/libcaf_core.so \
	  || cmake/caf-tsan.sh $(TSAN_BUILD)/caf $(CAF_DEBIAN_VERSION) $(JOBS)
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSLUICE_SANITIZE=thread -DSLUICE_BUILD_BENCH=OFF \
	  -DCMAKE_PREFIX_PATH=$(CURDIR)/$(TSAN_BUILD)/caf/prefix \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
	cmake --build $(TSAN_BUILD) -j$(JOBS)

# install/find_package is left out: its consumer links Debian's uninstrumented
# libcaf_core through the installed package, which TSan cannot see into (about
# 200 false reports in CAF's spawn path when it ran, none from sluice's suites).
test-tsan: build-tsan
	cd $(TSAN_BUILD) && $(TSAN_ENV) $(SAN_CTEST) -E install/find_package $(TSAN_TESTS)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
