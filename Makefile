# The project's commands. (The kernel module itself is built by Kbuild; see
# scripts/module.)
#
#   make demo           build everything, boot the VM, run the demo
#   make check          build everything, run the whole test suite in the VM
#   make sdk PREFIX=DIR install the C SDK (DIR/include/mach/mach.h, DIR/lib/libmach.a)
#
# KDIR=/path/to/a/built/rust/kernel uses your own kernel tree instead of the
# test kernel this project builds.

SHELL := /bin/bash
PREFIX ?= $(CURDIR)/build/sdk
export KDIR

.PHONY: all demo check sdk setup kernel module programs clean

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

clean:
	rm -rf build target
