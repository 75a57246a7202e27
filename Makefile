# SPDX-License-Identifier: GPL-2.0
#
# arena: kernel module (kmod/ -> kmod/arena.ko), library (lib/), selftests,
# examples and tools.  Non-kbuild outputs go to build/.
#
#   make [all]     build kmod/arena.ko, build/lib, build/apr (libarena-apr.so:
#                  APR pools on arenas), build/selftests, build/examples,
#                  build/tools (arenastat)
#   make deps      install missing Debian packages (scripts/deps.sh)
#   make check     build, boot each lane's kernel in qemu (TCG), run all
#                  selftests: the stock 6.1, the 6.12 LTS and the newest 7.x
#                  (from a cached trixie build root, scripts/trixie-root.sh)
#   make demo      build, boot, run /demo/arena-demo and show its output
#   make bench     build, boot once per CPU model (BENCH_CPUS), run
#                  build/bench/* (bench/), count the allocation hit path
#                  with callgrind on the host, rewrite bench/RESULTS.md (not
#                  part of check)
#   make bench-host  only the host part of bench: per-request arenas on the
#                  mmap backend against glibc and APR, no VM (minutes)
#   make install   install the module, libarena, arenastat, the udev rule and
#                  the modprobe.d example (PREFIX=/usr/local, DESTDIR=;
#                  scripts/install.mk)
#   make uninstall remove exactly what install installed
#   make dkms-install, dkms-uninstall
#                  arena.ko through DKMS, for every kernel with headers
#   make deb       Debian packages into build/deb/ (debian/)
#   make htmldocs  Documentation/ as HTML in build/htmldocs/, with the
#                  uapi headers' kernel-doc (scripts/htmldocs.py)
#   make clean
#
# Variables: KVER (kernel version, default: what linux-headers-amd64 points
# at), KDIR (headers), KERNEL_IMAGE (bzImage to boot), HARNESS_DIR (dir with
# kselftest_harness.h), TESTS="a b" (only these selftests), VM_TIMEOUT,
# TEST_TIMEOUT (per selftest binary, seconds), VM_APPEND (extra kernel args),
# TEST_ENV="NAME=VALUE ..." (environment of the selftests in the VM, e.g.
# ARENA_FUZZ_SEED=0x1234 ARENA_FUZZ_OPS=100000), DEBUG_TEST_ENV (the same for
# check-debug, default a million fuzzer operations and no APR testsock),
# MODULES_DIR (modules of KERNEL_IMAGE, for the VM's disk driver; default
# /lib/modules/<version from the image's name>), VM_TOOLS (programs packed
# into the VM's /tools, on its PATH; default build/tools/arenastat; dynamic
# ones get their shared libraries), VM_FILES (files packed into the VMs at
# their own paths, with their shared libraries; default apache2, its
# modules apache_test loads, and ab, where installed), LANES (the kernel versions make check
# boots), HOST_TESTS=0 (no host lane), VM_CPU (QEMU -cpu model of every
# VM, default max), BENCH_CPUS (the models make bench boots, default
# "max max,erms=off"), BENCH_ONLY (only these bench programs, no
# RESULTS.md), V=1
# (verbose).  The
# machine's own kernel is never touched: modules are only ever loaded inside
# the VM.

BUILD := $(CURDIR)/build
.DEFAULT_GOAL := all

# build/config.mk is made by scripts/deps.sh, which installs anything missing
# first.  Make re-reads itself after (re)making an included makefile, so the
# variables below see the installed kernel even on a fresh machine.
NEED_CONFIG := $(if $(MAKECMDGOALS),$(filter-out clean help install uninstall install-% uninstall-%,$(MAKECMDGOALS)),all)
ifneq ($(NEED_CONFIG),)
include $(BUILD)/config.mk
$(BUILD)/config.mk: scripts/deps.sh scripts/debian-source.sh scripts/trixie-root.sh \
		$(wildcard /var/lib/dpkg/status)
	@mkdir -p $(@D)
	@scripts/deps.sh --config > $@.tmp && mv $@.tmp $@
else
-include $(BUILD)/config.mk
endif

