# tcpr-chatd, the chat room example on libtcpr (the demo's live session).
# Included from the Makefile; built like tcpr-echod (mk/tcpr.mk).
all: $(BUILD)/bin/tcpr-chatd

$(BUILD)/bin/tcpr-chatd: contrib/tcpr/tcpr-chatd.c libtcpr/tcpr.h $(TCPR_SO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WERROR) -Ilibtcpr -o $@ $< \
	    -L$(BUILD) -ltcpr -Wl,-rpath,'$$ORIGIN/..'
