package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"ftvm/internal/testenv"
)

// Record/replay of the appliance end to end: the guest under --clock host
// serving a client over the socket network with random request timing,
// recorded; its replay (no network, no client) must produce the same serial
// output byte for byte, the same disk image and the same final state digest.
// Then damaged logs, which replay must refuse with a clear error, and the
// figures of recording (log size and rate, slowdowns).

var (
	apStatsRE = regexp.MustCompile(`ftvm: retired=(\d+) wall=([0-9.]+)s`)
	apLogRE   = regexp.MustCompile(`ftvm: log bytes=(\d+) \(([0-9.]+) bytes/s, ([0-9.]+) bytes per million instructions\)`)
)

// apStats is what --stats printed.
type apStats struct {
	retired    uint64
	wall       float64 // seconds, as ftvm measured the run
	logBytes   uint64
	bytesPerS  float64
	bytesPerMI float64
}

func parseStats(t testing.TB, stderr string) apStats {
	t.Helper()
	var s apStats
	m := apStatsRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no stats line in stderr:\n%s", stderr)
	}
	s.retired, _ = strconv.ParseUint(m[1], 10, 64)
	s.wall, _ = strconv.ParseFloat(m[2], 64)
	if m := apLogRE.FindStringSubmatch(stderr); m != nil {
		s.logBytes, _ = strconv.ParseUint(m[1], 10, 64)
		s.bytesPerS, _ = strconv.ParseFloat(m[2], 64)
		s.bytesPerMI, _ = strconv.ParseFloat(m[3], 64)
	}
	return s
}

// apRecording is a recorded appliance run.
type apRecording struct {
	image   string
	dir     string
	log     string
	disk0   string // the disk as it was when recording started
	disk    string // the disk after the run
	console string
	status  int
	stderr  string
	stats   apStats
	wall    time.Duration // of the process
	ops     int
}

// recordAppliance records the appliance under --clock host while a client
// does n random PUTs and GETs with random pauses of 0-100 ms, then stops it
// with SIGTERM.
func recordAppliance(t *testing.T, seed int64, n int) *apRecording {
	t.Helper()
	r := &apRecording{image: testenv.Guest(t, "kvstore"), dir: testenv.ShortTempDir(t)}
	sw := testenv.Switch(t, filepath.Join(r.dir, "sw.sock")).Path()
	r.log = filepath.Join(r.dir, "rec.log")
	r.disk = apZeroDisk(t, filepath.Join(r.dir, "disk.img"), 1<<20)
	r.disk0 = filepath.Join(r.dir, "disk0.img")
	apCopy(t, r.disk, r.disk0)
	p := ftvmProc(t, "recorded appliance", "run", "--clock", "host", "--seed", strconv.FormatInt(seed, 10),
		"--record", r.log, "--stats", "--net", "socket:"+sw, "--disk", r.disk, r.image)
	p.mustServe(t)
	c := newAPClient(t, sw, "10.0.2.15:7000", 100)
	rng := rand.New(rand.NewSource(seed))
	model := map[string]string{}
	last := 0
	for i := 0; i < n; i++ {
		time.Sleep(time.Duration(rng.Intn(101)) * time.Millisecond)
		k := fmt.Sprintf("key%d", rng.Intn(8))
		if rng.Intn(3) > 0 {
			v := fmt.Sprintf("v%d-%d-%s", seed, i, strings.Repeat("x", rng.Intn(200)))
			last = c.put(t, k, v, last)
			model[k] = v
		} else if v, ok := model[k]; ok {
			c.expect(t, "GET "+k, "VAL "+v)
		} else {
			c.expect(t, "GET "+k, "NONE")
		}
	}
	c.expect(t, "STAT", fmt.Sprintf("KEYS %d WRITES %d", len(model), last))
	r.ops = n + 1
	r.status = p.term(t)
	r.wall = p.wall
	r.console, r.stderr = p.stdout.String(), p.stderr.String()
	if r.status != 0 {
		t.Fatalf("recorded appliance: exit status %d after SIGTERM, want 0; stderr:\n%s", r.status, r.stderr)
	}
	r.stats = parseStats(t, r.stderr)
	return r
}

