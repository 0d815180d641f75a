package dev.streamscore.tools.model.compress;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.platform.Fp16Conversions;
import org.junit.jupiter.api.Test;

/**
 * {@link HalfFloat} rounds floats to the nearest half, ties to even, through normals, subnormals,
 * overflow and NaN; checked against hand-worked bit patterns and against ONNX Runtime's own Java
 * conversion on millions of floats chosen around every rounding boundary.
 */
class HalfFloatTest {

    private static int half(float f) {
        return HalfFloat.fromFloat(f) & 0xffff;
    }

    @Test
    void convertsExactlyRepresentableValuesExactly() {
        assertThat(half(0f)).isEqualTo(0x0000);
        assertThat(half(-0f)).isEqualTo(0x8000);
        assertThat(half(1f)).isEqualTo(0x3c00);
        assertThat(half(-2f)).isEqualTo(0xc000);
        assertThat(half(0.5f)).isEqualTo(0x3800);
        assertThat(half(65504f)).isEqualTo(0x7bff); // the largest half
        assertThat(half(0x1p-14f)).isEqualTo(0x0400); // the smallest normal
        assertThat(half(0x1p-24f)).isEqualTo(0x0001); // the smallest subnormal
        assertThat(half(0x3ffp-24f)).isEqualTo(0x03ff); // the largest subnormal
    }

    @Test
    void roundsToNearestWithTiesToEven() {
        assertThat(half(0.1f)).isEqualTo(0x2e66); // 0.1f lies nearer 0x2e66 than 0x2e67
        // 1 + 2^-11 is halfway between 1 (even mantissa) and 1 + 2^-10: goes to 1.
        assertThat(half(1f + 0x1p-11f)).isEqualTo(0x3c00);
        // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even): goes up.
        assertThat(half(1f + 3 * 0x1p-11f)).isEqualTo(0x3c02);
        // Just above a tie rounds up; just below rounds down.
        assertThat(half(Math.nextUp(1f + 0x1p-11f))).isEqualTo(0x3c01);
        assertThat(half(Math.nextDown(1f + 3 * 0x1p-11f))).isEqualTo(0x3c01);
        // Rounding up the largest mantissa carries into the exponent: 2047/1024 -> 2.
        assertThat(half(2f - 0x1p-12f)).isEqualTo(0x4000);
    }

    @Test
    void overflowsToInfinityFrom65520AndKeepsInfinitiesAndNaN() {
        assertThat(half(65519.996f)).isEqualTo(0x7bff);
        assertThat(half(65520f)).isEqualTo(0x7c00); // a tie with an odd 65504: to infinity
        assertThat(half(-1e10f)).isEqualTo(0xfc00);
        assertThat(half(Float.POSITIVE_INFINITY)).isEqualTo(0x7c00);
        assertThat(half(Float.NEGATIVE_INFINITY)).isEqualTo(0xfc00);
        int nan = half(Float.NaN);
        assertThat(nan & 0x7c00).isEqualTo(0x7c00);
        assertThat(nan & 0x3ff).isNotZero();
        // A NaN whose payload lies only in the bits dropped stays NaN, not infinity.
        int lowPayloadNan = half(Float.intBitsToFloat(0x7f80_0001));
        assertThat(lowPayloadNan & 0x3ff).isNotZero();
    }

    @Test
    void roundsSubnormalsAndFlushesBelowHalfTheSmallestToSignedZero() {
        assertThat(half(0x1p-25f)).isEqualTo(0x0000); // a tie with 0 (even): to zero
        assertThat(half(Math.nextUp(0x1p-25f))).isEqualTo(0x0001);
        assertThat(half(-0x1p-26f)).isEqualTo(0x8000);
        assertThat(half(Float.MIN_VALUE)).isEqualTo(0x0000);
        assertThat(half(1.5f * 0x1p-24f)).isEqualTo(0x0002); // tie between 1 (odd) and 2
        assertThat(half(2.5f * 0x1p-24f)).isEqualTo(0x0002); // tie between 2 (even) and 3
        // Just under the smallest normal rounds up into it.
        assertThat(half(Math.nextDown(0x1p-14f))).isEqualTo(0x0400);
    }

    @Test
    void everyHalfSurvivesARoundTripThroughFloat() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloat.toFloat((short) h);
            if (Float.isNaN(f)) {
                assertThat((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0).isTrue();
                continue;
            }
            assertThat(half(f)).as("half %04x", h).isEqualTo(h);
            assertThat(Float.floatToRawIntBits(f))
                    .as("half %04x", h)
                    .isEqualTo(Float.floatToRawIntBits(Fp16Conversions.fp16ToFloat((short) h)));
        }
    }

    @Test
    void agreesWithOnnxRuntimesConversionAroundEveryRoundingBoundary() {
        // Every sign, exponent and kept mantissa (the top 19 bits), with the 13 dropped bits at
        // zero, just above zero, just below, at, and just above the halfway point, and at the top.
        int[] dropped = {0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x0800, 0x17ff};
        long checked = 0;
        for (int top = 0; top < (1 << 19); top++) {
            for (int low : dropped) {
                float f = Float.intBitsToFloat(top << 13 | low);
                if (Float.isNaN(f)) {
                    continue;
                }
                short expected = Fp16Conversions.floatToFp16(f);
                if (HalfFloat.fromFloat(f) != expected) {
                    assertThat(half(f)).as("float bits %08x", top << 13 | low).isEqualTo(expected);
                }
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(4_000_000);
    }
}
