# libtcpr (shared library, header, pkg-config file) and its example
# server tcpr-echod. Included from the Makefile.
TCPR_SRC := $(wildcard libtcpr/*.c)
TCPR_OBJ := $(TCPR_SRC:%.c=$(BUILD)/%.o)
TCPR_SONAME := libtcpr.so.0
TCPR_SO := $(BUILD)/libtcpr.so
TCPR_SO0 := $(BUILD)/$(TCPR_SONAME)

all: $(TCPR_SO) $(BUILD)/libtcpr.pc $(BUILD)/bin/tcpr-echod

$(BUILD)/libtcpr/%.o: libtcpr/%.c libtcpr/tcpr.h lib/tcpr_shm.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WERROR) -fvisibility=hidden -Ilibtcpr -Ilib -c -o $@ $<

$(TCPR_SO0): $(TCPR_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(TCPR_SONAME) -o $@ $(TCPR_OBJ)

$(TCPR_SO): $(TCPR_SO0)
	ln -sf $(TCPR_SONAME) $@

$(BUILD)/libtcpr.pc: libtcpr/tcpr.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< >$@

# The example finds the library next to it in the build tree.
$(BUILD)/bin/tcpr-echod: contrib/tcpr/tcpr-echod.c libtcpr/tcpr.h $(TCPR_SO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WERROR) -Ilibtcpr -o $@ $< \
	    -L$(BUILD) -ltcpr -Wl,-rpath,'$$ORIGIN/..'

install: install-tcpr
install-tcpr: $(TCPR_SO) $(BUILD)/libtcpr.pc
	mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)
	install -m 755 $(TCPR_SO0) $(DESTDIR)$(LIBDIR)/$(TCPR_SONAME)
	ln -sf $(TCPR_SONAME) $(DESTDIR)$(LIBDIR)/libtcpr.so
	install -m 644 libtcpr/tcpr.h $(DESTDIR)$(INCDIR)/tcpr.h
	install -m 644 $(BUILD)/libtcpr.pc $(DESTDIR)$(LIBDIR)/pkgconfig/libtcpr.pc

.PHONY: install-tcpr
