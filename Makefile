# SPDX-License-Identifier: MIT
# mica's only build file.
#
#   make            optimised build: build/release/mica
#   make run        install missing build dependencies, build, serve ./www on :6789
#   make test       unit + integration tests, then again under ASan+UBSan
#   make fuzz       libFuzzer targets (clang), each run FUZZ_SECONDS over its corpus
#   make bench      wrk against mica, nginx and lighttpd on the same files (bench/run.sh)
#   make clean
#
# Objects live in build/<variant>/ (release, asan, fuzz) so variants never mix.
# V=1 shows the commands; WERROR=1 turns warnings into errors (make test sets it).

VARIANT ?= release
BUILD   := build/$(VARIANT)
PREFIX  ?= /usr/local

PKGS      := libcjson libxcrypt zlib libbrotlienc sqlite3 openssl
TEST_PKGS := cmocka
PYTHON    := /usr/bin/python3

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wvla -Wundef -fno-common
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Isrc -MMD -MP $(WARN)
ifeq ($(VARIANT),release)
CC      ?= cc
OPT     := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDOPT   := -pie -Wl,-z,relro,-z,now
else ifeq ($(VARIANT),asan)
OPT     := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer -DMICA_SMALL_BUFFERS
LDOPT   := -fsanitize=address,undefined
else ifeq ($(VARIANT),fuzz)
CC      := clang
OPT     := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -DMICA_SMALL_BUFFERS
LDOPT   := -fsanitize=fuzzer,address,undefined
endif

# Evaluated once, when a rule first needs them (after dependencies are installed).
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)
TEST_LIBS  = $(eval TEST_LIBS := $$(shell pkg-config --libs $(TEST_PKGS)))$(TEST_LIBS)

CFLAGS  += $(CFLAGS_BASE) $(OPT)
LDFLAGS += $(LDOPT)
LDLIBS  += -lpthread

SRCS      := $(sort $(wildcard src/*/*.c))
OBJS      := $(SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libmica.a
BIN       := $(BUILD)/mica
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNITS     := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
REPLAYS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/replay/%)
FUZZ_SECONDS ?= 60

.PHONY: all build run test check unit integration replay fuzz fuzz-build bench clean install \
        deps test-deps

all: deps
	$(Q)$(MAKE) --no-print-directory build

build: $(BIN)

# Dependencies are installed only when a quick check finds something missing.
deps:
	$(Q)command -v cc >/dev/null && pkg-config --exists $(PKGS) 2>/dev/null || \
		scripts/install-deps.sh build

test-deps:
	$(Q)command -v cc >/dev/null && pkg-config --exists $(PKGS) $(TEST_PKGS) 2>/dev/null && \
		command -v curl >/dev/null && command -v chromium >/dev/null && \
		command -v haproxy >/dev/null && command -v logrotate >/dev/null && \
		$(PYTHON) -c 'import pytest, requests' 2>/dev/null || \
		scripts/install-deps.sh test

run: all
	./$(BIN)

test: test-deps
	$(Q)$(MAKE) --no-print-directory VARIANT=release WERROR=1 check
	$(Q)$(MAKE) --no-print-directory VARIANT=asan WERROR=1 check
	@echo "make test: all suites passed (release and asan)"

# One variant: unit tests, fuzz corpus replay, then the black-box suite.
check: unit replay integration

unit: $(UNITS)
	@echo "== unit tests ($(VARIANT)) =="
	$(Q)failed=0; for t in $(UNITS); do $$t || failed=1; done; \
		if [ $$failed = 0 ]; then echo "unit ($(VARIANT)): $(words $(UNITS)) suites passed"; \
		else echo "unit ($(VARIANT)): FAILED"; exit 1; fi

replay: $(REPLAYS)
	$(Q)for r in $(REPLAYS); do \
		name=$$(basename $$r); dir=tests/fuzz/corpus/$${name#fuzz_}; \
		[ -d $$dir ] || continue; $$r $$dir || exit 1; done

integration: $(BIN)
	@echo "== integration tests ($(VARIANT)) =="
	$(Q)MICA_BIN=$(abspath $(BIN)) MICA_VARIANT=$(VARIANT) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

$(BIN): $(BUILD)/src/main.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(LIB): $(OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(PKG_LIBS) $(LDLIBS)

# The fuzz targets, replayed over their corpus with a plain main (no libFuzzer needed).
$(BUILD)/replay/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

fuzz: deps
	$(Q)command -v clang >/dev/null && [ -n "$$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] || \
		scripts/install-deps.sh fuzz
	$(Q)$(MAKE) --no-print-directory VARIANT=fuzz fuzz-build
	$(Q)for f in $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/fuzz/%); do \
		name=$$(basename $$f); dir=tests/fuzz/corpus/$${name#fuzz_}; mkdir -p $$dir; \
		echo "== $$name for $(FUZZ_SECONDS) s =="; \
		$$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$$dir/crash- $$dir || exit 1; done

fuzz-build: $(FUZZERS)

bench: deps
	$(Q)scripts/install-deps.sh bench
	$(Q)$(MAKE) --no-print-directory build
	$(Q)bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/mica
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mica
	cp -r www templates config.json $(DESTDIR)$(PREFIX)/share/mica/
	install -Dm644 docs/mica.1 $(DESTDIR)$(PREFIX)/share/man/man1/mica.1

clean:
	rm -rf build

.SECONDARY:

-include $(OBJS:.o=.d) $(BUILD)/src/main.d $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%.d) \
         $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%.d)
