# ftvm - build, test and benchmark entry points.
#
# On a fresh Debian 12 machine (with Go installed):  make demo  and  make test
#
# Targets
#   deps    install the missing Debian packages (apt-get; no-op when all present)
#   guests  build the test guests (testdata/guests/build/*.elf) and host oracles
#   build   deps + guests + bin/ftvm (-tags capstone when libcapstone-dev is there)
#   test    deps + guests + go vet + go test (timeout 25m), then the pair's packages under -race
#   bench   Go benchmarks + scripts/bench.sh (one table: ftvm, QEMU TCG and TCG -icount on
#           the integer, SSE and float workloads and Debian's kernel to /init, the ratios,
#           the pairing overhead) + scripts/bench-appliance.sh (kvstore requests/s, latency)
#   pgo     rewrites cmd/ftvm/default.pgo (the profile go build uses for
#           profile-guided optimisation) from runs of the bench, exercise, paging, bench_sse
#           and fpbench guests and the Linux boot (its first 2.15e9 instructions)
#   demo    deps + build, then the failover demo of the kvstore appliance (ftvm demo)
#   demo-linux  the failover demo of Debian's kernel on two hosts (ftvm demo --linux; root)
#   soak    long-running tests (TestSoak*, FTVM_SOAK=1): the fault injection of the
#           appliance and of the Linux pair on two hosts, in every mode
#   fuzz    every Fuzz* target for FUZZTIME each
#   qemu-check  runs every guest under QEMU and compares with the .golden files
#   linux-guest  the Linux guest material from Debian's packages (scripts/linux-guest.sh):
#           testdata/guests/build/linux/{vmlinuz,vmlinux,initramfs.cpio.gz}
#   linux   build + linux-guest, then boots Debian's kernel to a busybox shell on the console
#   clean   removes build outputs

SHELL := /bin/bash
.DEFAULT_GOAL := build
.SECONDEXPANSION:
.DELETE_ON_ERROR:
# deps (apt-get) must finish before anything is compiled; make 4.3 has no
# .WAIT, so the whole Makefile runs serially (the guests take ~3 s).
.NOTPARALLEL:

GO         ?= go
GUEST_CC   ?= gcc
HOST_CC    ?= gcc
QEMU       ?= qemu-system-x86_64
FUZZTIME   ?= 30s
SOAKTIME   ?= 60m
SOAK_ROUNDS       ?= 30
SOAK_LINUX_ROUNDS ?= 5

# Debian packages the build and the tests need (Go itself is not from apt).
DEB_PKGS := gcc libc6-dev binutils make pkg-config libcapstone-dev qemu-system-x86 iproute2 iputils-ping \
	linux-image-amd64 busybox-static acpica-tools cpio e2fsprogs xz-utils etcd-server tcpdump gdb tmux time

# ---------------------------------------------------------------------------
# Guests
# ---------------------------------------------------------------------------
GD := testdata/guests
GB := $(GD)/build
OBJ_DIR := $(GB)/obj

C_GUESTS   := hello exercise paging bench exitcode kvstore echo idle_wake sse ssefp fpbench bench_sse fpu
C_GUESTS   += pit_hlt gdbtarget dirty
ASM_GUESTS := halt reset triple spin compat32
GUESTS     := $(C_GUESTS) $(ASM_GUESTS)
GUEST_ELFS := $(addprefix $(GB)/,$(addsuffix .elf,$(GUESTS)))
HOST_PROGS := $(GB)/exercise_host $(GB)/bench_host $(GB)/sse_host $(GB)/ssefp_host $(GB)/fpbench_host $(GB)/bench_sse_host $(GB)/fpu_host

GUEST_CFLAGS := -std=gnu11 -O2 -ffreestanding -nostdlib -static -fno-pic -no-pie \
	-mno-red-zone -fno-stack-protector -mgeneral-regs-only \
	-fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables \
	-fcf-protection=none -Wall -Wextra -I$(GD)/lib -I$(GD)
