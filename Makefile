# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# tcptrail: every TCP state change, live.
#
#   make            build build/tcptrail
#   make run        install what is missing, build, run (ARGS="...")
#   make test       install what is missing, build, run every test
#   make unit       cmocka unit tests only (no root)
#   make bench      benchmarks (not part of make test)
#   make bench-fidelity  what the fidelity hooks cost (bench/fidelity.sh)
#   make bench-metrics   what --metrics costs the ring reader (bench/metrics.sh)
#   make fuzz       libFuzzer targets (FUZZ_SECONDS per target)
#   make test-kernels  the integration suite on each kernel of scripts/kernels.list,
#                   under qemu (KERNELS="6.1-cloud host", KERNEL_TESTS=ci, TT_ONLY=...)
#   make install    PREFIX=/usr/local DESTDIR=
#   make V=1        show the commands

OUTPUT    ?= build
CLANG     ?= clang
BPFTOOL   ?= bpftool
LLVM_STRIP ?= llvm-strip
CC        ?= cc
PREFIX    ?= /usr/local
DESTDIR   ?=
ARGS      ?=
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
			-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
VMLINUX_DIR := vmlinux/$(ARCH)

# User space and BPF flags are kept apart on purpose: the BPF object is built
# for -target bpf and must not inherit host tuning or sanitizers.
CFLAGS    ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Werror
USER_CFLAGS := $(CFLAGS) $(WARNFLAGS) -std=gnu11 -D_GNU_SOURCE \
	-DTT_VERSION='"$(VERSION)"' -Iinclude -Isrc -I$(OUTPUT)
# libmicrohttpd serves --metrics; pkg-config knows its flags
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS  := $(or $(shell pkg-config --libs libmicrohttpd 2>/dev/null),-lmicrohttpd)
USER_CFLAGS += $(MHD_CFLAGS) -pthread
USER_LDLIBS := -lbpf -lelf -lz -ljson-c -lcap $(MHD_LIBS) -lpthread
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) $(WARNFLAGS) \
	-Wno-unused-parameter -Iinclude -I$(VMLINUX_DIR)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

