# SPDX-License-Identifier: GPL-2.0
#
# Shared rules for directories whose every *.c is one program, built static
# (-static -pthread) into $(O)/<name> and linked with libarena.a. The
# including Makefile sets TOP, SRCDIR, O and EXTRA_CPPFLAGS.

LIBDIR ?= $(TOP)/build/lib

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -pthread -MMD -MP -ffile-prefix-map=$(TOP)/=
CPPFLAGS += $(EXTRA_CPPFLAGS) -I$(TOP)/lib -I$(TOP)/uapi -I$(TOP) -D_GNU_SOURCE=
LDFLAGS += -static -pthread
LDLIBS ?=
LIBARENA := $(LIBDIR)/libarena.a

PROGS := $(patsubst $(SRCDIR)/%.c,$(O)/%,$(wildcard $(SRCDIR)/*.c))

include $(TOP)/scripts/quiet.mk

.PHONY: all clean
all: $(PROGS)

$(O)/%: $(SRCDIR)/%.c $(LIBARENA) $(MAKEFILE_LIST)
	@mkdir -p $(@D)/.deps
	$(quiet) CCLD $(patsubst $(TOP)/%,%,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MF $(@D)/.deps/$*.d -MT $@ $(LDFLAGS) -o $@ $< $(LIBARENA) $(LDLIBS)

clean:
	rm -rf $(O)

-include $(wildcard $(O)/.deps/*.d)
