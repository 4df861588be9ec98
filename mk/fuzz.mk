# libFuzzer targets: make fuzz-NAME builds test/fuzz/NAME.c with the sources
# listed in FUZZ_SRC_NAME (and libraries in FUZZ_LIBS_NAME) into $(FUZZ_OUT).
FUZZ_OUT ?= $(BUILD)/fuzz
FUZZ_CC ?= clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ilib

FUZZ_SRC_hb_decode = cmd/ha-beat/proto.c lib/auth.c
FUZZ_CFLAGS_hb_decode = -Icmd/ha-beat
FUZZ_LIBS_hb_decode = $(shell $(PKG_CONFIG) --libs libcrypto)

fuzz-%: test/fuzz/%.c
	@mkdir -p $(FUZZ_OUT)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CFLAGS_$*) -o $(FUZZ_OUT)/$* $< \
		$(FUZZ_SRC_$*) $(FUZZ_LIBS_$*)

.PHONY: fuzz-%