GUEST_LDFLAGS := -nostdlib -static -no-pie -T $(GD)/lib/guest.ld -Wl,--build-id=none \
	-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
# The host oracles use the same -mno-red-zone (the exercise asm pushes) and
# -mgeneral-regs-only (same code shape as the guests).
HOST_CFLAGS := -std=gnu11 -O2 -mno-red-zone -mgeneral-regs-only -Wall -Wextra -I$(GD)
# The x87 exerciser body (fpu_body.c), guest and host: x87 only, no SSE.
FPU_FLAGS        := -mno-sse -mno-mmx -mfpmath=387
FPU_GUEST_CFLAGS := $(filter-out -mgeneral-regs-only,$(GUEST_CFLAGS)) $(FPU_FLAGS)
FPU_HOST_CFLAGS  := $(filter-out -mgeneral-regs-only,$(HOST_CFLAGS)) $(FPU_FLAGS)

RUNTIME_OBJS := $(OBJ_DIR)/lib/start.o $(OBJ_DIR)/lib/pvh.o $(OBJ_DIR)/lib/runtime.o
ASMLIB_OBJS  := $(OBJ_DIR)/lib/pvh.o $(OBJ_DIR)/lib/asmlib.o

# Objects of each guest besides the runtime.
OBJS_hello    := $(OBJ_DIR)/hello.o
FAULT_OBJS    := $(OBJ_DIR)/lib/faults.o $(OBJ_DIR)/lib/faults_asm.o
OBJS_exercise := $(OBJ_DIR)/exercise.o $(OBJ_DIR)/exercise_body.o $(FAULT_OBJS)
OBJS_paging   := $(OBJ_DIR)/paging.o $(OBJ_DIR)/paging_asm.o
OBJS_bench    := $(OBJ_DIR)/bench.o $(OBJ_DIR)/bench_body.o $(FAULT_OBJS)
OBJS_exitcode := $(OBJ_DIR)/exitcode.o
# ssefp: the SSE floating-point exerciser (its host oracle: ssefp_host).
OBJS_ssefp    := $(OBJ_DIR)/ssefp.o $(OBJ_DIR)/ssefp_body.o $(FAULT_OBJS)
# fpbench: the float workload of make bench, compiled for SSE2 code.
OBJS_fpbench  := $(OBJ_DIR)/fpbench.o $(OBJ_DIR)/fpbench_body.o $(FAULT_OBJS)
OBJS_echo     := $(OBJ_DIR)/echo.o
OBJS_idle_wake := $(OBJ_DIR)/idle_wake.o
# sse: the SSE-SSE4.2 oracle guest; its body is compiled with -msse4.2 (and
# without -mgeneral-regs-only), for the guest and for sse_host alike.
OBJS_sse      := $(OBJ_DIR)/sse.o $(OBJ_DIR)/sse_body.o $(FAULT_OBJS)
SSE_FLAGS     := -msse4.2
# bench_sse: the SSE workload of make bench (memcpy, strlen, strchr, CRC32C).
OBJS_bench_sse := $(OBJ_DIR)/bench_sse.o $(OBJ_DIR)/bench_sse_body.o $(FAULT_OBJS)
SSE_OBJS      := $(OBJ_DIR)/sse_body.o $(OBJ_DIR)/bench_sse_body.o
OBJS_pit_hlt  := $(OBJ_DIR)/pit_hlt.o
OBJS_dirty    := $(OBJ_DIR)/dirty.o
# gdbtarget: the debugger tests' guest, with debug information and no
# optimisation (its variables live in memory).
OBJS_gdbtarget := $(OBJ_DIR)/gdbtarget.o
$(OBJ_DIR)/gdbtarget.o: GUEST_CFLAGS += -g -O0
OBJS_fpu      := $(OBJ_DIR)/fpu.o $(OBJ_DIR)/fpu_body.o $(FAULT_OBJS)
# kvstore: the UDP key-value appliance (kvstore/README.md), with the
# interrupt library (256-vector IDT, 8259, 8254, local APIC, I/O APIC).
INTR_OBJS     := $(OBJ_DIR)/lib/intr.o $(OBJ_DIR)/lib/intr_asm.o $(FAULT_OBJS)
OBJS_kvstore  := $(addprefix $(OBJ_DIR)/kvstore/,main.o virtio.o net.o blk.o store.o) $(INTR_OBJS)
OBJS_halt     := $(OBJ_DIR)/halt.o
OBJS_reset    := $(OBJ_DIR)/reset.o
OBJS_triple   := $(OBJ_DIR)/triple.o
OBJS_spin     := $(OBJ_DIR)/spin.o
# compat32: a 64-bit kernel and its 32-bit user process (INT 0x80, SYSENTER).
OBJS_compat32 := $(OBJ_DIR)/compat32.o
# Ring-3 guests (lib/ring3.h): the exercise and bench bodies run at CPL3, for
# hosts whose KVM is PVM (CPL0 emulated slowly); same golden output.
R3_GUESTS        := exercise_r3 bench_r3 sse_r3 ssefp_r3 fpu_r3
R3_ELFS          := $(addprefix $(GB)/,$(addsuffix .elf,$(R3_GUESTS)))
R3_OBJS          := $(OBJ_DIR)/lib/ring3_asm.o $(OBJ_DIR)/lib/pvh.o $(OBJ_DIR)/lib/ring3.o $(OBJ_DIR)/lib/runtime.o $(FAULT_OBJS)
OBJS_exercise_r3 := $(OBJ_DIR)/exercise_r3.o $(OBJ_DIR)/exercise_body.o
OBJS_bench_r3    := $(OBJ_DIR)/bench_r3.o $(OBJ_DIR)/bench_body.o
OBJS_sse_r3      := $(OBJ_DIR)/sse_r3.o $(OBJ_DIR)/sse_body.o
OBJS_ssefp_r3    := $(OBJ_DIR)/ssefp_r3.o $(OBJ_DIR)/ssefp_body.o
OBJS_fpu_r3      := $(OBJ_DIR)/fpu_r3.o $(OBJ_DIR)/fpu_body.o
# tick: timer interrupts in HLT, for the KVM accelerator's interrupt tests.
OBJS_tick        := $(OBJ_DIR)/tick.o $(INTR_OBJS)

