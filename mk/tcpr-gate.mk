# tcpr-capture's in-kernel gate: the eBPF program (cmd/tcpr-capture/bpf/gate.c),
# built with clang -target bpf and taken into the binary by gate.c (.incbin).
GATE_CLANG ?= clang
GATE_BPF := $(BUILD)/cmd/tcpr-capture/bpf/gate.o

$(GATE_BPF): cmd/tcpr-capture/bpf/gate.c cmd/tcpr-capture/gate.h lib/tcpr_shm.h
	@mkdir -p $(@D)
	$(GATE_CLANG) -O2 -g -target bpf -Wall $(WERROR) \
	    -I/usr/include/$(shell $(CC) -dumpmachine) -Ilib -c -o $@ $<

$(BUILD)/cmd/tcpr-capture/gate.o: $(GATE_BPF)
$(BUILD)/cmd/tcpr-capture/gate.o: CPPFLAGS += -DGATE_OBJ=\"$(GATE_BPF)\"
