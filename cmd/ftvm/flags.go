package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// newFlags returns the flag set of the subcommand name. It prints its errors
// on stderr and, for -h, the usage line (unless empty) and the flags.
func newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	if usage != "" {
		fs.Usage = func() {
			fmt.Fprintln(os.Stderr, usage)
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs. help reports -h or --help (the usage was
// printed and the command ends with status 0); a bad flag is a usageError.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	if err != nil {
		return false, usageError{err.Error()}
	}
	return false, nil
}