// apReplay runs ftvm replay of log with a fresh copy of disk0 (returned)
// under a time limit, so that a hang fails instead of blocking.
func apReplay(t testing.TB, log, disk0, image string, extra ...string) (stdout, stderr string, status int, disk string, wall time.Duration) {
	t.Helper()
	disk = filepath.Join(filepath.Dir(log), fmt.Sprintf("replay-%d.img", time.Now().UnixNano()))
	apCopy(t, disk0, disk)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	args := append([]string{"replay", "--log", log, "--disk", disk}, extra...)
	cmd := exec.CommandContext(ctx, ftvmBin, append(args, image)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	wall = time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("replay of %s did not end within 120 s (killed); stderr:\n%s", log, se.String())
	}
	return so.String(), se.String(), exitStatus(t, err), disk, wall
}

func TestApplianceRecordReplay(t *testing.T) {
	testenv.Guest(t, "kvstore")
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			r := recordAppliance(t, seed, 30)
			if !strings.Contains(r.console, "kvstore: heartbeat t=1 ") {
				t.Errorf("the recording lasted less than a second of guest time:\n%s", r.console)
			}
			stdout, stderr, status, disk, wall := apReplay(t, r.log, r.disk0, r.image, "--stats")
			if status != r.status {
				t.Errorf("replay exit status %d, recorded %d; stderr:\n%s", status, r.status, stderr)
			}
			if !strings.Contains(stderr, "ftvm: replay matched the recording") || !strings.Contains(stderr, "same final state") {
				t.Errorf("replay did not say it matched; stderr:\n%s", stderr)
			}
			if stdout != r.console {
				t.Errorf("replayed console differs from the recording's:\n--- recorded\n%s\n--- replayed\n%s", r.console, stdout)
			}
			want, _ := os.ReadFile(r.disk)
			got, _ := os.ReadFile(disk)
			if len(want) == 0 || !bytes.Equal(want, got) {
				t.Errorf("replayed disk differs from the recorded one (%d and %d bytes)", len(want), len(got))
			}
			if bytes.Equal(want, make([]byte, len(want))) {
				t.Errorf("the recorded disk is still all zero: nothing was written")
			}
			rs := parseStats(t, stderr)
			if rs.retired != r.stats.retired {
				t.Errorf("replay retired %d instructions, the recording %d", rs.retired, r.stats.retired)
			}
			t.Logf("FIGURES appliance under load (seed %d, %d requests): %d instructions in %.2f s; log %d bytes, %.0f bytes/s, %.0f bytes per million instructions; replay %.3f s wall (%.4fx the recorded run's %.2f s)",
				seed, r.ops, r.stats.retired, r.stats.wall, r.stats.logBytes, r.stats.bytesPerS, r.stats.bytesPerMI,
				wall.Seconds(), wall.Seconds()/r.wall.Seconds(), r.wall.Seconds())
		})
	}
}

// apFrames returns the byte offset and length of each record of a log.
func apFrames(t *testing.T, b []byte) (header int, offs, lens []int) {
	t.Helper()
	if len(b) < 14 || string(b[:8]) != "FTVMLOG\x00" {
		t.Fatalf("not a log")
	}
	off := 14 + int(binary.LittleEndian.Uint32(b[10:])) + 4
	header = off
	for off < len(b) {
		if off+13 > len(b) {
			t.Fatalf("log ends inside a frame at %d", off)
		}
		n := 13 + int(binary.LittleEndian.Uint32(b[off+9:])) + 4
		offs, lens = append(offs, off), append(lens, n)
		off += n
	}
	return header, offs, lens
}

// apReframe recomputes the CRC-32C of the frame at b[off:off+n].
func apReframe(b []byte, off, n int) {
	sum := crc32.Checksum(b[off:off+n-4], crc32.MakeTable(crc32.Castagnoli))
	binary.LittleEndian.PutUint32(b[off+n-4:], sum)
}

