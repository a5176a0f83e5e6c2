package main

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"ftvm/cpu/disasm"
)

// cmdDisasm disassembles an ELF image's executable segments, or a string of
// hex bytes given on the command line (spaces allowed).
func cmdDisasm(args []string) (int, error) {
	if len(args) == 0 {
		return 0, usagef("disasm needs an IMAGE or HEX bytes")
	}
	arg := strings.Join(args, "")
	if _, err := os.Stat(args[0]); err == nil && len(args) == 1 {
		return 0, disasmImage(args[0])
	}
	code, err := hex.DecodeString(strings.NewReplacer(" ", "", "0x", "", ",", "").Replace(arg))
	if err != nil {
		return 0, usagef("%q is neither a file nor hex bytes", arg)
	}
	for _, l := range disasm.Lines(code, 0) {
		fmt.Println(l)
	}
	return 0, nil
}

func disasmImage(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	defer f.Close()
	found := false
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		code, err := s.Data()
		if err != nil {
			return fmt.Errorf("%s: section %s: %v", path, s.Name, err)
		}
		found = true
		fmt.Printf("section %s at %#x (%d bytes), disassembler %s:\n", s.Name, s.Addr, len(code), disasm.Backend)
		for _, l := range disasm.Lines(code, s.Addr) {
			fmt.Println(l)
		}
	}
	if !found {
		for _, p := range f.Progs {
			if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
				continue
			}
			code := make([]byte, p.Filesz)
			if _, err := p.ReadAt(code, 0); err != nil {
				return fmt.Errorf("%s: segment at %#x: %v", path, p.Vaddr, err)
			}
			found = true
			fmt.Printf("segment at %#x (%d bytes), disassembler %s:\n", p.Vaddr, len(code), disasm.Backend)
			for _, l := range disasm.Lines(code, p.Vaddr) {
				fmt.Println(l)
			}
		}
	}
	if !found {
		return fmt.Errorf("%s: no executable code found", path)
	}
	return nil
}
