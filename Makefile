# nonstop: one binary per cmd/<tool>/, shared code in lib/ (libnonstop.a).
# make [BUILD=dir] [WERROR=-Werror]; make check; make install DESTDIR= PREFIX=
include config.mk

BUILD ?= build
TOOLS := $(notdir $(wildcard cmd/*))
LIBSRC := $(wildcard lib/*.c)
LIBOBJ := $(LIBSRC:%.c=$(BUILD)/%.o)
LIBA := $(BUILD)/libnonstop.a
BINS := $(TOOLS:%=$(BUILD)/bin/%)
MAN := $(wildcard man/*.[1-8])

pkg_cflags = $(if $(strip $(1)),$(shell $(PKG_CONFIG) --cflags $(1)))
pkg_libs = $(if $(strip $(1)),$(shell $(PKG_CONFIG) --libs $(1)))
snmp_libs = $(shell net-snmp-config --agent-libs 2>/dev/null)
ALLCFLAGS = $(CPPFLAGS) -Ilib $(CFLAGS) $(WERROR) $(call pkg_cflags,$(PKGS_lib))

all: $(LIBA) $(BINS)

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -MMD -MP -c -o $@ $<

$(LIBA): $(LIBOBJ)
	@rm -f $@
	$(AR) rcs $@ $(LIBOBJ)

# One rule set per tool: its objects, then the binary linked against libnonstop.a.
define TOOL_template
$(1)_OBJ := $$(patsubst %.c,$(BUILD)/%.o,$$(wildcard cmd/$(1)/*.c))
$(BUILD)/cmd/$(1)/%.o: cmd/$(1)/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(ALLCFLAGS) $$(call pkg_cflags,$$(PKGS_$(1))) -MMD -MP -c -o $$@ $$<
$(BUILD)/bin/$(1): $$($(1)_OBJ) $(LIBA)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJ) $(LIBA) \
		$$(call pkg_libs,$$(PKGS_$(1)) $$(PKGS_lib)) \
		$$(if $$(filter $(1),$$(SNMP_TOOLS)),$$(snmp_libs))
endef
$(foreach t,$(TOOLS),$(eval $(call TOOL_template,$(t))))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

check: all
	NONSTOP_BIN=$(CURDIR)/$(BUILD)/bin test/run

demo: all
	contrib/demo/demo.sh

lint-man:
	mandoc -Tlint -W warning $(MAN)

install: all
	mkdir -p $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)
	for b in $(BINS); do install -m 755 $$b $(DESTDIR)$(SBINDIR)/; done
	for m in $(MAN); do s=$${m##*.}; mkdir -p $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	mkdir -p $(DESTDIR)$(UNITDIR)
	for u in contrib/systemd/*; do [ -f "$$u" ] || continue; \
		sed 's|@SBINDIR@|$(SBINDIR)|g' $$u >$(DESTDIR)$(UNITDIR)/$${u##*/}; done
	for d in mib schema; do for f in $$d/*; do [ -f "$$f" ] || continue; \
		mkdir -p $(DESTDIR)$(DATADIR)/$$d; install -m 644 $$f $(DESTDIR)$(DATADIR)/$$d/; done; done

clean:
	rm -rf $(BUILD)

.PHONY: all check demo install clean lint-man

# Fragments of parts with build products of their own (libtcpr, fuzz targets).
-include mk/*.mk