KVER ?= $(ARENA_KVER)
KDIR ?= /usr/src/linux-headers-$(KVER)
KERNEL_IMAGE ?= /boot/vmlinuz-$(KVER)
LINUX_SRC_CACHE ?= $(ARENA_SRC_DIR)
HARNESS_DIR ?= $(LINUX_SRC_CACHE)/tools/testing/selftests
CHECKPATCH ?= $(LINUX_SRC_CACHE)/scripts/checkpatch.pl
VM_DIR ?= $(BUILD)/vm/$(KVER)
# A whole lane: about 750 s of selftests under TCG, then APR's testall
# and apache_test's several minutes each.
VM_TIMEOUT ?= 1800
DEMO_TIMEOUT ?= 600
BENCH_TIMEOUT ?= 1800
TEST_TIMEOUT ?= 300
TESTS ?=
VM_TOOLS ?= $(BUILD)/tools/arenastat
# Packed into the VMs at their own paths (vm-run.sh --files) for
# selftests/apache_test.sh: Debian's apache2, the modules it loads and ab
# (apache2-bin, apache2-utils), and libgcc_s, which glibc dlopen()s for
# pthread_exit() (apache2's threads exit through it; no ldd lists it); what
# is not installed is left out.
VM_FILES ?= $(wildcard /usr/sbin/apache2 /usr/bin/ab /lib/x86_64-linux-gnu/libgcc_s.so.1 \
	$(patsubst %,/usr/lib/apache2/modules/mod_%.so,mpm_event authz_core dir autoindex mime))
VM_APPEND ?=
VM_CPU ?=
TEST_ENV ?=
MODULES_DIR ?=

SUBMAKE := $(MAKE) --no-print-directory

# The kernels `make check` runs on: the stock 6.1, the 6.12 LTS from
# bookworm-backports (scripts/deps.sh installs it) and the newest 7.x from
# trixie-backports, which lives with its headers and gcc-14 in a trixie
# build root, NEW_ROOT (scripts/trixie-root.sh, cached in
# ~/.cache/arena/trixie-root/; never installed on this machine).
# LANES="$(KVER)" runs only the first.
KVER_BPO ?= $(ARENA_KVER_BPO)
KVER_NEW ?= $(ARENA_KVER_NEW)
NEW_ROOT ?= $(ARENA_NEW_ROOT)
LANES ?= $(KVER) $(KVER_BPO) $(KVER_NEW)
# arena.ko for each lane: kmod/ for the stock kernel, a copy for the others.
lane_module = $(if $(filter $(KVER),$(1)),$(CURDIR)/kmod/arena.ko,$(BUILD)/kbuild-$(1)/kmod/arena.ko)
# Where a lane's kernel is: this machine's /boot and /lib/modules, or else
# the build root's (empty: this machine).
lane_root = $(if $(wildcard /boot/vmlinuz-$(1)),,$(if $(wildcard $(NEW_ROOT)/boot/vmlinuz-$(1)),$(NEW_ROOT)))

VM_ARGS = --kernel $(KERNEL_IMAGE) --module $(CURDIR)/kmod/arena.ko $(VM_COMMON)
VM_COMMON = --tests $(BUILD)/selftests --demo $(BUILD)/examples \
	  $(if $(strip $(VM_TOOLS)),--tools "$(strip $(VM_TOOLS))") \
	  $(if $(strip $(VM_FILES)),--files "$(strip $(VM_FILES))") \
	  $(if $(strip $(VM_CPU)),--cpu "$(strip $(VM_CPU))") \
	  --test-timeout $(TEST_TIMEOUT) \
	  $(if $(strip $(TESTS)),--only "$(strip $(TESTS))") \
	  $(if $(strip $(MODULES_DIR)),--modules-dir "$(strip $(MODULES_DIR))") \
	  $(if $(strip $(VM_APPEND_ALL)),--append "$(VM_APPEND_ALL)")
VM_APPEND_ALL = $(strip $(VM_APPEND) $(addprefix arenatest_env=,$(TEST_ENV)))

.PHONY: all kmod kmod-lanes lib apr selftests examples tools deps check check-debug demo clean help
.PHONY: bench bench-host bench-progs install uninstall

all: kmod lib apr selftests examples tools

kmod:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

lib:
	@$(SUBMAKE) -C lib O=$(BUILD)/lib

