# Chorus - a conference bridge for telephony Media Streams.
#
#   make            build everything into build/
#   make test       install missing packages, build, run every test
#   make run        start the gateway on port 8080 with defaults
#   make bench      build and run the benchmarks (prints numbers)
#   make asan       the test suite under AddressSanitizer + UBSan
#   make unit-test  the tests that do not start the programs (image build)
#   make container-test  build the container image and test it for real
#   make install    install the programs (PREFIX, DESTDIR honoured)
#   make format     rewrite the C sources with clang-format-14 (.clang-format)
#   make format-check  list the C sources make format would change; fail if any
#   make clean
#
# Sources are found by folder, so adding a file needs no edit here:
#   codec/ mixer/            static libraries (no lws, no jansson)
#   gateway/ mock-client/    a library of everything but main.c, plus main.c
#   tests/support/           helpers linked into tests and benchmarks
#   tests/test_*.c           one cmocka program each, run by `make test`
#   tests/bench_*.c          one benchmark program each, run by `make bench`
#   tests/bench_*.sh         benchmark scripts, run by `make bench` after them

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
PORT     ?= 8080

CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
PKGS      = libwebsockets jansson cmocka sndfile samplerate libuv libssl libcrypto libjwt libcurl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -I. -I$(BUILD)/gen -D_GNU_SOURCE
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) $(PKG_CFLAGS) $(SAN_FLAGS) -MMD -MP
LDLIBS   += $(PKG_LIBS) -lb64 -lm -lpthread

ifeq ($(SANITIZE),1)
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
endif