func TestReplayDamagedLog(t *testing.T) {
	r := recordAppliance(t, 7, 12)
	orig, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	_, offs, lens := apFrames(t, orig)
	if len(offs) < 10 {
		t.Fatalf("only %d records in the log", len(offs))
	}
	pos := func(i int) uint64 { return binary.LittleEndian.Uint64(orig[offs[i]:]) }
	kind := func(i int) byte { return orig[offs[i]+8] }
	mid := len(offs) / 2

	// a pair of adjacent records at different positions, for the swap
	sw := -1
	for i := mid; i+1 < len(offs)-1 && sw < 0; i++ {
		if pos(i) < pos(i+1) {
			sw = i
		}
	}
	// a group of frame records (kind 1) and what follows at their position,
	// with room before the next position: their position is moved
	grp, grpEnd := -1, -1
	for i := 0; i < len(offs)-1 && grp < 0; i++ {
		if kind(i) != 1 || i > 0 && pos(i-1) == pos(i) {
			continue
		}
		j := i
		for j+1 < len(offs) && pos(j+1) == pos(i) {
			j++
		}
		if j+1 < len(offs) && pos(j+1)-pos(i) > 100 {
			grp, grpEnd = i, j
		}
	}
	// a disk completion (kind 2), given a request the guest never made
	disk := -1
	for i := mid; i < len(offs) && disk < 0; i++ {
		if kind(i) == 2 {
			disk = i
		}
	}
	if sw < 0 || grp < 0 || disk < 0 {
		t.Fatalf("no records to reorder (%d), move (%d) or change (%d)", sw, grp, disk)
	}

	type tc struct {
		name   string
		damage func(b []byte) []byte
		want   *regexp.Regexp // what stderr must say
	}
	cases := []tc{
		{"bit flip in a record", func(b []byte) []byte {
			b[offs[mid]+lens[mid]/2] ^= 0x10
			return b
		}, regexp.MustCompile(fmt.Sprintf(`ftvm: .*byte offset %d: record checksum mismatch`, offs[mid]))},
		{"bit flip in the header", func(b []byte) []byte {
			b[20] ^= 1
			return b
		}, regexp.MustCompile(`ftvm: .*byte offset 14: header checksum mismatch`)},
		{"bad magic", func(b []byte) []byte {
			b[0] = 'X'
			return b
		}, regexp.MustCompile(`ftvm: .*byte offset 0: not an ftvm log`)},
		{"truncated mid-record", func(b []byte) []byte {
			return b[:offs[mid]+lens[mid]/2]
		}, regexp.MustCompile(fmt.Sprintf(`ftvm: .*byte offset %d: truncated record`, offs[mid]))},
		{"truncated mid-header of a record", func(b []byte) []byte {
			return b[:offs[mid]+5]
		}, regexp.MustCompile(fmt.Sprintf(`ftvm: .*byte offset %d: truncated record`, offs[mid]))},
		{"two records swapped", func(b []byte) []byte {
			a := append([]byte(nil), b[offs[sw]:offs[sw]+lens[sw]]...)
			c := append([]byte(nil), b[offs[sw+1]:offs[sw+1]+lens[sw+1]]...)
			out := append(append(append(append([]byte(nil), b[:offs[sw]]...), c...), a...), b[offs[sw+1]+lens[sw+1]:]...)
			return out
		}, regexp.MustCompile(fmt.Sprintf(`ftvm: .*byte offset %d: position %d goes backwards`, offs[sw]+lens[sw+1], pos(sw)))},
		{"input moved to a later position", func(b []byte) []byte {
			np := pos(grp) + (pos(grpEnd+1)-pos(grp))/2
			for i := grp; i <= grpEnd; i++ {
				binary.LittleEndian.PutUint64(b[offs[i]:], np)
				apReframe(b, offs[i], lens[i])
			}
			return b
		}, regexp.MustCompile(`ftvm: replay diverged at position \d+`)},
		{"disk completion of an unknown request", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[offs[disk]+13+1:], 999)
			apReframe(b, offs[disk], lens[disk])
			return b
		}, regexp.MustCompile(fmt.Sprintf(`ftvm: replay diverged at position %d: input for device 0: virtio-blk: completion for request 999, which was never submitted`, pos(disk)))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := c.damage(append([]byte(nil), orig...))
			log := filepath.Join(r.dir, strings.ReplaceAll(c.name, " ", "-")+".log")
			if err := os.WriteFile(log, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, status, _, _ := apReplay(t, log, r.disk0, r.image)
			t.Logf("status %d, stderr: %.200s", status, stderr)
			if status != 125 {
				t.Errorf("status %d, want 125", status)
			}
			if !c.want.MatchString(stderr) {
				t.Errorf("stderr does not match %q:\n%s", c.want, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("replay panicked:\n%s", stderr)
			}
			if strings.Contains(stderr, "replay matched") {
				t.Errorf("a damaged log replayed as matching:\n%s", stderr)
			}
		})
	}

	// cut at a record boundary (a killed recorder): replay matches up to
	// the last record and says so
	cut := filepath.Join(r.dir, "cut.log")
	if err := os.WriteFile(cut, orig[:offs[mid]], 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, status, _, _ := apReplay(t, cut, r.disk0, r.image)
	if status != 0 || !strings.Contains(stderr, fmt.Sprintf("ftvm: the recording was cut short; replay matched it up to its last record (position %d)", pos(mid-1))) {
		t.Errorf("log cut at a record boundary: status %d, stderr:\n%s", status, stderr)
	}
}

