# SPDX-License-Identifier: GPL-2.0
#
# Quiet build output, liburing style: `  CC  file` unless V=1.

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-8s %s\n'
endif