codec_src   := $(filter-out codec/g711_gen.c,$(wildcard codec/*.c))
mixer_src   := $(wildcard mixer/*.c)
gateway_src := $(filter-out gateway/main.c,$(wildcard gateway/*.c))
client_src  := $(filter-out mock-client/main.c,$(wildcard mock-client/*.c))
support_src := $(wildcard tests/support/*.c)
test_src    := $(wildcard tests/test_*.c)
bench_src   := $(wildcard tests/bench_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

codec_lib   := $(BUILD)/libchorus-codec.a
mixer_lib   := $(BUILD)/libchorus-mixer.a
gateway_lib := $(BUILD)/libchorus-gateway.a
client_lib  := $(BUILD)/libchorus-client.a
support_lib := $(BUILD)/libchorus-testsupport.a
# Link order: users before what they use.
libs := $(support_lib) $(client_lib) $(gateway_lib) $(mixer_lib) $(codec_lib)

programs := $(BUILD)/chorus-gateway $(BUILD)/chorus-client
echo_baseline := $(BUILD)/chorus-echo-baseline
tests    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(test_src))
# End-to-end tests start programs: they name a variable that hands them one
# (CHORUS_GATEWAY, CHORUS_CLIENT, CHORUS_ECHO_BASELINE) or use gwtest.h, the
# helper that starts the gateway. Every other test is a unit test.
e2e_src  := $(shell grep -l -E 'CHORUS_(GATEWAY|CLIENT|ECHO_BASELINE)|gwtest\.h' \
                     $(test_src) /dev/null)
unit_tests := $(patsubst tests/%.c,$(BUILD)/tests/%,$(filter-out $(e2e_src),$(test_src)))
benches  := $(patsubst tests/%.c,$(BUILD)/bench/%,$(bench_src))

.PHONY: all deps test unit-test container-test run bench asan install clean \
        format format-check
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build-all

.PHONY: build-all build-tests build-benches
build-all: $(programs) $(libs)
build-tests: build-all $(echo_baseline) $(tests)
build-benches: build-all $(echo_baseline) $(benches)

# Every entry point checks the packages first; the check is a few dpkg
# queries, and installs (as root) only what is missing.
deps:
	@scripts/deps

# --- objects and libraries --------------------------------------------------

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/g711_gen: codec/g711_gen.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) $< -o $@

$(BUILD)/gen/g711_tables.c: $(BUILD)/gen/g711_gen
	$< > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/g711_tables.o: $(BUILD)/gen/g711_tables.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Icodec $(ALL_CFLAGS) -c $< -o $@

# The mixer's per-frame loops (sums, mix-minus, peaks) need the vectorizer,
# which gcc 12 runs at -O2 only for loops it finds very cheap: -O3 halves a
# tick's cost (tests/bench_mixer.c).
$(BUILD)/obj/mixer/%.o: CFLAGS += -O3

$(codec_lib): $(call obj,$(codec_src)) $(BUILD)/obj/gen/g711_tables.o
$(mixer_lib): $(call obj,$(mixer_src))
$(gateway_lib): $(call obj,$(gateway_src))
$(client_lib): $(call obj,$(client_src))
$(support_lib): $(call obj,$(support_src))
$(BUILD)/lib%.a:
	@rm -f $@
	$(AR) rcs $@ $^

# --- programs, tests, benchmarks --------------------------------------------

$(BUILD)/chorus-gateway: $(call obj,gateway/main.c) $(libs)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/chorus-client: $(call obj,mock-client/main.c) $(libs)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The bare epoll WebSocket echo server that `make bench` compares the gateway
# with (and the mock client's end-to-end tests use as a stand-in server).
$(echo_baseline): $(call obj,tests/tools/echo_baseline.c) $(client_lib) $(codec_lib)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(shell pkg-config --libs libcrypto) -o $@

$(BUILD)/tests/% $(BUILD)/bench/%: $(BUILD)/obj/tests/%.o $(libs)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

.SECONDARY:

# --- running ----------------------------------------------------------------

# Tests find the binaries and fixtures through these.
export CHORUS_BUILD    = $(abspath $(BUILD))
export CHORUS_GATEWAY  = $(abspath $(BUILD))/chorus-gateway
export CHORUS_CLIENT   = $(abspath $(BUILD))/chorus-client
export CHORUS_ECHO_BASELINE = $(abspath $(echo_baseline))
export CHORUS_FIXTURES = $(abspath tests/fixtures)

test: deps
	@$(MAKE) --no-print-directory build-tests
	@scripts/run-tests $(tests)

unit-test: deps
	@$(MAKE) --no-print-directory build-all $(unit_tests)
	@scripts/run-tests $(unit_tests)

# Needs root and podman (installed if missing); see scripts/container-test.
container-test: deps
	@$(MAKE) --no-print-directory build-all
	@scripts/container-test

run: deps
	@$(MAKE) --no-print-directory build-all
	$(BUILD)/chorus-gateway --port $(PORT)

bench: deps
	@$(MAKE) --no-print-directory OPT=-O2 build-benches
	@set -e; for b in $(benches); do echo "== $$b"; $$b; done; \
	for s in $(wildcard tests/bench_*.sh); do echo "== $$s"; sh $$s; done

asan: deps
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	 $(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 OPT=-O1 test

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(programs) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

# --- formatting -------------------------------------------------------------

# Every .c and .h of the project (the generated tables are in build/, not
# here), formatted by the one clang-format the package list installs, so that
# every machine formats alike. Deferred (=): only these targets pay for find.
CLANG_FORMAT ?= clang-format-14
fmt_src = $(shell find codec mixer gateway mock-client common tests \
                   -name '*.[ch]' | LC_ALL=C sort)

format: deps
	@$(CLANG_FORMAT) -i $(fmt_src)

# One file at a time, so that the output is the list of files to fix rather
# than every line of them.
format-check: deps
	@command -v $(CLANG_FORMAT) >/dev/null || \
	 { echo "format-check: $(CLANG_FORMAT) not found" >&2; exit 1; }
	@bad=""; for f in $(fmt_src); do \
		$(CLANG_FORMAT) --dry-run --Werror "$$f" 2>/dev/null || \
			bad="$$bad $$f"; \
	done; \
	[ -z "$$bad" ] && exit 0; \
	echo "format-check: not formatted (make format rewrites them):" >&2; \
	for f in $$bad; do echo "  $$f" >&2; done; \
	exit 1

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
