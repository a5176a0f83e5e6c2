package netlab

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"ftvm/internal/syncbuf"
)

// EtcdConfig says how to run an etcd server.
type EtcdConfig struct {
	DataDir    string   // a fresh directory for its data
	TLSDir     string   // if set (ftvm certs DIR): serve node.crt, require client certificates signed by ca.crt
	ClientAddr string   // host:port for clients
	PeerAddr   string   // host:port for peers
	Wrap       []string // if set, the command that runs etcd (Lab.Wrap: in a namespace)
}

// Etcd is a running single-member etcd server (Debian's etcd-server).
type Etcd struct {
	URL    string // the client URL
	cmd    *exec.Cmd
	cancel context.CancelFunc
	exited chan struct{} // closed when the process ended
	log    syncbuf.Buffer
}

// etcdReady is how long StartEtcd waits for the server to serve clients.
const etcdReady = 20 * time.Second

// StartEtcd starts an etcd server and waits until it serves clients.
func StartEtcd(c EtcdConfig) (*Etcd, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, fmt.Errorf("%v (install etcd-server: make deps)", err)
	}
	scheme := "http"
	if c.TLSDir != "" {
		scheme = "https"
	}
	client := fmt.Sprintf("%s://%s", scheme, c.ClientAddr)
	peer := "http://" + c.PeerAddr
	args := []string{"--name", "ftvm", "--data-dir", c.DataDir,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "ftvm=" + peer, "--logger", "zap", "--log-outputs", "stderr"}
	if c.TLSDir != "" {
		args = append(args, "--client-cert-auth", "--trusted-ca-file", filepath.Join(c.TLSDir, "ca.crt"),
			"--cert-file", filepath.Join(c.TLSDir, "node.crt"), "--key-file", filepath.Join(c.TLSDir, "node.key"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	argv := append(append(c.Wrap[:len(c.Wrap):len(c.Wrap)], bin), args...)
	e := &Etcd{URL: client, cancel: cancel}
	e.cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	e.cmd.Stderr = &e.log
	if err := e.cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("etcd: %v", err)
	}
	exited := make(chan struct{})
	go func() { e.cmd.Wait(); close(exited) }()
	for deadline := time.Now().Add(etcdReady); !strings.Contains(e.log.String(), "serving client traffic"); {
		select {
		case <-exited:
			cancel()
			return nil, fmt.Errorf("etcd ended before serving clients:\n%s", e.log.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-exited
			return nil, fmt.Errorf("etcd did not serve clients within %v:\n%s", etcdReady, e.log.String())
		}
	}
	e.exited = exited
	return e, nil
}

// Close stops the server.
func (e *Etcd) Close() {
	e.cancel()
	<-e.exited
}