# libarena-apr.so (apr/), also packed as the VM's /demo/libarena-apr.so.
apr: lib
	@$(SUBMAKE) -C apr O=$(BUILD)/apr ARENA_LIBDIR=$(BUILD)/lib

selftests: lib
	@$(SUBMAKE) -C selftests O=$(BUILD)/selftests LIBDIR=$(BUILD)/lib HARNESS_DIR=$(HARNESS_DIR)

examples: lib apr
	@$(SUBMAKE) -C examples O=$(BUILD)/examples LIBDIR=$(BUILD)/lib
	@install -m 0755 $(BUILD)/apr/libarena-apr.so $(BUILD)/examples/libarena-apr.so

# arenastat links libmnl dynamically (Debian has no static libmnl).
tools:
	@$(SUBMAKE) -C tools/arenastat O=$(BUILD)/tools

deps:
	@scripts/deps.sh

# arena.ko built against another lane's headers, in a copy of the sources:
# on this machine, or inside the build root with its compiler when the
# headers are there (scripts/kmod-in-root.sh; the 7.x lane).
kmod-lanes:
	@set -e; for k in $(filter-out $(KVER),$(LANES)); do \
		d=$(BUILD)/kbuild-$$k; mkdir -p $$d; \
		if [ -d /usr/src/linux-headers-$$k ]; then \
			cp -a Kbuild $$d/; rm -rf $$d/kmod $$d/uapi; cp -a kmod uapi $$d/; \
			$(MAKE) -C /usr/src/linux-headers-$$k M=$$d modules >/dev/null; \
		elif [ -n "$(NEW_ROOT)" ] && [ -d "$(NEW_ROOT)/usr/src/linux-headers-$$k" ]; then \
			scripts/kmod-in-root.sh $(NEW_ROOT) $$k $(CURDIR) $$d >/dev/null; \
		else \
			echo "kmod-lanes: no headers for $$k here or in the build root (make deps)" >&2; \
			exit 1; \
		fi; \
		echo "  KMOD     build/kbuild-$$k/kmod/arena.ko"; \
	done

# Lane logs in build/vm/<kver>/, or in $(VM_DIR)/<kver>/ if VM_DIR is given.
CHECK_OUT ?= $(if $(filter command line environment,$(origin VM_DIR)),$(VM_DIR),$(BUILD)/vm)

# HOST_TESTS=0 leaves out the host lane: libarena on its mmap backend and
# the installed library through pkg-config, on this machine (no module).
HOST_TESTS ?= 1

check: all kmod-lanes
	@mkdir -p $(CHECK_OUT)
	@scripts/check-lanes.sh $(CHECK_OUT) \
		$(if $(filter 1,$(HOST_TESTS)),host:$(CURDIR)/scripts/host-tests.sh) \
		$(foreach k,$(LANES),$(k):$(call lane_module,$(k))$(addprefix :,$(call lane_root,$(k)))) \
		-- --timeout $(VM_TIMEOUT) $(VM_COMMON) $(VM_CHECK_TREES)

# The debug kernel lane: KASAN, lockdep, DEBUG_VM, DEBUG_PAGEALLOC,
# kmemleak and fault injection (scripts/build-debug-kernel.sh builds it once
# into ~/.cache/arena/debug-kernel/, about 25 minutes on 2 cores), then the
# whole suite on it, then a kmemleak scan after rmmod. no5lvl: with 5-level
# paging, KASAN of 6.1 misreads the direct map while identify_cpu() rebuilds
# the CPU features at boot, and an interrupt in that window is reported as a
# wild-memory-access (seen in one early debug boot under TCG; not arena).
# DEBUG_TEST_ENV: the fuzzer's million operations (Documentation/reliability.rst);
# APR's testsock left out of apr_testall: its child misses the test's 500 ms
# to connect on this lane (Documentation/libarena-apr.rst); apache_test
# with a tenth of the requests (the stock lanes make the 10,000; here the
# server's pools run under KASAN and lockdep, within CI's time).
DEBUG_TIMEOUT ?= 3600
DEBUG_TEST_ENV ?= ARENA_FUZZ_OPS=1000000 APR_SKIP=testsock \
	APACHE_REQUESTS=1000 APACHE_LIST_REQUESTS=100
