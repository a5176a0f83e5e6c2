package cpu

// sseFloatEncodings lists the SSE floating-point encodings: arithmetic,
// compares, conversions, rounding, dot products (sse_float.go). The MMX
// conversions (0F 2A/2C/2D without a prefix or with 66) are not implemented:
// MMX is not advertised.
var sseFloatEncodings = []sseEnc{
	{0x12A, mpF3, x(OpCVTSI2SS, formVW, 0)}, {0x12A, mpF2, x(OpCVTSI2SD, formVW, 0)},
	{0x12C, mpF3, x(OpCVTTSS2SI, formVW, 0)}, {0x12C, mpF2, x(OpCVTTSD2SI, formVW, 0)},
	{0x12D, mpF3, x(OpCVTSS2SI, formVW, 0)}, {0x12D, mpF2, x(OpCVTSD2SI, formVW, 0)},
	{0x12E, mpNone, x(OpUCOMISS, formVW, 0)}, {0x12E, mp66, x(OpUCOMISD, formVW, 0)},
	{0x12F, mpNone, x(OpCOMISS, formVW, 0)}, {0x12F, mp66, x(OpCOMISD, formVW, 0)},

	{0x151, mpNone, x(OpSQRTPS, formVW, 0)}, {0x151, mp66, x(OpSQRTPD, formVW, 0)},
	{0x151, mpF3, x(OpSQRTSS, formVW, 0)}, {0x151, mpF2, x(OpSQRTSD, formVW, 0)},
	{0x152, mpNone, x(OpRSQRTPS, formVW, 0)}, {0x152, mpF3, x(OpRSQRTSS, formVW, 0)},
	{0x153, mpNone, x(OpRCPPS, formVW, 0)}, {0x153, mpF3, x(OpRCPSS, formVW, 0)},
	{0x158, mpNone, x(OpADDPS, formVW, 0)}, {0x158, mp66, x(OpADDPD, formVW, 0)},
	{0x158, mpF3, x(OpADDSS, formVW, 0)}, {0x158, mpF2, x(OpADDSD, formVW, 0)},
	{0x159, mpNone, x(OpMULPS, formVW, 0)}, {0x159, mp66, x(OpMULPD, formVW, 0)},
	{0x159, mpF3, x(OpMULSS, formVW, 0)}, {0x159, mpF2, x(OpMULSD, formVW, 0)},
	{0x15A, mpNone, x(OpCVTPS2PD, formVW, 0)}, {0x15A, mp66, x(OpCVTPD2PS, formVW, 0)},
	{0x15A, mpF3, x(OpCVTSS2SD, formVW, 0)}, {0x15A, mpF2, x(OpCVTSD2SS, formVW, 0)},
	{0x15B, mpNone, x(OpCVTDQ2PS, formVW, 0)}, {0x15B, mp66, x(OpCVTPS2DQ, formVW, 0)},
	{0x15B, mpF3, x(OpCVTTPS2DQ, formVW, 0)},
	{0x15C, mpNone, x(OpSUBPS, formVW, 0)}, {0x15C, mp66, x(OpSUBPD, formVW, 0)},
	{0x15C, mpF3, x(OpSUBSS, formVW, 0)}, {0x15C, mpF2, x(OpSUBSD, formVW, 0)},
	{0x15D, mpNone, x(OpMINPS, formVW, 0)}, {0x15D, mp66, x(OpMINPD, formVW, 0)},
	{0x15D, mpF3, x(OpMINSS, formVW, 0)}, {0x15D, mpF2, x(OpMINSD, formVW, 0)},
	{0x15E, mpNone, x(OpDIVPS, formVW, 0)}, {0x15E, mp66, x(OpDIVPD, formVW, 0)},
	{0x15E, mpF3, x(OpDIVSS, formVW, 0)}, {0x15E, mpF2, x(OpDIVSD, formVW, 0)},
	{0x15F, mpNone, x(OpMAXPS, formVW, 0)}, {0x15F, mp66, x(OpMAXPD, formVW, 0)},
	{0x15F, mpF3, x(OpMAXSS, formVW, 0)}, {0x15F, mpF2, x(OpMAXSD, formVW, 0)},

	{0x17C, mp66, x(OpHADDPD, formVW, 0)}, {0x17C, mpF2, x(OpHADDPS, formVW, 0)},
	{0x17D, mp66, x(OpHSUBPD, formVW, 0)}, {0x17D, mpF2, x(OpHSUBPS, formVW, 0)},
	{0x1C2, mpNone, x(OpCMPPS, formVWIb, 0)}, {0x1C2, mp66, x(OpCMPPD, formVWIb, 0)},
	{0x1C2, mpF3, x(OpCMPSS, formVWIb, 0)}, {0x1C2, mpF2, x(OpCMPSD_X, formVWIb, 0)},
	{0x1D0, mp66, x(OpADDSUBPD, formVW, 0)}, {0x1D0, mpF2, x(OpADDSUBPS, formVW, 0)},
	{0x1E6, mp66, x(OpCVTTPD2DQ, formVW, 0)}, {0x1E6, mpF3, x(OpCVTDQ2PD, formVW, 0)},
	{0x1E6, mpF2, x(OpCVTPD2DQ, formVW, 0)},

	{0x308, mp66, x(OpROUNDPS, formVWIb, 0)}, {0x309, mp66, x(OpROUNDPD, formVWIb, 0)},
	{0x30A, mp66, x(OpROUNDSS, formVWIb, 0)}, {0x30B, mp66, x(OpROUNDSD, formVWIb, 0)},
	{0x340, mp66, x(OpDPPS, formVWIb, 0)}, {0x341, mp66, x(OpDPPD, formVWIb, 0)},
}
