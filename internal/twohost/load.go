package twohost

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"ftvm/failover"
	"ftvm/internal/netlab"
	"ftvm/metrics"
)

// metricsPort is where the primary (or the lone run) serves its metrics,
// on host A's address.
const metricsPort = "9400"

// sample is a look at the primary and the stream at one moment.
type sample struct {
	at      time.Time
	cpu     time.Duration
	metrics map[string]float64 // the primary's metrics: name{labels} -> value
	pairs   int                // answered by then
	lat     int                // latencies recorded by then
}

// look samples the primary a (its CPU time and its metrics, fetched from
// the client's namespace over the LAN) and the stream st (nil before it).
func (r *run) look(a *member, st *stream) (sample, error) {
	s := sample{at: time.Now()}
	var err error
	if s.cpu, err = cpuTime(a.cmd.Process.Pid); err != nil {
		return s, fmt.Errorf("%s: %v (it ended)", a.name, err)
	}
	if s.metrics, err = r.scrape(netlab.AddrA + ":" + metricsPort); err != nil {
		return s, err
	}
	if st != nil {
		s.pairs, s.lat = st.counts()
	}
	return s, nil
}

// measure samples the primary a (and the stream st, nil before it) before
// and after d and returns the load between.
func (r *run) measure(a *member, st *stream, d time.Duration) (Load, error) {
	s0, err := r.look(a, st)
	if err != nil {
		return Load{}, err
	}
	select {
	case <-time.After(d):
	case <-r.ctx.Done():
		return Load{}, r.ctx.Err()
	}
	s1, err := r.look(a, st)
	if err != nil {
		return Load{}, err
	}
	var lat []time.Duration
	if st != nil {
		lat = st.latencies()
	}
	return between(s0, s1, lat, pauseMean(a)), nil
}

// between returns the load from s0 to s1; lat are the stream's latencies.
func between(s0, s1 sample, lat []time.Duration, pause float64) Load {
	l := Load{Span: s1.at.Sub(s0.at), Pairs: s1.pairs - s0.pairs, CPU: s1.cpu - s0.cpu, PauseMeanMs: pause,
		LogBytesByKind: map[string]float64{}}
	d := func(k string) float64 { return s1.metrics[k] - s0.metrics[k] }
	l.LogBytes = d("ftvm_log_bytes_total")
	l.Checkpoints = d("ftvm_checkpoints_total")
	l.PauseMaxMs = s1.metrics["ftvm_checkpoint_pause_max_seconds"] * 1000
	for k := range s1.metrics {
		if kind, ok := strings.CutPrefix(k, `ftvm_log_record_bytes_total{kind="`); ok {
			l.LogBytesByKind[strings.TrimSuffix(kind, `"}`)] = d(k)
		}
	}
	if lat = slices.Clone(lat[s0.lat:s1.lat]); len(lat) > 0 {
		slices.Sort(lat)
		l.P50, l.P99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return l
}

// pauseMean returns the mean pause per checkpoint the primary a last
// reported (its checkpoints event), 0 if none.
func pauseMean(a *member) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.seen) - 1; i >= 0; i-- {
		if a.seen[i].Kind == failover.EventCheckpoints {
			return a.seen[i].Millis
		}
	}
	return 0
}

// cpuTime returns the user and system CPU time of process pid
// (/proc/PID/stat, in USER_HZ ticks of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// scrape fetches the Prometheus metrics at addr from the client's
// namespace and returns the ftvm samples by name (with labels).
func (r *run) scrape(addr string) (map[string]float64, error) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, a string) (net.Conn, error) {
		return r.lab.Dial(netlab.Client, a, 2*time.Second)
	}}
	defer tr.CloseIdleConnections()
	return metrics.ScrapeWith(r.ctx, &http.Client{Transport: tr, Timeout: 10 * time.Second}, addr)
}