// BenchmarkRecordReplay measures the event log's size and rate, and the
// cost of recording and replaying, on hello and on bench (first 300
// million instructions, best of two of each).
//
//	go test -run '^$' -bench RecordReplay -benchtime 1x ./cmd/ftvm
func BenchmarkRecordReplay(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchRecordReplay(b)
	}
}

// benchRecordReplay is one round of BenchmarkRecordReplay.
func benchRecordReplay(t *testing.B) {
	hello, bench := testenv.Guest(t, "hello"), testenv.Guest(t, "bench")
	dir := t.TempDir()

	run := func(want int, args ...string) (apStats, time.Duration) {
		t.Helper()
		start := time.Now()
		_, stderr, status := ftvm(t, args...)
		wall := time.Since(start)
		if status != want {
			t.Fatalf("ftvm %s: status %d, want %d; stderr:\n%s", strings.Join(args, " "), status, want, stderr)
		}
		if strings.HasPrefix(args[0], "replay") && !strings.Contains(stderr, "replay matched the recording") {
			t.Fatalf("ftvm %s: replay did not match:\n%s", strings.Join(args, " "), stderr)
		}
		return parseStats(t, stderr), wall
	}

	hlog := filepath.Join(dir, "hello.log")
	hs, _ := run(1, "run", "--stats", "--record", hlog, hello)
	run(1, "replay", "--stats", "--log", hlog, hello)
	t.ReportMetric(hs.bytesPerMI, "hello-log-B/Minsn")

	// bench: best of two of each, interleaved
	const limit = "300000000"
	blog := filepath.Join(dir, "bench.log")
	var plain, rec, rep apStats
	var plainW, recW, repW time.Duration
	best := func(s *apStats, w *time.Duration, ns apStats, nw time.Duration) {
		if s.retired == 0 || ns.wall < s.wall {
			*s = ns
		}
		if *w == 0 || nw < *w {
			*w = nw
		}
	}
	for i := 0; i < 2; i++ {
		s, w := run(124, "run", "--stats", "--max-insns", limit, bench)
		best(&plain, &plainW, s, w)
		s, w = run(124, "run", "--stats", "--record", blog, "--max-insns", limit, bench)
		best(&rec, &recW, s, w)
		s, w = run(124, "replay", "--stats", "--log", blog, bench)
		best(&rep, &repW, s, w)
	}
	if rec.retired != plain.retired || rep.retired != rec.retired {
		t.Errorf("retired: plain %d, recorded %d, replayed %d", plain.retired, rec.retired, rep.retired)
	}
	t.ReportMetric(rec.bytesPerS, "log-B/s")
	t.ReportMetric(rec.bytesPerMI, "log-B/Minsn")
	t.ReportMetric(rec.wall/plain.wall, "record-slowdown")
	t.ReportMetric(rep.wall/rec.wall, "replay/record")
}
