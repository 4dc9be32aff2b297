# The project's commands. (The kernel module itself is built by Kbuild; see
# scripts/module.)
#
#   make demo           build everything, boot the VM, run the demo
#   make check          build everything, run the whole test suite in the VM
#   make sdk PREFIX=DIR install the C SDK (DIR/include/mach/mach.h, DIR/lib/libmach.a)
#   make bench          benchmarks in the VM: a table, the issue's targets, a JSON file
#   make bench-icount   the same under QEMU -icount: guest instructions per operation
#
# KDIR=/path/to/a/built/rust/kernel uses your own kernel tree instead of the
# test kernel this project builds.

SHELL := /bin/bash
PREFIX ?= $(CURDIR)/build/sdk
export KDIR

.PHONY: all demo check sdk setup kernel module programs bench bench-icount clean

all: programs module

setup:
	@scripts/setup-host

kernel: setup
	@$(if $(KDIR),echo "using KDIR=$(KDIR)",scripts/kernel >/dev/null)

module: kernel
	@scripts/module $(KDIR) >/dev/null

programs: setup
	@scripts/programs >/dev/null

sdk: setup
	@scripts/sdk-install $(PREFIX)

demo: programs module
	@scripts/vm-run --add build/bin/demo -- ./demo

check: setup
	@scripts/check

bench: setup
	@scripts/bench

bench-icount: setup
	@scripts/bench --icount

clean:
	rm -rf build target
