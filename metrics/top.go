package metrics

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sampleLine is one sample of the text exposition format: name with labels,
// value.
var sampleLine = regexp.MustCompile(`(?m)^(ftvm_[a-z_]+(?:\{[^}]*\})?) (\S+)$`)

// Scrape reads the ftvm samples an endpoint serves at addr, by name with
// labels as the text format writes them (`ftvm_role{role="backup"}`).
func Scrape(ctx context.Context, addr string) (map[string]float64, error) {
	return ScrapeWith(ctx, http.DefaultClient, addr)
}

// ScrapeWith is Scrape through the client c (its own dialer or timeout).
func ScrapeWith(ctx context.Context, c *http.Client, addr string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, m := range sampleLine.FindAllStringSubmatch(string(body), -1) {
		if v, err := strconv.ParseFloat(m[2], 64); err == nil {
			out[m[1]] = v
		}
	}
	return out, nil
}

// maxTopEvents is how many recent events Top shows.
const maxTopEvents = 10

// Top is the live view of a pair (ftvm top): each side's figures from its
// metrics endpoint, and the events that happened between refreshes.
type Top struct {
	addrs  []string
	prev   []map[string]float64 // last scrape of each side (nil: unreachable)
	prevAt time.Time
	events []string // the latest events, oldest first
}

// NewTop returns the view of the sides serving metrics at addrs.
func NewTop(addrs []string) *Top {
	return &Top{addrs: addrs, prev: make([]map[string]float64, len(addrs))}
}

// Refresh scrapes every side and returns the screen's text.
func (t *Top) Refresh(ctx context.Context) string {
	now := time.Now()
	dt := now.Sub(t.prevAt).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "ftvm top  %s  (%d sides)\n\n", now.Format("15:04:05"), len(t.addrs))
	fmt.Fprintf(&b, "%-22s %-18s %4s %14s %8s %12s %8s %10s %5s %9s\n",
		"SIDE", "ROLE", "GEN", "POSITION", "MIPS", "LAG INSNS", "LAG S", "LOG B/S", "HELD", "FAILOVERS")
	for i, addr := range t.addrs {
		m, err := Scrape(ctx, addr)
		if err != nil {
			if t.prev[i] != nil {
				t.event(now, addr, "unreachable")
			}
			t.prev[i] = nil
			fmt.Fprintf(&b, "%-22s %-18s\n", addr, "unreachable")
			continue
		}
		prev := t.prev[i]
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if ev, ok := strings.CutPrefix(k, `ftvm_events_total{event="`); ok && m[k] > prev[k] {
				t.event(now, addr, strings.TrimSuffix(ev, `"}`))
			}
		}
		logRate := 0.0
		if prev != nil && dt > 0 {
			logRate = (m["ftvm_log_bytes_total"] - prev["ftvm_log_bytes_total"]) / dt
		}
		fmt.Fprintf(&b, "%-22s %-18s %4.0f %14.0f %8.1f %12.0f %8.3f %10.0f %5.0f %9.0f\n",
			addr, role(m), m["ftvm_generation"], m["ftvm_retired_instructions_total"], m["ftvm_instructions_per_second"]/1e6,
			m["ftvm_lag_instructions"], m["ftvm_lag_seconds"], logRate, m["ftvm_outputs_held"], m["ftvm_failovers_total"])
		t.prev[i] = m
	}
	t.prevAt = now
	b.WriteString("\nRecent events:\n")
	for _, e := range t.events {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

// event adds a line to the recent events.
func (t *Top) event(at time.Time, addr, what string) {
	t.events = append(t.events, fmt.Sprintf("%s  %-22s %s", at.Format("15:04:05"), addr, what))
	if len(t.events) > maxTopEvents {
		t.events = t.events[len(t.events)-maxTopEvents:]
	}
}

// role returns the role a side's ftvm_role sample names.
func role(m map[string]float64) string {
	for k, v := range m {
		if r, ok := strings.CutPrefix(k, `ftvm_role{role="`); ok && v == 1 {
			return strings.TrimSuffix(r, `"}`)
		}
	}
	return "?"
}
