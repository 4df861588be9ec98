# nonstop build configuration: edit here, not in the Makefile.
VERSION = 0.1.0

PREFIX  = /usr/local
BINDIR  = $(PREFIX)/bin
SBINDIR = $(PREFIX)/sbin
LIBDIR  = $(PREFIX)/lib
INCDIR  = $(PREFIX)/include
MANDIR  = $(PREFIX)/share/man
DATADIR = $(PREFIX)/share/nonstop
UNITDIR = $(PREFIX)/lib/systemd/system

CC      = cc
PKG_CONFIG = pkg-config
CPPFLAGS = -D_GNU_SOURCE -DVERSION=\"$(VERSION)\"
CFLAGS  = -std=c11 -O2 -g -fPIC \
	-Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	-Wpointer-arith -Wcast-qual -Wsign-compare -Wno-unused-parameter \
	-Wformat=2 -fstack-protector-strong -D_FORTIFY_SOURCE=2
# CI builds with WERROR=-Werror.
WERROR  =
LDFLAGS = -Wl,-z,relro,-z,now -Wl,--as-needed

# Libraries every tool links through lib/ (pkg-config names).
PKGS_lib = libmnl libcrypto libcap

# Extra libraries, per tool (pkg-config names). A tool with none needs no line.
PKGS_lc-build   = ldap libarchive
PKGS_lc-web     = ldap libarchive
PKGS_lc-role    = libnftables
PKGS_lc-agent   = libnftables
PKGS_lb-watch   = netsnmp
PKGS_tcpr-capture = libnetfilter_queue libmnl libbpf
# net-snmp ships no .pc file: its flags come from net-snmp-config.
SNMP_TOOLS = lc-agent rs-probe lc-build lc-web
