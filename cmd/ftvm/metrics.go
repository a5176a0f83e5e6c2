package main

import (
	"fmt"
	"os"

	"ftvm/failover"
	"ftvm/metrics"
)

// newMetrics returns the metrics --metrics asks for (nil for none).
func newMetrics(addr string) *metrics.Metrics {
	if addr == "" {
		return nil
	}
	return metrics.New()
}

// serveMetrics serves met (if any) on addr with the side's state from
// sample, and returns the function that stops it.
func serveMetrics(met *metrics.Metrics, addr string, sample func() metrics.Sample) (func(), error) {
	if met == nil {
		return func() {}, nil
	}
	a, err := met.Serve(addr, sample)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %v", err)
	}
	fmt.Fprintf(os.Stderr, "ftvm: metrics on http://%v/metrics\n", a)
	return func() { met.Close() }, nil
}

// eventSinks returns an OnEvent that writes ev and counts in met (if any).
func eventSinks(ev *eventLog, met *metrics.Metrics) func(failover.Event) {
	return func(e failover.Event) {
		ev.write(e)
		if met != nil {
			met.Event(e)
		}
	}
}
