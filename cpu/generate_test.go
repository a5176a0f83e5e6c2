package cpu

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// generateLine matches this package's generator invocations (see
// cpu/gen/genfile): go run ./gen/NAME -o FILE.
var generateLine = regexp.MustCompile(`^//go:generate go run \./gen/(\w+) -o (\w+\.go)$`)

// generatedHeader is the standard marker of a generated Go file.
var generatedHeader = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// TestGeneratedUpToDate reruns every generator named by a //go:generate line
// of this package and compares its output with the committed file, so a
// generator changed without go generate (or a generated file edited by
// hand) fails. Every file marked as generated must come from such a line.
func TestGeneratedUpToDate(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to rerun the generators: %v", err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	gens := map[string]string{} // output file -> generator
	marked := map[string]bool{} // files with the generated header
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if generatedHeader.Match(src) {
			marked[name] = true
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "//go:generate") {
				continue
			}
			m := generateLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s: %q is not of the form go run ./gen/NAME -o FILE", name, line)
				continue
			}
			gens[m[2]] = m[1]
		}
	}
	if len(gens) == 0 {
		t.Fatal("no //go:generate lines found")
	}
	for name := range marked {
		if gens[name] == "" {
			t.Errorf("%s is marked generated but no //go:generate line writes it", name)
		}
	}
	bin := t.TempDir()
	if out, err := exec.Command(goTool, "build", "-o", bin+string(filepath.Separator), "./gen/...").CombinedOutput(); err != nil {
		t.Fatalf("building the generators: %v\n%s", err, out)
	}
	for file, gen := range gens {
		out := filepath.Join(bin, file)
		if msg, err := exec.Command(filepath.Join(bin, gen), "-o", out).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", gen, err, msg)
			continue
		}
		want, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s (from %s): %v", file, gen, err)
			continue
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is not what %s writes: run go generate ./cpu/", file, gen)
		}
		if !marked[file] {
			t.Errorf("%s lacks the generated-code header", file)
		}
	}
}