# Rebuild everything when the flags change (the stamp only changes then).
FLAGS_STAMP := $(GB)/.flags
FLAGS_TEXT  := $(GUEST_CC) $(GUEST_CFLAGS) | $(GUEST_LDFLAGS) | $(HOST_CC) $(HOST_CFLAGS)

.PHONY: all deps guests build test bench pgo demo demo-linux soak fuzz qemu-check linux-guest linux clean FORCE

all: build

guests: $(GUEST_ELFS) $(HOST_PROGS)

$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_TEXT)' | cmp -s - $@ || echo '$(FLAGS_TEXT)' > $@

$(OBJ_DIR)/%.o: $(GD)/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(OBJ_DIR)/%.o: $(GD)/%.S $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(addprefix $(GB)/,$(addsuffix .elf,$(C_GUESTS))): $(GB)/%.elf: $$(OBJS_$$*) $(RUNTIME_OBJS) $(GD)/lib/guest.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(RUNTIME_OBJS) $(OBJS_$*) -lgcc

$(addprefix $(GB)/,$(addsuffix .elf,$(ASM_GUESTS))): $(GB)/%.elf: $$(OBJS_$$*) $(ASMLIB_OBJS) $(GD)/lib/guest.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(OBJS_$*) $(ASMLIB_OBJS)

# Multiboot v1 guests: ELF32 kernels entered in 32-bit protected mode.
MB_GUESTS := mb32
MB_ELFS   := $(addprefix $(GB)/,$(addsuffix .elf,$(MB_GUESTS)))
guests: $(MB_ELFS)
$(MB_ELFS): $(GB)/%.elf: $(GD)/%.S $(GD)/lib/mb32.ld $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(GUEST_CC) -m32 -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
		-Wl,-z,noexecstack -T $(GD)/lib/mb32.ld -o $@ $<