SRCS      := $(wildcard src/*.c)
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))
LIB_OBJS  := $(patsubst src/%.c,$(OUTPUT)/obj/%.o,$(LIB_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUTPUT)/helpers/%,$(HELPER_SRCS))
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(BENCH_SRCS))

.DELETE_ON_ERROR:
# generated skeletons are kept: deleting them would rebuild every object
.SECONDARY:
.PHONY: all run test unit integration test-kernels bench bench-fidelity bench-metrics fuzz install uninstall clean deps check-deps

all: check-deps $(OUTPUT)/tcptrail $(HELPER_BINS)

# Names the Debian packages to install before anything fails obscurely.
check-deps:
	$(Q)missing=$$(scripts/check-deps.sh build); if [ -n "$$missing" ]; then \
		echo "missing build dependencies: $$missing" >&2; \
		echo "install them with: sudo scripts/install-deps.sh (or sudo make run / sudo make test)" >&2; \
		exit 1; fi

deps:
	$(Q)scripts/install-deps.sh test

$(OUTPUT) $(OUTPUT)/obj $(OUTPUT)/tests $(OUTPUT)/helpers $(OUTPUT)/bench:
	$(Q)mkdir -p $@

# One skeleton per bpf/NAME.bpf.c: .bpf.c -> .bpf.o -> .skel.h, embedded.
# tcptrail.bpf.c is built twice: with bpf_rdonly_cast (Linux 6.2+) and with
# CO-RE reads for kernels without it (bpf/tt_kread.bpf.h, "KREAD"). The
# loader opens the second object through the first one's skeleton, so the
# build checks that their skeletons have the same layout.
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS)) \
	$(OUTPUT)/tcptrail_compat.skel.h $(OUTPUT)/skel-layout.ok
BPF_DEPS  := include/tcptrail.h $(wildcard bpf/*.h) $(VMLINUX_DIR)/vmlinux.h

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(BPF_DEPS) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/tcptrail_compat.bpf.o: bpf/tcptrail.bpf.c $(BPF_DEPS) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DTT_RDONLY_CAST=0 -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUTPUT)/skel-layout.ok: $(OUTPUT)/tcptrail.skel.h $(OUTPUT)/tcptrail_compat.skel.h scripts/skel-layout.sh
	$(call msg,CHECK,$@)
	$(Q)scripts/skel-layout.sh $(OUTPUT)/tcptrail.skel.h tcptrail_bpf \
		$(OUTPUT)/tcptrail_compat.skel.h tcptrail_compat_bpf
	$(Q)touch $@

# Every user object may include the skeleton; generate it first.
$(OUTPUT)/obj/%.o: src/%.c $(wildcard src/*.h) include/tcptrail.h $(BPF_SKELS) | $(OUTPUT)/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(OUTPUT)/libtcptrail.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/tcptrail: $(OUTPUT)/obj/main.o $(OUTPUT)/libtcptrail.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ $(USER_LDLIBS) -o $@

# One cmocka binary per module; -Werror=unused-function keeps every test registered.
$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libtcptrail.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -Werror=unused-function $< $(OUTPUT)/libtcptrail.a $(USER_LDLIBS) -lcmocka -o $@

# helpers of the integration tests: they may call the library (and load BPF)
$(OUTPUT)/helpers/%: tests/helpers/%.c $(OUTPUT)/libtcptrail.a | $(OUTPUT)/helpers
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< $(OUTPUT)/libtcptrail.a $(USER_LDLIBS) -lpthread -o $@

# bench_records measures the real formatters: it links the library
$(OUTPUT)/bench/bench_records: bench/bench_records.c $(OUTPUT)/libtcptrail.a | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< $(OUTPUT)/libtcptrail.a $(USER_LDLIBS) -o $@

# bench_outpath: the output path with and without --metrics (links the library)
$(OUTPUT)/bench/bench_outpath: bench/bench_outpath.c $(OUTPUT)/libtcptrail.a | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< $(OUTPUT)/libtcptrail.a $(USER_LDLIBS) -o $@

# hookcost: empty timer hooks with a skeleton of their own (bench only)
$(OUTPUT)/bench/hookcost.bpf.o: bench/hookcost.bpf.c $(VMLINUX_DIR)/vmlinux.h | $(OUTPUT)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUTPUT)/bench/hookcost.skel.h: $(OUTPUT)/bench/hookcost.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name hookcost_bpf > $@

$(OUTPUT)/bench/hookcost: bench/hookcost.c $(OUTPUT)/bench/hookcost.skel.h | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -I$(OUTPUT)/bench $< -lbpf -lelf -lz -o $@

$(OUTPUT)/bench/%: bench/%.c | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -o $@ -lpthread

run: deps
	$(Q)$(MAKE) --no-print-directory all
	./$(OUTPUT)/tcptrail $(ARGS)

unit: check-deps $(UNIT_BINS)
	$(Q)scripts/run-unit.sh $(UNIT_BINS)

# the churn test drives bench/loadgen
integration: all $(OUTPUT)/bench/loadgen
	$(Q)tests/integration/run.sh $(OUTPUT)

# the same suite in a VM per kernel (docs/kernels.md); qemu and the kernel
# packages come from Debian
test-kernels:
	$(Q)scripts/install-deps.sh test-kernels
	$(Q)$(MAKE) --no-print-directory all $(OUTPUT)/bench/loadgen
	$(Q)BUILD=$(abspath $(OUTPUT)) scripts/test-kernels.sh

test: deps
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration

# the consumer's CPU per record, each BPF program's cost beside tcpstates,
# then throughput, loss, latency, snapshot and memory (BENCHMARKS.md)
bench: all $(BENCH_BINS)
	$(Q)scripts/install-deps.sh bench
	$(Q)$(OUTPUT)/bench/bench_records
	$(Q)bench/progcost.sh $(OUTPUT)
	$(Q)bench/run.sh $(OUTPUT)
	$(Q)bench/metrics.sh $(OUTPUT)

# the fidelity hooks' cost: full tool against --state-only, interleaved pairs
bench-fidelity: all $(BENCH_BINS)
	$(Q)bench/fidelity.sh $(OUTPUT)

# --metrics against none: the ring reader's CPU per event, interleaved runs
bench-metrics: all $(BENCH_BINS)
	$(Q)bench/metrics.sh $(OUTPUT)

fuzz:
	$(Q)scripts/fuzz.sh $(OUTPUT) $(FUZZ_SECONDS)

install: all
	install -D -m 0755 $(OUTPUT)/tcptrail $(DESTDIR)$(PREFIX)/sbin/tcptrail
	install -D -m 0644 docs/tcptrail.8 $(DESTDIR)$(PREFIX)/share/man/man8/tcptrail.8
	install -D -m 0644 scripts/tcptrail.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tcptrail
	install -D -m 0644 scripts/tcptrail.service $(DESTDIR)$(PREFIX)/lib/systemd/system/tcptrail.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/tcptrail \
	      $(DESTDIR)$(PREFIX)/share/man/man8/tcptrail.8 \
	      $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tcptrail \
	      $(DESTDIR)$(PREFIX)/lib/systemd/system/tcptrail.service

clean:
	rm -rf $(OUTPUT)