check-debug: all
	@d=$$(scripts/build-debug-kernel.sh) && \
	rm -rf $(BUILD)/kbuild-debug && mkdir -p $(BUILD)/kbuild-debug && \
	cp -a Kbuild kmod uapi $(BUILD)/kbuild-debug/ && \
	$(MAKE) -C $$d M=$(BUILD)/kbuild-debug modules >/dev/null && \
	scripts/vm-run.sh --mode check --out $(CHECK_OUT)/debug --timeout $(DEBUG_TIMEOUT) \
		--kernel $$d/arch/x86/boot/bzImage --modules-dir $$d \
		--module $(BUILD)/kbuild-debug/kmod/arena.ko \
		$(subst --test-timeout $(TEST_TIMEOUT),--test-timeout 1200,$(VM_COMMON)) $(VM_CHECK_TREES) \
		--append "page_owner=on debug_pagealloc=on no5lvl $(VM_APPEND_ALL) $(addprefix arenatest_env=,$(DEBUG_TEST_ENV))"

demo: all
	@scripts/vm-run.sh --mode demo --out $(VM_DIR)/demo --timeout $(DEMO_TIMEOUT) $(VM_ARGS)

# The allocators bench/alloc/ compares with, and valgrind (never for check).
# build/bench/preload/ (libarena-apr.so and the dynamic APR binary-trees
# it preloads into, issue 16 item 5) is packed as the bench VM's /tools.
bench-progs: lib apr
	@scripts/deps.sh --bench
	@$(SUBMAKE) -C bench O=$(BUILD)/bench LIBDIR=$(BUILD)/lib
	@install -m 0755 $(BUILD)/apr/libarena-apr.so $(BUILD)/bench/preload/libarena-apr.so

# The host part of make bench alone (no VM, a few minutes): per-request
# arenas on the mmap backend against glibc and APR on this machine
# (bench/alloc/host_churn.sh), its section of bench/RESULTS.md rewritten.
bench-host: lib
	@scripts/deps.sh --bench
	@$(SUBMAKE) -C bench/alloc O=$(BUILD)/bench LIBDIR=$(BUILD)/lib $(BUILD)/bench/host/host_churn
	@mkdir -p $(VM_DIR)/bench
	@bench/alloc/host_churn.sh $(BUILD)/bench/host/host_churn bench/RESULTS.md \
		$(VM_DIR)/bench/host_churn.log

# One VM boot per CPU model in BENCH_CPUS runs every build/bench/* program
# (logs in $(VM_DIR)/bench/cpu-<model>/); bench/results.sh turns the output
# into the tables of bench/RESULTS.md (kept if a run failed).
BENCH_CPUS ?= max max,erms=off
# Extra kernel command line of the bench VMs only. Under TCG the guest
# falls back from the TSC ("unsynchronized") to hpet, which has no vDSO, so
# every clock_gettime is a system call; the programs measure and subtract
# what a clock read costs (bench/README.md). tsc=reliable would keep the
# TSC, but hung guests here (at boot, and in text patching).
BENCH_APPEND ?=
# BENCH_ONLY="a b": only these build/bench programs run in the VMs (e.g.
# "binarytrees_apr binarytrees_apr_preload"); no host part, logs in
# $(VM_DIR)/bench-only/cpu-<model>/, the tables of bench/alloc/report.sh
# printed (and left as report.md there), bench/RESULTS.md untouched.
BENCH_ONLY ?=
BENCH_OUT = $(VM_DIR)/bench$(if $(strip $(BENCH_ONLY)),-only)
BENCH_COMMAND = make bench$(if $(filter command line environment,$(origin BENCH_CPUS)), BENCH_CPUS="$(BENCH_CPUS)")$(if $(filter command line environment,$(origin BENCH_APPEND)), BENCH_APPEND="$(BENCH_APPEND)")$(if $(strip $(VM_APPEND)), VM_APPEND="$(strip $(VM_APPEND))")$(if $(strip $(BENCH_ONLY)), BENCH_ONLY="$(strip $(BENCH_ONLY))")
bench: kmod bench-progs
	@mkdir -p $(BENCH_OUT)
	@[ -n "$(strip $(BENCH_ONLY))" ] || bench/alloc/hitpath.sh $(BUILD)/bench/host/hitpath > $(VM_DIR)/bench/hitpath.log
	@[ -n "$(strip $(BENCH_ONLY))" ] || BENCH_COMMAND='$(BENCH_COMMAND)' bench/alloc/host_churn.sh $(BUILD)/bench/host/host_churn \
		bench/RESULTS.md $(VM_DIR)/bench/host_churn.log > /dev/null
	@set -e; dirs=""; for cpu in $(BENCH_CPUS); do \
		d=$(BENCH_OUT)/cpu-$$(printf '%s' "$$cpu" | tr ',=' '_-'); mkdir -p $$d; dirs="$$dirs $$d"; \
		n=$$(pgrep -c -f '^qemu-system-' || true); \
		echo "other_qemu=$${n:-0} loadavg=$$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" > $$d/host.txt; \
		[ "$${n:-0}" = 0 ] || echo "# bench: warning: $$n other qemu-system process(es) running: timings will be distorted"; \
		scripts/vm-run.sh --mode bench --out $$d --timeout $(BENCH_TIMEOUT) $(VM_ARGS) \
			--cpu "$$cpu" --test-timeout $(BENCH_TIMEOUT) --bench $(BUILD)/bench \
			--tools $(BUILD)/bench/preload --only "$(strip $(BENCH_ONLY))" \
			$(if $(strip $(BENCH_APPEND) $(VM_APPEND_ALL)),--append "$(strip $(BENCH_APPEND) $(VM_APPEND_ALL))"); \
	done; \
	if [ -n "$(strip $(BENCH_ONLY))" ]; then for d in $$dirs; do \
		BENCH_COMMAND='$(BENCH_COMMAND)' bench/alloc/report.sh $$d/ktap.log $(VM_DIR)/bench/hitpath.log | tee $$d/report.md; \
	done; else \
	BENCH_COMMAND='$(BENCH_COMMAND)' bench/results.sh bench/RESULTS.md $(VM_DIR)/bench/hitpath.log $$dirs; fi

