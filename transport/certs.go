package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ALPN is the application protocol both ends of an ftvm connection must
// negotiate; a peer speaking anything else fails the TLS handshake.
const ALPN = "ftvm/1"

// The files of a certificate directory (ftvm certs DIR).
const (
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key"
	NodeCertFile = "node.crt"
	NodeKeyFile  = "node.key"
)

// certValidity is how long generated certificates are valid.
const certValidity = 10 * 365 * 24 * time.Hour

// GenerateCerts writes a new certificate authority (ca.crt, ca.key) and a
// node certificate signed by it (node.crt, node.key) into dir, which must
// exist. Keys are ECDSA P-256 in PKCS#8 PEM, written with mode 0600;
// certificates are PEM, mode 0644. The node certificate serves both as a
// TLS server and a TLS client certificate, with the names localhost,
// 127.0.0.1, ::1 and the host name. It refuses to overwrite any existing
// file and leaves nothing behind when it fails.
//
// A pair shares the directory: generate it once and copy it to both hosts.
// Only ca.crt, node.crt and node.key are needed to run; ca.key is needed
// only to sign further certificates.
func GenerateCerts(dir string) (err error) {
	names := []string{CACertFile, CAKeyFile, NodeCertFile, NodeKeyFile}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("transport: %s already exists; refusing to overwrite it", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("transport: %v", err)
		}
	}

	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ftvm pair CA", Organization: []string{"ftvm"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	caKey, caKeyDER, caDER, err := issue(caTmpl, nil, nil)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	dnsNames := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		dnsNames = append(dnsNames, h)
	}
	nodeTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "ftvm node", Organization: []string{"ftvm"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dnsNames,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	_, nodeKeyDER, nodeDER, err := issue(nodeTmpl, caCert, caKey)
	if err != nil {
		return err
	}

	files := []struct {
		name  string
		mode  fs.FileMode
		block *pem.Block
	}{
		{CACertFile, 0o644, &pem.Block{Type: "CERTIFICATE", Bytes: caDER}},
		{CAKeyFile, 0o600, &pem.Block{Type: "PRIVATE KEY", Bytes: caKeyDER}},
		{NodeCertFile, 0o644, &pem.Block{Type: "CERTIFICATE", Bytes: nodeDER}},
		{NodeKeyFile, 0o600, &pem.Block{Type: "PRIVATE KEY", Bytes: nodeKeyDER}},
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeExclusive(p, f.mode, pem.EncodeToMemory(f.block)); err != nil {
			if !errors.Is(err, fs.ErrExist) {
				written = append(written, p) // may be partially written
			}
			return fmt.Errorf("transport: %v", err)
		}
		written = append(written, p)
	}
	return nil
}

// issue makes a new P-256 key and a certificate for it from tmpl, signed by
// parent with signer (self-signed where parent is nil). It returns the key,
// the key in PKCS#8 DER and the certificate in DER.
func issue(tmpl, parent *x509.Certificate, signer *ecdsa.PrivateKey) (key *ecdsa.PrivateKey, keyDER, certDER []byte, err error) {
	if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, nil, nil, err
	}
	if parent == nil {
		parent, signer = tmpl, key
	}
	if certDER, err = x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer); err != nil {
		return nil, nil, nil, err
	}
	if keyDER, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
		return nil, nil, nil, err
	}
	return key, keyDER, certDER, nil
}

// writeExclusive creates path (failing if it exists) with mode and data.
func writeExclusive(path string, mode fs.FileMode, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	// The umask may have narrowed the mode; never widen a key's mode, but
	// make sure it is exactly what was asked for.
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

// TLSConfig holds the TLS configurations of one node: Server for the
// listening side (Listen), Client for the dialing side (Dial, QueryStatus).
// Both present the node certificate and require the peer's certificate to
// be signed by the pair's CA; TLS 1.3 only; ALPN "ftvm/1".
type TLSConfig struct {
	Server *tls.Config
	Client *tls.Config
	// CA is the pool holding the pair's CA certificate.
	CA *x509.CertPool
	// Cert is the node certificate and key.
	Cert tls.Certificate
}

// LoadTLS reads ca.crt, node.crt and node.key from dir and builds the
// configurations. It fails if the node certificate is not signed by ca.crt.
//
// Peer identity is "holds a certificate signed by the pair's CA": the
// server uses tls.RequireAndVerifyClientCert against ca.crt; the client
// verifies the server's chain against ca.crt (RootCAs) but not the host
// name, because both hosts share one node certificate, so the address a
// backup dials (any IP of the primary) need not be among its names.
func LoadTLS(dir string) (*TLSConfig, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("transport: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("transport: %s: no PEM certificate", filepath.Join(dir, CACertFile))
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, NodeCertFile), filepath.Join(dir, NodeKeyFile))
	if err != nil {
		return nil, fmt.Errorf("transport: %s/%s: %v", dir, NodeCertFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("transport: %s: %v", filepath.Join(dir, NodeCertFile), err)
	}
	cert.Leaf = leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("transport: %s is not valid under %s: %v", filepath.Join(dir, NodeCertFile), filepath.Join(dir, CACertFile), err)
	}
	return NewTLSConfig(cert, pool), nil
}

// NewTLSConfig builds the configurations for a node certificate and a CA
// pool (LoadTLS does this for a certificate directory).
func NewTLSConfig(cert tls.Certificate, ca *x509.CertPool) *TLSConfig {
	var certs []tls.Certificate
	if len(cert.Certificate) > 0 {
		certs = []tls.Certificate{cert}
	}
	server := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: certs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca,
		NextProtos:   []string{ALPN},
	}
	client := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: certs,
		RootCAs:      ca,
		NextProtos:   []string{ALPN},
		// The standard verification would also match the dialed name
		// against the certificate's names; VerifyConnection below does the
		// chain verification against RootCAs without it (see LoadTLS). The
		// handshake still proves the peer holds the certificate's key.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChain(cs, ca, x509.ExtKeyUsageServerAuth)
		},
	}
	return &TLSConfig{Server: server, Client: client, CA: ca, Cert: cert}
}

// verifyChain checks that the peer's certificate chains to ca.
func verifyChain(cs tls.ConnectionState, ca *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("transport: peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         ca,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	if err != nil {
		return fmt.Errorf("transport: peer certificate is not from this pair's CA: %v", err)
	}
	return nil
}
