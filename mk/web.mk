# lc-web's libFuzzer target (see mk/fuzz.mk): make fuzz-web_form
FUZZ_SRC_web_form = lib/web_form.c lib/web_html.c lib/web_sess.c lib/auth.c
FUZZ_LIBS_web_form = $(shell $(PKG_CONFIG) --libs libcrypto)
