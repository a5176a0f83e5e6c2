package mmu

import (
	"slices"
	"testing"
)

// TestDirtyTracking checks that every way RAM is written marks its pages,
// that a harvest returns them in order, clears them and flushes the CPU's
// write translations, and that nothing is recorded with tracking off.
func TestDirtyTracking(t *testing.T) {
	tests := []struct {
		name  string
		write func(m *Memory)
		want  []uint64
	}{
		{"store", func(m *Memory) { m.Write(0x3004, 4, 1) }, []uint64{3}},
		{"store across pages", func(m *Memory) { m.Write(0x4ffc, 8, 1) }, []uint64{4, 5}},
		{"DMA", func(m *Memory) { m.WriteBytes(0x6ff0, make([]byte, 0x2020)) }, []uint64{6, 7, 8, 9}},
		{"bulk copy", func(m *Memory) { m.NoteWrite(0x20000, 1) }, []uint64{0x20}},
		{"TLB fill", func(m *Memory) { m.MarkDirty(0x31) }, []uint64{0x31}},
		{"TLB fill beyond RAM", func(m *Memory) { m.MarkDirty(1 << 30) }, nil},
		{"MMIO", func(m *Memory) { m.Write(0xD0000000, 4, 1) }, nil},
		{"DMA outside RAM", func(m *Memory) { m.WriteBytes(1<<20-8, make([]byte, 16)) }, nil},
		{"read", func(m *Memory) { m.Read(0x3000, 8) }, nil},
		{"page walk", func(m *Memory) {
			// PML4 at 0x1000 -> PDPT 0x2000 -> a 1 GiB page: accessed bits
			// land in both tables.
			m.Write(0x1000, 8, 0x2000|7)
			m.Write(0x2000, 8, 0x83)
			m.HarvestDirty(nil)
			m.Walk(&Paging{Mode: ModeLong4, CR3: 0x1000}, 0x5000, AccessWrite)
		}, []uint64{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMemory(1 << 20)
			if err != nil {
				t.Fatal(err)
			}
			flushes := 0
			m.SetDirtyFlushHook(func() { flushes++ })
			tc.write(m)
			if got := m.HarvestDirty(nil); got != nil {
				t.Errorf("tracking off: harvested %v", got)
			}
			m.StartDirtyTracking()
			if flushes != 1 {
				t.Errorf("start flushed the write TLB %d times, want 1", flushes)
			}
			tc.write(m)
			got := m.HarvestDirty([]uint64{})
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("harvest = %v, want %v", got, tc.want)
			}
			if again := m.HarvestDirty(nil); len(again) != 0 {
				t.Errorf("second harvest = %v, want nothing", again)
			}
			m.StopDirtyTracking()
			tc.write(m)
			if got := m.HarvestDirty(nil); got != nil || m.DirtyTracking() {
				t.Errorf("after stop: harvested %v, tracking %v", got, m.DirtyTracking())
			}
		})
	}
}

// BenchmarkHarvestDirty measures a harvest of a 256 MiB guest's bitmap with
// 1 % of its pages dirty.
func BenchmarkHarvestDirty(b *testing.B) {
	m, err := NewMemory(256 << 20)
	if err != nil {
		b.Fatal(err)
	}
	m.StartDirtyTracking()
	buf := make([]uint64, 0, 1024)
	for b.Loop() {
		for p := uint64(0); p < 65536; p += 100 {
			m.MarkDirty(p)
		}
		buf = m.HarvestDirty(buf[:0])
	}
}