guests: $(R3_ELFS)
$(R3_ELFS): $(GB)/%.elf: $$(OBJS_$$*) $(R3_OBJS) $(GD)/lib/guest.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(R3_OBJS) $(OBJS_$*) -lgcc
guests: $(GB)/tick.elf
$(GB)/tick.elf: $(OBJS_tick) $(RUNTIME_OBJS) $(GD)/lib/guest.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(RUNTIME_OBJS) $(OBJS_tick) -lgcc

$(SSE_OBJS): $(OBJ_DIR)/%.o: $(GD)/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(GUEST_CC) $(filter-out -mgeneral-regs-only,$(GUEST_CFLAGS)) $(SSE_FLAGS) -MMD -MP -c -o $@ $<

$(GB)/sse_host: $(GD)/sse_host.c $(GD)/sse_body.c $(GD)/sse_body.h $(GD)/oracle.h $(GD)/mains.h $(FLAGS_STAMP)
	$(HOST_CC) $(filter-out -mgeneral-regs-only,$(HOST_CFLAGS)) $(SSE_FLAGS) -o $@ $(GD)/sse_host.c $(GD)/sse_body.c

$(GB)/bench_sse_host: $(GD)/bench_sse_host.c $(GD)/bench_sse_body.c $(GD)/bench_sse_body.h $(GD)/mains.h $(FLAGS_STAMP)
	$(HOST_CC) $(filter-out -mgeneral-regs-only,$(HOST_CFLAGS)) $(SSE_FLAGS) -o $@ $(GD)/bench_sse_host.c $(GD)/bench_sse_body.c

