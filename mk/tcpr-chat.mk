# tcpr-chatd, the chat room example on libtcpr (the demo's live session).
# Included from the Makefile; built like tcpr-echod (mk/tcpr.mk).
all: $(BUILD)/bin/tcpr-chatd

# (the library by name: mk/tcpr.mk, which sets TCPR_SO, is read after us)
$(BUILD)/bin/tcpr-chatd: contrib/tcpr/tcpr-chatd.c libtcpr/tcpr.h $(BUILD)/libtcpr.so
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WERROR) -Ilibtcpr -o $@ $< \
	    -L$(BUILD) -ltcpr -Wl,-rpath,'$$ORIGIN/..'
