package media

import "math/bits"

// G.711 mu-law constants: the bias added to magnitudes before the segment
// search, and the largest magnitude that can be encoded without clipping.
const (
	ulawBias = 0x84
	ulawClip = 32635
)

// EncodePCMU encodes a frame as G.711 mu-law, one byte per sample.
func EncodePCMU(f Frame) []byte {
	return appendPCMU(make([]byte, 0, FrameSamples), &f)
}

// DecodePCMU decodes G.711 mu-law bytes into a frame. Shorter input leaves
// the rest of the frame silent; longer input is cut to one frame.
func DecodePCMU(b []byte) Frame {
	var f Frame
	for i, c := range b[:min(len(b), FrameSamples)] {
		f[i] = ulawDecode(c)
	}
	return f
}

// appendPCMU appends the mu-law encoding of f to dst.
func appendPCMU(dst []byte, f *Frame) []byte {
	for _, s := range f {
		dst = append(dst, ulawEncode(s))
	}
	return dst
}

// ulawEncode encodes one linear sample: sign, 3-bit segment and 4-bit
// mantissa of the biased magnitude, all bits inverted.
func ulawEncode(s int16) byte {
	v := int32(s)
	var sign byte
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias // now in [132, 32767]: the top bit is bit 7..14
	seg := bits.Len32(uint32(v)) - 8
	mant := byte(v>>(uint(seg)+3)) & 0x0f
	return ^(sign | byte(seg)<<4 | mant)
}

// ulawDecode decodes one mu-law byte to the middle of its quantisation
// interval.
func ulawDecode(b byte) int16 {
	b = ^b
	seg := uint(b>>4) & 0x07
	mag := (int32(b&0x0f)<<3 + ulawBias) << seg
	mag -= ulawBias
	if b&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}
