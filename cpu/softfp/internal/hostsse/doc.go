// Package hostsse runs single SSE instructions on the host CPU under a chosen
// MXCSR: the oracle the soft-float tests compare against. Only for tests, and
// only for architecturally defined results.
package hostsse

//go:generate go run gen.go