# The examples' test runs in every VM lane too, as /tests/examples_test, on
# the kernel backend (the examples are packed as /demo/*); the host lane
# runs the same script on the mmap backend.
.PHONY: examples-vmtest
examples-vmtest: examples selftests
	@install -m 0755 selftests/examples_test.sh $(BUILD)/selftests/examples_test
	@install -m 0755 selftests/apache_test.sh $(BUILD)/selftests/apache_test
check check-debug: examples-vmtest

# APR's testall (selftests/apr_testall.sh) in every VM lane too, as
# /tests/apr_testall on the kernel backend: the test programs, data files
# and libarena-apr.so it needs are staged in $(BUILD)/apr-testall/ (the
# first time, APR's source is fetched and built into ~/.cache/arena/, as
# the host lane does) and packed as the guest's /apr-test, with the built
# libapr-1.so at its path. Not when TESTS leaves it out.
APR_VMTEST = $(if $(strip $(TESTS)),$(filter apr_testall,$(TESTS)),apr_testall)
VM_CHECK_TREES = $(if $(APR_VMTEST),--tree $(BUILD)/apr-testall:/apr-test)
.PHONY: apr-testall-vmtest
apr-testall-vmtest: apr selftests
	@install -m 0755 selftests/apr_testall.sh $(BUILD)/selftests/apr_testall
	@$(if $(APR_VMTEST),selftests/apr_testall.sh --stage $(BUILD)/apr-testall > /dev/null)
check check-debug: apr-testall-vmtest

# Documentation/*.rst rendered with docutils and the kernel's kernel-doc.
DOCS := $(shell find Documentation -name '*.rst' | LC_ALL=C sort)
.PHONY: htmldocs
htmldocs:
	@/usr/bin/python3 scripts/htmldocs.py --kernel-doc $(LINUX_SRC_CACHE)/scripts/kernel-doc \
		--out $(BUILD)/htmldocs $(DOCS)

# install, uninstall, dkms-install, dkms-uninstall, deb and their parts.
include scripts/install.mk

clean:
	@if [ -n "$(KVER)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; \
	else \
		find kmod -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
			-o -name '.*.cmd' -o -name '*.symvers' -o -name '*.order' | xargs rm -f; \
	fi
	rm -rf $(BUILD) Module.symvers modules.order .tmp_versions

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile
