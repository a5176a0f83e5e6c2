// Command ftvm runs x86-64 guests on a pure-Go interpreter and, as a pair of
// processes, keeps them alive across the failure of a host.
//
// Usage:
//
//	ftvm run [flags] IMAGE       run one guest alone
//	ftvm replay --log LOG IMAGE  re-execute a recorded run
//	ftvm log show LOG            print an event log
//	ftvm disasm IMAGE|HEX        disassemble an image's code or hex bytes
//
// Exit status follows ARCHITECTURE.md §5: (v<<1)|1 after a write of
// v to isa-debug-exit, 0 after a power-off, reset or halt, 2 for a usage
// error, 124 when the instruction limit was reached, 125 when ftvm could not
// run the guest, 126 after a triple fault.
package main

import (
	"fmt"
	"os"
)

// Exit statuses of the CLI contract.
const (
	exitUsage    = 2
	exitInternal = 125
)

// usageError is an error in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: ftvm COMMAND [flags] [args]

commands:
  run [flags] IMAGE      run a guest image alone (ftvm run -h for flags)
  replay --log LOG IMAGE re-execute a recorded run and check it matches
  log show [--summary] LOG  print an event log's records and byte counts
  difftest [--step N] [--ring3] IMAGE...
                         run each image under the interpreter and under KVM and compare
  disasm IMAGE|HEX       disassemble the code of an ELF image, or hex bytes
  primary --listen ADDR --tls DIR [--arbiter file:PATH|etcd:URLS/PREFIX] [--wait-backup] [run flags] IMAGE
                         run a guest as the primary of a fault-tolerant pair
  backup --primary ADDR --tls DIR [--arbiter file:PATH|etcd:URLS/PREFIX] [--net SPEC] [--disk PATH]
                         replay the primary's guest and take over if it dies
  status --tls DIR ADDR  role, generation, positions, lag, log rate, outputs held
  top ADDR...            a live view of a pair from each side's --metrics address
  demo                   a primary/backup pair of the kvstore appliance, a client, a kill -9, a timeline
                         (--linux: Debian's kernel paired across two hosts, a TCP client; root)
  kv [flags] ADDR CMD... send one request to the kvstore appliance, with retries
  certs DIR              create a CA and a node certificate for a primary/backup pair
  switch PATH            a learning L2 switch on the unix datagram socket PATH (--net socket:PATH)
`

func main() {
	// quic-go warns on stderr, without our prefix, when it cannot raise
	// the UDP buffer sizes; the default sizes work.
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	os.Exit(mainStatus(os.Args[1:]))
}

// mainStatus runs the command line args and returns the exit status.
func mainStatus(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	var status int
	var err error
	switch args[0] {
	case "run":
		status, err = cmdRun(args[1:])
	case "disasm":
		status, err = cmdDisasm(args[1:])
	case "replay":
		status, err = cmdReplay(args[1:])
	case "log":
		status, err = cmdLog(args[1:])
	case "kv":
		status, err = cmdKV(args[1:])
	case "certs":
		status, err = cmdCerts(args[1:])
	case "switch":
		status, err = cmdSwitch(args[1:])
	case "primary":
		status, err = cmdPrimary(args[1:])
	case "backup":
		status, err = cmdBackup(args[1:])
	case "status":
		status, err = cmdStatus(args[1:])
	case "demo":
		status, err = cmdDemo(args[1:])
	case "top":
		status, err = cmdTop(args[1:])
	case "difftest":
		status, err = cmdDifftest(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		return 0
	default:
		err = usagef("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ftvm: %v\n", err)
		if _, ok := err.(usageError); ok {
			return exitUsage
		}
		return exitInternal
	}
	return status
}
