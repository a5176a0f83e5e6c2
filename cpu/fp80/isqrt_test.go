package fp80

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestIsqrt128 checks the integer square root against math/big on random
// and extreme radicands of 2^126 to 2^128 - 1.
func TestIsqrt128(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	cases := [][2]uint64{{1 << 62, 0}, {^uint64(0), ^uint64(0)}, {1 << 62, 1}, {0xFFFFFFFFFFFFFFFE, 1}}
	for range 20000 {
		cases = append(cases, [2]uint64{r.Uint64() | 1<<62, r.Uint64()})
	}
	for _, c := range cases {
		root, rh, rl := isqrt128(c[0], c[1])
		n := new(big.Int).Lsh(new(big.Int).SetUint64(c[0]), 64)
		n.Or(n, new(big.Int).SetUint64(c[1]))
		want := new(big.Int).Sqrt(n)
		rem := new(big.Int).Sub(n, new(big.Int).Mul(want, want))
		if want.Uint64() != root || new(big.Int).Rsh(rem, 64).Uint64() != rh || rem.Uint64() != rl {
			t.Fatalf("isqrt(%#x:%#x) = %#x rem %#x:%#x, want %#x rem %v", c[0], c[1], root, rh, rl, want, rem)
		}
	}
}
