// Package metrics serves a run's figures to Prometheus
// (github.com/prometheus/client_golang): position and speed, the pair's
// lag, log traffic, held outputs, generation, failovers and join pauses.
package metrics

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ftvm/failover"
)

// Sample is a side's state at one moment: what `ftvm status` reports (§5).
type Sample struct {
	Role               string   `json:"role"`
	Generation         uint64   `json:"generation"`
	Position           uint64   `json:"position"`
	BackupPosition     *uint64  `json:"backup_position"`
	LagInstructions    int64    `json:"lag_instructions"`
	LogBytes           uint64   `json:"log_bytes"`
	OutputsHeld        int      `json:"outputs_held"`
	OldestHeldPosition uint64   `json:"oldest_held_position"`
	FramesDropped      uint64   `json:"frames_dropped"`
	RTTMillis          *float64 `json:"rtt_ms"`
	Mode               string   `json:"mode"`
	Checkpoints        *uint64  `json:"checkpoints"`
	CheckpointBytes    uint64   `json:"checkpoint_bytes"`
	CheckpointPauseMs  float64  `json:"checkpoint_pause_ms"`
	CheckpointMaxMs    float64  `json:"checkpoint_pause_max_ms"`
	// LogBytesByKind is the bytes of the records logged, by record kind
	// (a recording run, a primary's stream).
	LogBytesByKind map[string]uint64 `json:"-"`
}

// FromStatus returns a Sample source reading a pair member's status JSON.
func FromStatus(status func() []byte) func() Sample {
	return func() Sample {
		var s Sample
		json.Unmarshal(status(), &s) // our own encoding: cannot fail
		return s
	}
}

// Metrics collects a side's figures at each scrape from its sample source,
// and counts the events it is given.
type Metrics struct {
	reg *prometheus.Registry

	mu sync.Mutex // guards the fields below
	// sample is the state source Serve was given.
	sample func() Sample
	// lastPos and lastAt are the position and time the rate was last
	// measured from; ips the instructions per second then.
	lastPos uint64
	lastAt  time.Time
	ips     float64

	// srv is the HTTP server Serve started.
	srv *http.Server

	failovers  prometheus.Counter
	joins      prometheus.Counter
	joinPause  prometheus.Histogram
	joinBytes  prometheus.Counter
	joinRounds prometheus.Counter
	eventsSeen *prometheus.CounterVec
}

var (
	descRole      = desc("ftvm_role", "The side's role (1 for the role it has).", "role")
	descGen       = desc("ftvm_generation", "The pair's generation (one more at each failover).")
	descPos       = desc("ftvm_retired_instructions_total", "The position: instructions the guest retired since boot.")
	descIPS       = desc("ftvm_instructions_per_second", "Instructions retired per second, measured between scrapes at least half a second apart.")
	descLag       = desc("ftvm_lag_instructions", "How far the backup's replay is behind the primary, in instructions.")
	descLagS      = desc("ftvm_lag_seconds", "The backup's lag in seconds of the primary's execution at its current speed.")
	descLogBytes  = desc("ftvm_log_bytes_total", "Bytes of log records sent to the backup.")
	descHeld      = desc("ftvm_outputs_held", "External outputs held until the backup acknowledges the records before them.")
	descHeldAge   = desc("ftvm_outputs_held_age_instructions", "Instructions since the oldest held output was produced.")
	descHeldAgeS  = desc("ftvm_outputs_held_age_seconds", "Age of the oldest held output, in seconds at the current speed.")
	descKindBytes = desc("ftvm_log_record_bytes_total", "Bytes of log records written (recording) or streamed since the backup joined, by record kind.", "kind")
	descRTT       = desc("ftvm_heartbeat_rtt_seconds", "Round-trip time of the link to the peer that carries heartbeats, records and acknowledgements.")
	descMode      = desc("ftvm_mode", "The pair's replication mode (1 for the mode it runs).", "mode")
	descCkpts     = desc("ftvm_checkpoints_total", "Checkpoints taken (checkpoint modes).")
	descCkptBytes = desc("ftvm_checkpoint_bytes_total", "Bytes of checkpoints sent (checkpoint modes).")
	descCkptPause = desc("ftvm_checkpoint_pause_seconds", "How long the guest paused for the last checkpoint.")
	descCkptMax   = desc("ftvm_checkpoint_pause_max_seconds", "The longest checkpoint pause so far.")
	descDropped   = desc("ftvm_frames_dropped_total", "Received frames dropped because the guest did not take them.")
)

// descs lists every descriptor desc made, for Describe.
var descs []*prometheus.Desc

