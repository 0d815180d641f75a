package dev.streamscore.tools.model.compress;

/**
 * IEEE 754 binary16 ("half", ONNX FLOAT16) conversion for Java 17, which lacks {@code
 * Float.floatToFloat16} (Java 20): round to nearest, ties to even; magnitudes from 65520 up become
 * infinity; results below 2^-14 become subnormal halves, and those at or below 2^-25 signed zero;
 * NaN stays NaN (quiet, keeping the top of its payload).
 *
 * <pre>{@code
 * short h = HalfFloat.fromFloat(0.1f); // 0x2E66
 * float f = HalfFloat.toFloat(h); // 0.099975586f
 * }</pre>
 */
public final class HalfFloat {

    /** The largest finite half, 65504. */
    public static final float MAX_VALUE = 65504f;

    /** The smallest positive normal half, 2^-14. */
    public static final float MIN_NORMAL = 0x1p-14f;

    private HalfFloat() {}

    /** The binary16 bits of the half nearest {@code value} (ties to even). */
    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fff_ffff;
        if (abs >= 0x7f80_0000) {
            // Infinity keeps its sign; NaN is made quiet (0x200) so a payload cut to 10 bits
            // cannot turn it into infinity.
            return (short) (sign | 0x7c00 | (abs > 0x7f80_0000 ? 0x200 | (abs >>> 13) & 0x3ff : 0));
        }
        if (abs >= 0x477f_f000) {
            return (short) (sign | 0x7c00); // 65520 and up: nearer infinity than 65504 (or a tie)
        }
        if (abs >= 0x3880_0000) {
            // A normal half: rebias the exponent, keep the top 10 mantissa bits, round on the 13
            // dropped ones. A carry out of the mantissa correctly bumps the exponent.
            int half = ((abs >>> 23) - 127 + 15) << 10 | (abs >>> 13) & 0x3ff;
            return (short) (sign | roundedUp(half, abs & 0x1fff, 13));
        }
        if (abs <= 0x3300_0000) {
            return (short) sign; // at most 2^-25, half the smallest subnormal: ties go to zero
        }
        // A subnormal half counts units of 2^-24: the float's 24-bit significand shifted right.
        int significand = (abs & 0x7f_ffff) | 0x80_0000;
        int shift = 126 - (abs >>> 23);
        return (short)
                (sign | roundedUp(significand >>> shift, significand & ((1 << shift) - 1), shift));
    }

    /** {@code kept} plus one when the {@code dropped} low {@code width} bits round it up. */
    private static int roundedUp(int kept, int dropped, int width) {
        int halfway = 1 << (width - 1);
        return dropped > halfway || (dropped == halfway && (kept & 1) == 1) ? kept + 1 : kept;
    }

    /** The float value of the binary16 bits {@code half} (exact: every half is a float). */
    public static float toFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f80_0000 | mantissa << 13);
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f; // exact: at most 10 significant bits
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | (exponent - 15 + 127) << 23 | mantissa << 13);
    }
}