# wait: one source (wait/wait.c) built once per way of waiting; the
# behaviour matrix of cmd/ftvm's TestWaitMatrix runs each (wait/README.md).
# NAME := its -D flags (SRC_*, HOW_*, ROUTE_*, VWIRE, EVENT_IDX, INDIRECT).
WAIT_FLAGS_pit-periodic-pic-hlt        := -DSRC=SRC_PIT_PERIODIC -DHOW=HOW_HLT -DROUTE=ROUTE_PIC
WAIT_FLAGS_pit-periodic-ioapic-hlt     := -DSRC=SRC_PIT_PERIODIC -DHOW=HOW_HLT -DROUTE=ROUTE_IOAPIC
WAIT_FLAGS_pit-oneshot-vwire-hlt       := -DSRC=SRC_PIT_ONESHOT -DHOW=HOW_HLT -DROUTE=ROUTE_PIC -DVWIRE=1
WAIT_FLAGS_pit-oneshot-ioapic-pause    := -DSRC=SRC_PIT_ONESHOT -DHOW=HOW_PAUSE -DROUTE=ROUTE_IOAPIC
WAIT_FLAGS_pit-oneshot-poll            := -DSRC=SRC_PIT_ONESHOT -DHOW=HOW_POLL
WAIT_FLAGS_lapic-oneshot-hlt           := -DSRC=SRC_LAPIC_ONESHOT -DHOW=HOW_HLT
WAIT_FLAGS_lapic-oneshot-poll          := -DSRC=SRC_LAPIC_ONESHOT -DHOW=HOW_POLL
WAIT_FLAGS_lapic-periodic-pause        := -DSRC=SRC_LAPIC_PERIODIC -DHOW=HOW_PAUSE -DROUTE=ROUTE_IOAPIC
WAIT_FLAGS_tsc-deadline-hlt            := -DSRC=SRC_TSC_DEADLINE -DHOW=HOW_HLT
WAIT_FLAGS_console-pic-hlt             := -DSRC=SRC_CONSOLE -DHOW=HOW_HLT -DROUTE=ROUTE_PIC
WAIT_FLAGS_console-vwire-hlt           := -DSRC=SRC_CONSOLE -DHOW=HOW_HLT -DROUTE=ROUTE_PIC -DVWIRE=1
WAIT_FLAGS_console-ioapic-pause        := -DSRC=SRC_CONSOLE -DHOW=HOW_PAUSE -DROUTE=ROUTE_IOAPIC
WAIT_FLAGS_console-poll                := -DSRC=SRC_CONSOLE -DHOW=HOW_POLL
WAIT_FLAGS_disk-vwire-hlt              := -DSRC=SRC_DISK -DHOW=HOW_HLT -DROUTE=ROUTE_PIC -DVWIRE=1
WAIT_FLAGS_disk-ioapic-hlt-eventidx-indirect := -DSRC=SRC_DISK -DHOW=HOW_HLT -DROUTE=ROUTE_IOAPIC -DEVENT_IDX=1 -DINDIRECT=1
WAIT_FLAGS_disk-pic-pause-indirect     := -DSRC=SRC_DISK -DHOW=HOW_PAUSE -DROUTE=ROUTE_PIC -DINDIRECT=1
WAIT_FLAGS_disk-pic-hlt                := -DSRC=SRC_DISK -DHOW=HOW_HLT -DROUTE=ROUTE_PIC
WAIT_FLAGS_disk-poll-eventidx          := -DSRC=SRC_DISK -DHOW=HOW_POLL -DEVENT_IDX=1
WAIT_FLAGS_frame-pic-hlt               := -DSRC=SRC_FRAME -DHOW=HOW_HLT -DROUTE=ROUTE_PIC
WAIT_FLAGS_frame-ioapic-hlt-eventidx-indirect := -DSRC=SRC_FRAME -DHOW=HOW_HLT -DROUTE=ROUTE_IOAPIC -DEVENT_IDX=1 -DINDIRECT=1
WAIT_FLAGS_frame-vwire-pause-eventidx  := -DSRC=SRC_FRAME -DHOW=HOW_PAUSE -DROUTE=ROUTE_PIC -DVWIRE=1 -DEVENT_IDX=1
WAIT_FLAGS_frame-poll                  := -DSRC=SRC_FRAME -DHOW=HOW_POLL
WAIT_VARIANTS := $(patsubst WAIT_FLAGS_%,%,$(filter WAIT_FLAGS_%,$(.VARIABLES)))
WAIT_ELFS     := $(patsubst %,$(GB)/wait-%.elf,$(WAIT_VARIANTS))

guests: $(WAIT_ELFS)
$(OBJ_DIR)/wait/wait-%.o: $(GD)/wait/wait.c $(FLAGS_STAMP) Makefile
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) $(WAIT_FLAGS_$*) -MMD -MP -c -o $@ $<
# The dependency files are not made (without this, make's built-in link rule
# would try to build wait-NAME.d from wait-NAME.d.o).
$(OBJ_DIR)/wait/%.d: ;
$(WAIT_ELFS): $(GB)/wait-%.elf: $(OBJ_DIR)/wait/wait-%.o $(OBJ_DIR)/wait/wait_asm.o $(RUNTIME_OBJS) $(GD)/lib/guest.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(RUNTIME_OBJS) $(OBJ_DIR)/wait/wait-$*.o $(OBJ_DIR)/wait/wait_asm.o -lgcc

$(GB)/exercise_host: $(GD)/exercise_host.c $(GD)/exercise_body.c $(GD)/exercise_body.h $(GD)/oracle.h $(GD)/mains.h $(FLAGS_STAMP)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $(GD)/exercise_host.c $(GD)/exercise_body.c

$(GB)/ssefp_host: $(GD)/ssefp_host.c $(GD)/ssefp_body.c $(GD)/ssefp_body.h $(GD)/oracle.h $(FLAGS_STAMP)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $(GD)/ssefp_host.c $(GD)/ssefp_body.c

