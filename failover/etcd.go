package failover

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrArbiterUnreachable is wrapped by an arbiter's error when it could not
// get an answer (the arbiter is down or cut off): the claim neither won nor
// lost, and may be asked again.
var ErrArbiterUnreachable = errors.New("arbiter unreachable")

// EtcdTimeout bounds each request an EtcdArbiter makes.
const EtcdTimeout = time.Second

// EtcdArbiter is an arbiter for hosts without shared storage: generation g
// is the key PREFIX/gen/<g, 20 digits> of an etcd cluster, created by a
// transaction that puts it only if it does not exist yet (its create
// revision is 0). The value names the claimant and a token drawn when the
// arbiter is made, so a claim whose reply was lost and that is asked again
// recognizes its own key and still wins.
type EtcdArbiter struct {
	cli    *clientv3.Client // safe for concurrent use
	prefix string           // without a trailing slash
	token  string           // this process's claims carry it
}

// NewEtcdArbiter returns an arbiter on the etcd cluster at endpoints
// (http:// or https:// URLs) under prefix. tlsCfg (nil: none) is used for
// https endpoints: it presents a client certificate for mutual TLS. It
// does not connect yet: every request dials as needed.
func NewEtcdArbiter(endpoints []string, prefix string, tlsCfg *tls.Config) (*EtcdArbiter, error) {
	var tok [8]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints,
		TLS:       tlsCfg,
		Logger:    zap.NewNop(),
		// Reconnect soon after etcd is back: the default backoff grows to
		// two minutes, longer than a failover may wait.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: EtcdTimeout,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("arbiter: etcd: %w", err)
	}
	return &EtcdArbiter{cli: cli, prefix: strings.TrimRight(prefix, "/"),
		token: fmt.Sprintf("%s pid %d token %s", host, os.Getpid(), hex.EncodeToString(tok[:]))}, nil
}

// Close releases the connections to etcd.
func (a *EtcdArbiter) Close() error { return a.cli.Close() }

func (a *EtcdArbiter) dir() string { return a.prefix + "/gen/" }

func (a *EtcdArbiter) key(gen uint64) string { return fmt.Sprintf("%s%020d", a.dir(), gen) }

// TestAndSet implements Arbiter.
func (a *EtcdArbiter) TestAndSet(gen uint64, who string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), EtcdTimeout)
	defer cancel()
	k, v := a.key(gen), who+" "+a.token
	resp, err := a.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, v)).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return false, etcdError(err)
	}
	if resp.Succeeded {
		return true, nil
	}
	// Held already: by this very claim when an earlier attempt's reply was
	// lost, else by someone else.
	for _, r := range resp.Responses {
		if g := r.GetResponseRange(); g != nil && len(g.Kvs) == 1 {
			return string(g.Kvs[0].Value) == v, nil
		}
	}
	return false, nil
}

// Highest implements Arbiter.
func (a *EtcdArbiter) Highest() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), EtcdTimeout)
	defer cancel()
	resp, err := a.cli.Get(ctx, a.dir(), clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(1))
	if err != nil {
		return 0, etcdError(err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	k := string(resp.Kvs[0].Key)
	g, err := strconv.ParseUint(strings.TrimPrefix(k, a.dir()), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("arbiter: etcd key %q is not a generation", k)
	}
	return g, nil
}

// etcdError wraps err, with ErrArbiterUnreachable when etcd gave no answer.
func etcdError(err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return fmt.Errorf("arbiter: etcd: %w: %w", ErrArbiterUnreachable, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("arbiter: etcd: %w: %w", ErrArbiterUnreachable, err)
	}
	return fmt.Errorf("arbiter: etcd: %w", err)
}

// parseEtcd parses the part of --arbiter after "etcd:": URL[,URL...]/PREFIX,
// where PREFIX is the path of the last URL.
func parseEtcd(s string, tlsCfg *tls.Config) (Arbiter, error) {
	parts := strings.Split(s, ",")
	var endpoints []string
	prefix := ""
	secure := false
	for i, p := range parts {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%q is not an http:// or https:// URL", p)
		}
		if i < len(parts)-1 && u.Path != "" {
			return nil, fmt.Errorf("%q: only the last URL carries the /PREFIX", p)
		}
		if i == len(parts)-1 {
			prefix = strings.TrimRight(u.Path, "/")
		}
		secure = secure || u.Scheme == "https"
		endpoints = append(endpoints, u.Scheme+"://"+u.Host)
	}
	if prefix == "" {
		return nil, errors.New("no /PREFIX after the last URL")
	}
	var cfg *tls.Config
	if secure {
		if tlsCfg == nil {
			return nil, errors.New("https endpoints need --tls DIR (its certificate is presented to etcd)")
		}
		cfg = tlsCfg.Clone()
		cfg.NextProtos = nil // gRPC sets its own
	}
	return NewEtcdArbiter(endpoints, prefix, cfg)
}
