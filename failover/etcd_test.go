package failover

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"ftvm/internal/testenv"
	"ftvm/transport"
)

// etcdArbiter parses spec (etcd:...) with tlsCfg and closes the arbiter
// when the test ends.
func etcdArbiter(t *testing.T, spec string, tlsCfg *tls.Config) *EtcdArbiter {
	t.Helper()
	arb, err := ParseArbiter(spec, tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	a := arb.(*EtcdArbiter)
	t.Cleanup(func() { a.Close() })
	return a
}

// Against a real etcd server, plain and with mutual TLS (the pair's
// certificates): racers each with its own client claim generations 1..5,
// exactly one wins each; Highest sees 5; a claim asked again by its owner
// (its reply lost) still wins and nobody else's does; under mutual TLS a
// client without a certificate gets no answer at all.
func TestEtcdArbiterOneWinnerPerGeneration(t *testing.T) {
	for _, mtls := range []bool{false, true} {
		t.Run(fmt.Sprintf("mtls=%v", mtls), func(t *testing.T) {
			var certDir string
			var cfg *tls.Config
			if mtls {
				certDir = t.TempDir()
				if err := transport.GenerateCerts(certDir); err != nil {
					t.Fatal(err)
				}
				c, err := transport.LoadTLS(certDir)
				if err != nil {
					t.Fatal(err)
				}
				cfg = c.Client
			}
			spec := "etcd:" + testenv.Etcd(t, certDir) + "/ftvm/test"
			racers := make([]Arbiter, 6)
			for i := range racers {
				racers[i] = etcdArbiter(t, spec, cfg)
			}
			if hi, err := racers[0].Highest(); err != nil || hi != 0 {
				t.Fatalf("Highest of an empty prefix = %d, %v; want 0", hi, err)
			}
			raceGenerations(t, racers, 5)
			for i, want := range []bool{true, true, false} {
				if won, err := racers[i/2].TestAndSet(6, "again"); err != nil || won != want {
					t.Errorf("claim %d of generation 6: %v, %v; want %v", i, won, err, want)
				}
			}
			if mtls {
				anon := cfg.Clone()
				anon.Certificates = nil
				if won, err := etcdArbiter(t, spec, anon).TestAndSet(7, "anonymous"); err == nil || won {
					t.Errorf("a client without a certificate: %v, %v; want an error", won, err)
				}
			}
		})
	}
}

// An etcd cut off answers nothing: the claim is neither won nor lost but
// ErrArbiterUnreachable, within about EtcdTimeout; once etcd is back the
// same arbiter wins.
func TestEtcdArbiterUnreachable(t *testing.T) {
	proxy := testenv.NewProxy(t, strings.TrimPrefix(testenv.Etcd(t, ""), "http://"))
	a := etcdArbiter(t, "etcd:http://"+proxy.Addr()+"/p", nil)
	proxy.Cut()
	start := time.Now()
	won, err := a.TestAndSet(1, "cut")
	if won || !errors.Is(err, ErrArbiterUnreachable) {
		t.Fatalf("TestAndSet cut off: %v, %v; want ErrArbiterUnreachable", won, err)
	}
	if d := time.Since(start); d > 3*EtcdTimeout {
		t.Errorf("the cut-off claim took %v", d)
	}
	if _, err := a.Highest(); !errors.Is(err, ErrArbiterUnreachable) {
		t.Errorf("Highest cut off: %v; want ErrArbiterUnreachable", err)
	}
	proxy.Restore()
	testenv.Poll(t, 10*time.Second, "the claim to win once etcd is back", func() bool {
		won, err := a.TestAndSet(1, "back")
		return won && err == nil
	})
}