# The float workload is compiled as ordinary -O2 SSE2 code (no
# -mgeneral-regs-only): its body only; the runtime stays general-purpose.
FP_CFLAGS := $(filter-out -mgeneral-regs-only,$(GUEST_CFLAGS)) -msse2 -mfpmath=sse -fno-math-errno
$(OBJ_DIR)/fpbench_body.o: $(GD)/fpbench_body.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(GUEST_CC) $(FP_CFLAGS) -MMD -MP -c -o $@ $<
$(GB)/fpbench_host: $(GD)/fpbench_host.c $(GD)/fpbench_body.c $(GD)/fpbench_body.h $(GD)/mains.h $(FLAGS_STAMP)
	$(HOST_CC) $(filter-out -mgeneral-regs-only,$(HOST_CFLAGS)) -msse2 -mfpmath=sse -fno-math-errno -o $@ $(GD)/fpbench_host.c $(GD)/fpbench_body.c

$(OBJ_DIR)/fpu_body.o: GUEST_CFLAGS := $(FPU_GUEST_CFLAGS)

$(GB)/fpu_host: $(GD)/fpu_host.c $(GD)/fpu_body.c $(GD)/fpu_body.h $(GD)/oracle.h $(GD)/mains.h $(FLAGS_STAMP)
	$(HOST_CC) $(FPU_HOST_CFLAGS) -o $@ $(GD)/fpu_host.c $(GD)/fpu_body.c

$(GB)/bench_host: $(GD)/bench_host.c $(GD)/bench_body.c $(GD)/bench_body.h $(GD)/mains.h $(FLAGS_STAMP)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $(GD)/bench_host.c $(GD)/bench_body.c

