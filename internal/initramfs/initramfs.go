// Package initramfs builds the initial RAM file system ftvm boots Debian's
// kernel with: a gzip-compressed newc cpio archive holding a static
// busybox, kernel modules with the modules they depend on (from the
// kernel's modules.dep) and an /init that loads them and starts a shell.
package initramfs

import (
	"bufio"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// Init is the /init script.
//
//go:embed init.sh
var Init string

// Marker is the line /init prints when the system is up.
const Marker = "ftvm-init: ready"

// Config says what goes into the archive.
type Config struct {
	// Busybox is the path of a statically linked busybox.
	Busybox string
	// ModulesDir is the kernel's module directory, /lib/modules/VERSION.
	ModulesDir string
	// Modules names the modules to load (virtio_mmio, ext4, ...), in
	// order; each is preceded by the modules it depends on.
	Modules []string
}

// ParseModulesDep parses a modules.dep file: lines of "PATH: DEP DEP ...",
// paths relative to the module directory. It returns each module's
// dependencies keyed by its path.
func ParseModulesDep(r io.Reader) (map[string][]string, error) {
	deps := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		mod, rest, ok := strings.Cut(text, ":")
		if !ok || mod == "" {
			return nil, fmt.Errorf("modules.dep line %d: no \"module:\" in %q", line, text)
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps, sc.Err()
}

// moduleName returns the name of the module at path p: the base name
// without .ko (and a compression suffix), dashes as underscores, as the
// kernel names modules.
func moduleName(p string) string {
	b := path.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// LoadOrder returns the module paths to load for names, in an order in
// which every module comes after its dependencies, each once.
func LoadOrder(deps map[string][]string, names []string) ([]string, error) {
	byName := map[string]string{}
	for p := range deps {
		byName[moduleName(p)] = p
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(p string, chain []string) error
	visit = func(p string, chain []string) error {
		switch state[p] {
		case 1:
			return fmt.Errorf("modules.dep: dependency cycle %s", strings.Join(append(chain, p), " -> "))
		case 2:
			return nil
		}
		d, ok := deps[p]
		if !ok {
			return fmt.Errorf("modules.dep: %s (needed by %s) is not listed", p, strings.Join(chain, " -> "))
		}
		state[p] = 1
		for _, q := range d {
			if err := visit(q, append(chain, p)); err != nil {
				return err
			}
		}
		state[p] = 2
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		p, ok := byName[strings.ReplaceAll(n, "-", "_")]
		if !ok {
			return nil, fmt.Errorf("module %s is not in modules.dep (built into the kernel, or not installed?)", n)
		}
		if err := visit(p, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Build writes the archive for cfg to w.
func Build(w io.Writer, cfg Config) error {
	f, err := os.Open(filepath.Join(cfg.ModulesDir, "modules.dep"))
	if err != nil {
		return err
	}
	deps, err := ParseModulesDep(f)
	f.Close()
	if err != nil {
		return err
	}
	order, err := LoadOrder(deps, cfg.Modules)
	if err != nil {
		return err
	}
	busybox, err := os.ReadFile(cfg.Busybox)
	if err != nil {
		return err
	}
	recs := []cpio.Record{
		cpio.Directory("bin", 0o755),
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.CharDev("dev/null", 0o666, 1, 3),
		cpio.Directory("etc", 0o755),
		cpio.Directory("lib", 0o755),
		cpio.Directory("lib/modules", 0o755),
		cpio.Directory("proc", 0o755),
		cpio.Directory("sys", 0o755),
		cpio.Directory("tmp", 0o1777),
		cpio.Directory("mnt", 0o755),
		cpio.StaticFile("bin/busybox", string(busybox), 0o755),
		cpio.Symlink("bin/sh", "busybox"),
		cpio.StaticFile("init", Init, 0o755),
	}
	var list strings.Builder
	for _, p := range order {
		if !strings.HasSuffix(p, ".ko") {
			return fmt.Errorf("module %s is compressed; only plain .ko modules are supported", p)
		}
		b, err := os.ReadFile(filepath.Join(cfg.ModulesDir, p))
		if err != nil {
			return err
		}
		name := path.Base(p)
		recs = append(recs, cpio.StaticFile("lib/modules/"+name, string(b), 0o644))
		fmt.Fprintln(&list, name)
	}
	recs = append(recs, cpio.StaticFile("etc/modules", list.String(), 0o644))

	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	cw := cpio.Newc.Writer(zw)
	for i, r := range recs {
		r.Ino = uint64(i + 1)
		r.NLink = 1
		if err := cw.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			return err
		}
	}
	if err := cpio.WriteTrailer(cw); err != nil {
		return err
	}
	return zw.Close()
}
