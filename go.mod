module ftvm

go 1.26.8

require (
	github.com/google/gopacket v1.1.19
	github.com/quic-go/quic-go v0.65.0
	golang.org/x/arch v0.32.0
	golang.org/x/sys v0.49.0
)

require (
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/net v0.56.0 // indirect
)