// desc describes the metric name with help and the variable labels, and
// lists it in descs. Call it only to declare the package's descriptors.
func desc(name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc(name, help, labels, nil)
	descs = append(descs, d)
	return d
}

// minRateWindow is the shortest time instructions per second are measured
// over: scrapes closer together report the last rate.
const minRateWindow = 0.5

// New returns a side's metrics; they count events at once and are served
// once Serve is given the side's state.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.failovers = prometheus.NewCounter(prometheus.CounterOpts{Name: "ftvm_failovers_total", Help: "Times this side went live after losing its primary."})
	m.joins = prometheus.NewCounter(prometheus.CounterOpts{Name: "ftvm_joins_total", Help: "Backups that joined this primary."})
	m.joinPause = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ftvm_join_pause_seconds", Help: "How long the guest paused for the final section of a backup's join (the pre-copy rounds run with the guest).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)})
	m.joinBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "ftvm_join_bytes_total", Help: "Bytes of machine state sent to joining backups (pre-copy rounds and final sections)."})
	m.joinRounds = prometheus.NewCounter(prometheus.CounterOpts{Name: "ftvm_join_rounds_total", Help: "Pre-copy rounds of the backups that joined this primary."})
	m.eventsSeen = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ftvm_events_total", Help: "Events of this side, by kind."}, []string{"event"})
	m.reg.MustRegister(m, m.failovers, m.joins, m.joinPause, m.joinBytes, m.joinRounds, m.eventsSeen)
	return m
}

// Event counts a pair member's event (failover.Options.OnEvent).
func (m *Metrics) Event(e failover.Event) {
	m.eventsSeen.WithLabelValues(string(e.Kind)).Inc()
	switch e.Kind {
	case failover.EventWentLive:
		m.failovers.Inc()
	case failover.EventBackupJoined:
		m.joins.Inc()
		m.joinPause.Observe(e.Millis / 1000)
		m.joinBytes.Add(float64(e.Bytes))
		m.joinRounds.Add(float64(e.Rounds))
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one sample per scrape.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	sample := m.sample
	m.mu.Unlock()
	if sample == nil {
		return
	}
	s := sample()
	now := time.Now()
	m.mu.Lock()
	switch dt := now.Sub(m.lastAt).Seconds(); {
	case m.lastAt.IsZero() || s.Position < m.lastPos:
		m.lastPos, m.lastAt = s.Position, now
	case dt >= minRateWindow:
		m.ips = float64(s.Position-m.lastPos) / dt
		m.lastPos, m.lastAt = s.Position, now
	}
	ips := m.ips
	m.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(descRole, 1, s.Role)
	gauge(descGen, float64(s.Generation))
	counter(descPos, float64(s.Position))
	gauge(descIPS, ips)
	seconds := func(insns float64) float64 {
		if ips == 0 {
			return 0
		}
		return insns / ips
	}
	if s.BackupPosition != nil {
		gauge(descLag, float64(s.LagInstructions))
		gauge(descLagS, seconds(float64(s.LagInstructions)))
		counter(descLogBytes, float64(s.LogBytes))
	}
	gauge(descHeld, float64(s.OutputsHeld))
	var age float64
	if s.OutputsHeld > 0 && s.Position > s.OldestHeldPosition {
		age = float64(s.Position - s.OldestHeldPosition)
	}
	gauge(descHeldAge, age)
	gauge(descHeldAgeS, seconds(age))
	counter(descDropped, float64(s.FramesDropped))
	if s.Mode != "" {
		gauge(descMode, 1, s.Mode)
	}
	if s.Checkpoints != nil {
		counter(descCkpts, float64(*s.Checkpoints))
		counter(descCkptBytes, float64(s.CheckpointBytes))
		gauge(descCkptPause, s.CheckpointPauseMs/1000)
		gauge(descCkptMax, s.CheckpointMaxMs/1000)
	}
	if s.RTTMillis != nil {
		gauge(descRTT, *s.RTTMillis/1000)
	}
	for kind, n := range s.LogBytesByKind {
		ch <- prometheus.MustNewConstMetric(descKindBytes, prometheus.CounterValue, float64(n), kind)
	}
}

// Serve serves the metrics at /metrics on addr until Close, with the
// side's state from sample; it returns the address it listens on.
func (m *Metrics) Serve(addr string, sample func() Sample) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	m.mu.Lock()
	m.srv, m.sample = srv, sample
	m.mu.Unlock()
	return ln.Addr(), nil
}

// Close stops serving.
func (m *Metrics) Close() error {
	m.mu.Lock()
	srv := m.srv
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}
