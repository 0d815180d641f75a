package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Padding batches to fixed sizes: ONNX Runtime only ever sees the listed batch sizes, and the
 * caller gets exactly the scores it would get without padding.
 */
class PaddingTest {

    private static final int[] SIZES = {1, 8, 32, 128, 256};

    /** Batch sizes around every padding boundary, and above the largest size. */
    private static final int[] BATCHES = {1, 2, 7, 8, 9, 31, 33, 127, 129, 255, 256, 257, 600};

    @AfterEach
    void nothingLeftOpen() {
        assertThat(OnnxModel.openSessions()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"bundled:gbdt", "bundled:mlp"})
    void paddedBatchesScoreAsUnpaddedBatchesDo(String location) throws Exception {
        try (OnnxModel plain = OnnxModel.open(location, OnnxOptions.DEFAULT);
                OnnxModel padded =
                        OnnxModel.open(location, OnnxOptions.DEFAULT.withPadToSizes(SIZES))) {
            for (int n : BATCHES) {
                float[][] rows = randomRows(n, plain.featureCount(), n);
                float[] expected = plain.score(rows);
                float[] actual = padded.score(rows);
                assertThat(actual).as("batch of %s", n).hasSize(n);
                for (int i = 0; i < n; i++) {
                    assertThat(actual[i])
                            .as("batch of %s, row %s", n, i)
                            .isCloseTo(expected[i], org.assertj.core.data.Offset.offset(1e-6f));
                }
            }
        }
    }

    @Test
    void aModelWithAStaticBatchShapeScoresSmallerBatchesOnlyWhenPadded() throws Exception {
        String location = fixture("fails-unless-8-rows");
        float[][] three = randomRows(3, 18, 1);
        float[][] eight = new float[8][];
        System.arraycopy(three, 0, eight, 0, 3);
        for (int i = 3; i < 8; i++) {
            eight[i] = new float[18];
        }
        try (OnnxModel plain = OnnxModel.open(location, OnnxOptions.DEFAULT);
                OnnxModel padded =
                        OnnxModel.open(location, OnnxOptions.DEFAULT.withPadToSizes(8))) {
            assertThatThrownBy(() -> plain.score(three))
                    .isInstanceOf(OrtException.class)
                    .hasMessageContaining("requested shape:{8,18}");
            float[] full = plain.score(eight);
            assertThat(padded.score(three)).containsExactly(full[0], full[1], full[2]);
        }
    }

    @Test
    void aBatchLargerThanTheLargestSizeIsScoredInCallsOfThatSize() throws Exception {
        String location = fixture("fails-unless-8-rows");
        float[][] rows = randomRows(21, 18, 2);
        try (OnnxModel padded = OnnxModel.open(location, OnnxOptions.DEFAULT.withPadToSizes(8))) {
            float[] scores = padded.score(rows);
            assertThat(scores).hasSize(21);
            for (int i = 0; i < 21; i++) {
                assertThat(scores[i]).as("row %s", i).isEqualTo(padded.score(eight(rows[i]))[0]);
            }
        }
    }

    @Test
    void inputBuffersHoldThePaddedBatchAndPaddingRowsAreZeroed() throws Exception {
        OnnxOptions options = OnnxOptions.DEFAULT.withPadToSizes(SIZES);
        try (OnnxModel model = OnnxModel.open("bundled:mlp", options)) {
            int columns = model.featureCount();
            assertThat(model.newInputBuffer(9).capacity()).isEqualTo(32 * columns);
            assertThat(model.newInputBuffer(256).capacity()).isEqualTo(256 * columns);
            assertThat(model.newInputBuffer(300).capacity()).isEqualTo(512 * columns);

            FloatBuffer buffer = model.newInputBuffer(9);
            while (buffer.hasRemaining()) {
                buffer.put(Float.NaN); // stale rows from an earlier, larger batch
            }
            for (int i = 0; i < 9 * columns; i++) {
                buffer.put(i, 0.5f);
            }
            float[] out = new float[9];
            model.score(buffer, 9, out);
            assertThat(out).doesNotContain(Float.NaN);
            for (int i = 9 * columns; i < 32 * columns; i++) {
                assertThat(buffer.get(i)).as("padding float %s", i).isZero();
            }

            FloatBuffer unpaddedSize =
                    ByteBuffer.allocateDirect(9 * columns * Float.BYTES)
                            .order(ByteOrder.nativeOrder())
                            .asFloatBuffer();
            assertThatThrownBy(() -> model.score(unpaddedSize, 9, out))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("32 (n padded) * 18 floats of input");
        }
    }

    private static float[][] eight(float[] row) {
        float[][] rows = new float[8][];
        rows[0] = row;
        for (int i = 1; i < 8; i++) {
            rows[i] = new float[row.length];
        }
        return rows;
    }

    /** Rows in the models' feature ranges: small logs, counts and flags. */
    static float[][] randomRows(int n, int columns, long seed) {
        Random random = new Random(seed);
        float[][] rows = new float[n][columns];
        for (float[] row : rows) {
            for (int c = 0; c < columns; c++) {
                row[c] = (float) (random.nextGaussian() * 2);
            }
        }
        return rows;
    }

    static String fixture(String name) {
        try {
            return Path.of(PaddingTest.class.getResource("/fixture-model/" + name).toURI())
                    .toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
