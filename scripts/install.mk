# SPDX-License-Identifier: GPL-2.0
#
# Installing arena, included by the top-level Makefile:
#
#   make install     the module, libarena (lib/Makefile), libarena-apr.so
#                    (apr/Makefile), arenastat and its
#                    man page, the udev rule and the modprobe.d example
#   make uninstall   removes exactly those files
#   make install-dkms-source
#                    the module's source as DKMS wants it, in
#                    $(DESTDIR)$(DKMS_SOURCETREE)/arena-$(ARENA_VERSION)/
#   make dkms-install    that, then dkms add, build and install for every
#                        kernel in DKMS_KVERS
#   make dkms-uninstall  dkms remove --all, and the source directory
#   make deb         Debian packages into build/deb/ (scripts/build-deb.sh)
#
# Variables: PREFIX (/usr/local), DESTDIR, BINDIR, MANDIR (and lib/Makefile's
# LIBDIR, INCLUDEDIR, PKGCONFIGDIR); UDEVRULESDIR, MODPROBEDIR and
# MODULEDIR, which do not follow PREFIX because udev, modprobe and the
# kernel read only their own directories; MODULE_INSTALL=extra (default:
# kmod/arena.ko into $(MODULEDIR)/<its kernel>/extra/), dkms (through
# dkms-install) or none; DKMS, DKMS_SOURCETREE (/usr/src), DKMS_TREE and
# DKMS_INSTALLTREE (dkms's own unless given: a scratch tree for tests),
# DKMS_KVERS (every kernel in /lib/modules with a build/ link).
#
# With DESTDIR empty, install also runs depmod for the module's kernel,
# creates the system group "arena" that the udev rule names, and reloads
# udev's rules; with DESTDIR set it only copies files (a package's
# maintainer scripts do the rest).

include $(CURDIR)/scripts/quiet.mk

ARENA_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' $(CURDIR)/dkms.conf)

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODPROBEDIR ?= /etc/modprobe.d
MODULEDIR ?= /lib/modules
MODULE_INSTALL ?= extra
ARENA_GROUP := arena
INSTALL ?= install

