package cpu

// sseFloatEncodings lists the SSE floating-point encodings: arithmetic,
// compares, conversions, rounding, dot products (sse_float*.go).
var sseFloatEncodings = []sseEnc{}