-include $(wildcard $(OBJ_DIR)/*.d $(OBJ_DIR)/lib/*.d $(OBJ_DIR)/kvstore/*.d $(OBJ_DIR)/wait/*.d)

# ---------------------------------------------------------------------------
# Host packages
# ---------------------------------------------------------------------------
deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	  dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi; \
	command -v $(GO) >/dev/null || { echo "deps: '$(GO)' not found: install Go (see go.mod for the version)" >&2; exit 1; }

# Shell prefix setting $$tags to "-tags capstone" when the capstone library
# and headers are installed (checked when the recipe runs, i.e. after deps),
# and $$testtags to the same plus ftvm_testhooks, the tag of the test-only
# switches compiled into the packages under test (cpu/testhooks.go); set -x
# then echoes the commands with the tags expanded.
WITH_TAGS = tags=""; testtags="-tags $(TEST_TAGS)"; \
	if pkg-config --exists capstone 2>/dev/null; then tags="-tags capstone"; testtags="$$testtags,capstone"; fi; set -x
TEST_TAGS := ftvm_testhooks

# ---------------------------------------------------------------------------
# Go
# ---------------------------------------------------------------------------
# PGO's devirtualization is off in cpu: from the profile it made the run
# loop's indirect handler call test for the hottest SSE handler and inlined
# that into the loop (measured without it: bench 331 -> 350 MIPS, the
# Linux boot 241 -> 250, fpbench 82 -> 93, bench_sse 180 -> 191).
GCFLAGS := -gcflags=ftvm/cpu=-d=pgodevirtualize=0

build: deps guests
	@mkdir -p bin
	@$(WITH_TAGS); $(GO) build $$tags $(GCFLAGS) -o bin/ftvm ./cmd/ftvm

# Packages whose tests also run under the race detector in make test: the
# pair's goroutines (transport readers, status, acks) meet there.
RACE_PKGS := ./failover/ ./transport/

test: deps guests linux-guest
	@$(WITH_TAGS); $(GO) vet $$testtags ./... && $(GO) test $$testtags -timeout 25m ./... && \
	  $(GO) test $$testtags -race -timeout 10m $(RACE_PKGS)

bench: build linux-guest
	@$(WITH_TAGS); $(GO) test $$tags -run '^$$' -bench . ./...
	LINUX=$(LINUX_DIR) scripts/bench.sh
	scripts/bench-appliance.sh

# The PGO profile: a CPU profile of ftvm on the integer workloads (bench, and
# exercise and paging for the system paths), the SSE and float ones
# (bench_sse: 10 % faster with it in the profile, bench within 1 %; fpbench:
# 75 -> 89 MIPS with it) and the Linux boot (7 % faster with it, bench within
# 2 %), PGO_RUNS runs of each merged (one run's samples are few enough that
# the inliner's choices, and the MIPS, moved by 5-10 % from one profile to
# the next); go build applies it. The Linux run takes 2.15e9 instructions,
# about the whole boot: its later part runs code the first 1.5e9 do not
# (32-bit rotates among it). The profiled binary is built without PGO, so that the
# profile does not depend on the one before: profiles made from PGO builds
# drifted (a second round from the first round's build: bench 461 -> 418
# MIPS, the Linux boot 315 -> 291).
PGO_GUESTS := bench exercise paging bench_sse fpbench
PGO_RUNS := 3
PGO_LINUX_INSNS := 2150000000
pgo: deps guests linux-guest
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(WITH_TAGS); $(GO) build $$tags -pgo=off $(GCFLAGS) -o "$$tmp/ftvm" ./cmd/ftvm; \
	for r in $$(seq $(PGO_RUNS)); do \
	for g in $(PGO_GUESTS); do "$$tmp/ftvm" run --serial none --cpuprofile "$$tmp/$$g.$$r.prof" $(GB)/$$g.elf || test -s "$$tmp/$$g.$$r.prof"; done; \
	"$$tmp/ftvm" run -m 256M --clock virtual --serial none --max-insns $(PGO_LINUX_INSNS) --cpuprofile "$$tmp/linux.$$r.prof" \
		--initrd $(LINUX_DIR)/initramfs.cpio.gz --append console=ttyS0 $(LINUX_DIR)/vmlinux </dev/null || test -s "$$tmp/linux.$$r.prof"; \
	done; \
	$(GO) tool pprof -proto "$$tmp"/*.prof > cmd/ftvm/default.pgo

demo: deps build
	bin/ftvm demo

# The pair of Debian's kernel on two hosts (network namespaces; needs root)
# with a TCP client through a kill -9 of the primary.
demo-linux: build linux-guest
	bin/ftvm demo --linux

# Linux: Debian's kernel (uncompressed, so the guest skips decompressing
# itself) with the busybox initramfs, 256 MiB, the console on this terminal.
LINUX_DIR    := $(GB)/linux
LINUX_APPEND ?= console=ttyS0
linux-guest: deps
	GO=$(GO) OUT=$(LINUX_DIR) scripts/linux-guest.sh

linux: build linux-guest
	bin/ftvm run -m 256M --initrd $(LINUX_DIR)/initramfs.cpio.gz --append "$(LINUX_APPEND)" $(LINUX_DIR)/vmlinux

# The fault injection repeated in every mode (lockstep, checkpoint, io-sync):
# the appliance pair (SOAK_ROUNDS rounds per mode) and Debian's kernel on two
# hosts with a TCP stream (SOAK_LINUX_ROUNDS; needs root), each round killing
# the primary or the backup at a random moment. The SOAK lines at the end
# count failovers, lost writes or bytes, double-live generations and
# spurious takeovers; a loss, a double-live generation or a broken round
# fails it.
soak: deps guests linux-guest
	@$(WITH_TAGS); log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	FTVM_SOAK=1 FTVM_SOAK_ROUNDS=$(SOAK_ROUNDS) FTVM_SOAK_LINUX_ROUNDS=$(SOAK_LINUX_ROUNDS) \
	  $(GO) test $$testtags -run 'Soak' -timeout $(SOAKTIME) -v ./... 2>&1 | tee "$$log"; status=$${PIPESTATUS[0]}; \
	set +x; echo "soak: summary (go test exit status $$status)"; grep -h 'SOAK ' "$$log" | sed 's/^ *//'; exit $$status

fuzz: deps guests
	@$(WITH_TAGS); set +x; set -e; \
	for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test $$tags -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz: $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test $$tags -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

qemu-check: deps guests
	scripts/qemu-check.sh

clean:
	rm -rf $(GB) bin