DKMS ?= dkms
DKMS_SOURCETREE ?= /usr/src
DKMS_TREE ?=
DKMS_INSTALLTREE ?=
DKMS_KVERS ?= $(patsubst /lib/modules/%/build,%,$(wildcard /lib/modules/*/build))
# A scratch install tree gets no depmod: its kernel's module index lives
# under /lib/modules.
DKMS_OPTS = --sourcetree $(DKMS_SOURCETREE) $(if $(DKMS_TREE),--dkmstree $(DKMS_TREE)) \
	$(if $(DKMS_INSTALLTREE),--installtree $(DKMS_INSTALLTREE) --no-depmod)
DKMS_SRC = $(DESTDIR)$(DKMS_SOURCETREE)/arena-$(ARENA_VERSION)
# What DKMS needs to build the module (kbuild's own *.mod.c excluded).
DKMS_FILES = dkms.conf Kbuild kmod/Kbuild \
	$(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h) \
	$(wildcard uapi/linux/*.h)

# Copy the DKMS source into $(1), afresh.
dkms_copy_source = rm -rf $(1) && for f in $(DKMS_FILES); do \
		$(INSTALL) -D -m 0644 "$$f" "$(1)/$$f" || exit 1; \
	done

# The kernel kmod/arena.ko was built for, from its vermagic: the module
# goes where that kernel looks, whatever KVER says now.
MODULE_KVER = $(shell modinfo -F vermagic $(CURDIR)/kmod/arena.ko 2>/dev/null | cut -d' ' -f1)
MODULE_DEST = $(DESTDIR)$(MODULEDIR)/$(MODULE_KVER)/extra

.PHONY: install-lib uninstall-lib install-apr uninstall-apr install-tools uninstall-tools install-config
.PHONY: uninstall-config install-module uninstall-module install-dkms-source
.PHONY: uninstall-dkms-source dkms-install dkms-uninstall deb
.PHONY: install-module-extra install-module-dkms install-module-none
.PHONY: uninstall-module-extra uninstall-module-dkms uninstall-module-none

install: install-lib install-apr install-tools install-config install-module
uninstall: uninstall-module uninstall-config uninstall-tools uninstall-apr uninstall-lib

install-lib uninstall-lib:
	@$(SUBMAKE) -C lib O=$(BUILD)/lib $(@:%-lib=%)

# libarena-apr.so and its man page (apr/Makefile; Debian package
# libarena-apr).
install-apr: lib
install-apr uninstall-apr:
	@$(SUBMAKE) -C apr O=$(BUILD)/apr ARENA_LIBDIR=$(BUILD)/lib $(@:%-apr=%)

install-tools: tools
	$(quiet) INSTALL "$(DESTDIR)$(BINDIR)/arenastat"
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	$(Q)$(INSTALL) -m 0755 $(BUILD)/tools/arenastat $(DESTDIR)$(BINDIR)/arenastat
	$(Q)$(INSTALL) -m 0644 tools/arenastat/arenastat.8 $(DESTDIR)$(MANDIR)/man8/arenastat.8

uninstall-tools:
	$(quiet) UNINST "$(DESTDIR)$(BINDIR)/arenastat"
	$(Q)rm -f $(DESTDIR)$(BINDIR)/arenastat $(DESTDIR)$(MANDIR)/man8/arenastat.8

install-config:
	$(quiet) INSTALL "$(DESTDIR)$(UDEVRULESDIR)/60-arena.rules"
	$(Q)$(INSTALL) -d $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(MODPROBEDIR)
	$(Q)$(INSTALL) -m 0644 packaging/60-arena.rules $(DESTDIR)$(UDEVRULESDIR)/60-arena.rules
	$(Q)$(INSTALL) -m 0644 packaging/arena.conf $(DESTDIR)$(MODPROBEDIR)/arena.conf
	$(Q)if [ -z "$(DESTDIR)" ]; then \
		getent group $(ARENA_GROUP) >/dev/null || groupadd --system $(ARENA_GROUP); \
		udevadm control --reload-rules 2>/dev/null || true; \
	fi

# The group stays, as Debian packages leave theirs: files may still name it.
uninstall-config:
	$(quiet) UNINST "$(DESTDIR)$(UDEVRULESDIR)/60-arena.rules"
	$(Q)rm -f $(DESTDIR)$(UDEVRULESDIR)/60-arena.rules $(DESTDIR)$(MODPROBEDIR)/arena.conf

install-module: install-module-$(MODULE_INSTALL)
uninstall-module: uninstall-module-$(MODULE_INSTALL)
install-module-none uninstall-module-none:
install-module-dkms: dkms-install
uninstall-module-dkms: dkms-uninstall

install-module-extra:
	@[ -f kmod/arena.ko ] || { echo "install: kmod/arena.ko is not built: run make first" \
		"(or MODULE_INSTALL=dkms or none)" >&2; exit 1; }
	@[ -n "$(MODULE_KVER)" ] || { echo "install: no vermagic in kmod/arena.ko" >&2; exit 1; }
	$(quiet) INSTALL "$(MODULE_DEST)/arena.ko"
	$(Q)$(INSTALL) -d $(MODULE_DEST)
	$(Q)$(INSTALL) -m 0644 kmod/arena.ko $(MODULE_DEST)/arena.ko
	$(Q)[ -n "$(DESTDIR)" ] || depmod -a $(MODULE_KVER)

# The kernel of the module that was installed: the one file of that name
# under $(MODULEDIR)/*/extra, or MODULE_KVER's if the build is still there.
uninstall-module-extra:
	$(quiet) UNINST "$(DESTDIR)$(MODULEDIR)/*/extra/arena.ko"
	$(Q)for f in $(DESTDIR)$(MODULEDIR)/*/extra/arena.ko; do \
		[ -f "$$f" ] || continue; \
		rm -f "$$f"; rmdir --ignore-fail-on-non-empty "$${f%/arena.ko}"; \
		k=$${f%/extra/arena.ko}; k=$${k##*/}; \
		[ -n "$(DESTDIR)" ] || depmod -a "$$k"; \
	done

install-dkms-source:
	$(quiet) INSTALL "$(DKMS_SRC)"
	$(Q)$(call dkms_copy_source,$(DKMS_SRC))

uninstall-dkms-source:
	$(quiet) UNINST "$(DKMS_SRC)"
	$(Q)rm -rf $(DKMS_SRC)

# dkms add refuses a version it already has: remove it first, so that
# dkms-install after a source change rebuilds from the new source.
dkms-install:
	@[ -z "$(DESTDIR)" ] || { echo "dkms-install: DKMS installs for this machine; DESTDIR is for packages (install-dkms-source)" >&2; exit 1; }
	@command -v $(DKMS) >/dev/null || { echo "dkms-install: no $(DKMS) (apt-get install dkms)" >&2; exit 1; }
	@if $(DKMS) status -m arena -v $(ARENA_VERSION) $(DKMS_OPTS) 2>/dev/null | grep -q .; then \
		$(DKMS) remove -m arena -v $(ARENA_VERSION) --all $(DKMS_OPTS) >/dev/null; \
	fi
	$(quiet) INSTALL "$(DKMS_SRC)"
	$(Q)$(call dkms_copy_source,$(DKMS_SRC))
	$(Q)$(if $(DKMS_TREE),mkdir -p $(DKMS_TREE))
	$(DKMS) add -m arena -v $(ARENA_VERSION) $(DKMS_OPTS)
	@set -e; for k in $(DKMS_KVERS); do \
		$(if $(DKMS_INSTALLTREE),mkdir -p $(DKMS_INSTALLTREE)/$$k;) \
		$(DKMS) install -m arena -v $(ARENA_VERSION) -k $$k $(DKMS_OPTS); \
	done

dkms-uninstall:
	@if $(DKMS) status -m arena -v $(ARENA_VERSION) $(DKMS_OPTS) 2>/dev/null | grep -q .; then \
		$(DKMS) remove -m arena -v $(ARENA_VERSION) --all $(DKMS_OPTS); \
	fi
	$(quiet) UNINST "$(DKMS_SRC)"
	$(Q)rm -rf $(DKMS_SRC)

deb:
	@scripts/build-deb.sh $(BUILD)/deb
