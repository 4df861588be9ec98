# lc-role's libFuzzer target (the fuzz-% rule is in mk/fuzz.mk).
FUZZ_SRC_role_parse = lib/role.c lib/kv.c lib/addr.c lib/atomic.c
