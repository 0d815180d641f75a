package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Many open / score / close cycles leave no session open and no native memory behind: the process's
 * resident memory over 200 cycles (80 000 model calls) stays within a bound of what it was after
 * 200 warm-up cycles. Measured on the 2-core build machine (see models/README.md): 14 to 21 MB of
 * growth, all of it outside what the JVM accounts for (glibc's heap settling under ONNX Runtime's
 * allocations; it levels off after a few hundred cycles). What leaks cost here, also measured:
 * tensors and results never closed, about 100 MB; sessions never closed (about 1.1 MB per GBDT
 * session), about 260 MB. Both blow the bound.
 */
class OnnxModelLeakTest {

    private static final int WARM_UP_CYCLES = 200;
    private static final int CYCLES = 200;
    private static final int ROWS = 256;

    /** Small batches per model and cycle, so leaked per-call objects add up. */
    private static final int SMALL_CALLS_PER_CYCLE = 200;

    /** Allowed growth of resident memory over the measured cycles. */
    private static final long MAX_GROWTH_KB = 50 * 1024;

    @Test
    void manyOpenScoreCloseCyclesLeaveNoSessionAndNoNativeMemoryBehind() throws Exception {
        float[][] rows = PaddingTest.randomRows(ROWS, 18, 7);
        FloatBuffer input = null;
        float[] out = new float[ROWS];

        for (int i = 0; i < WARM_UP_CYCLES; i++) {
            input = cycle(i, rows, input, out);
        }
        long before = residentKb();
        for (int i = 0; i < CYCLES; i++) {
            input = cycle(i, rows, input, out);
        }
        long after = residentKb();

        System.out.printf(
                "OnnxModelLeakTest: VmRSS %d kB after %d warm-up cycles, %d kB after %d more;"
                        + " growth %d kB (bound %d kB)%n",
                before, WARM_UP_CYCLES, after, CYCLES, after - before, MAX_GROWTH_KB);
        assertThat(OnnxModel.openSessions()).isZero();
        assertThat(after - before).as("VmRSS growth in kB").isLessThan(MAX_GROWTH_KB);
    }

    /**
     * Opens both bundled models (the MLP padded, so padding's extra rows and calls are exercised),
     * scores {@link #SMALL_CALLS_PER_CYCLE} batches of 1 to 8 rows and one of {@link #ROWS} with
     * each, and closes them; one input buffer serves every cycle.
     */
    private static FloatBuffer cycle(int i, float[][] rows, FloatBuffer input, float[] out)
            throws Exception {
        OnnxOptions padded = OnnxOptions.DEFAULT.withPadToSizes(1, 8, 32, 128);
        try (OnnxModel gbdt = OnnxModel.open("bundled:gbdt", OnnxOptions.DEFAULT);
                OnnxModel mlp = OnnxModel.open("bundled:mlp", padded)) {
            if (input == null) {
                input = mlp.newInputBuffer(ROWS);
            }
            for (int call = 0; call <= SMALL_CALLS_PER_CYCLE; call++) {
                int n = call == SMALL_CALLS_PER_CYCLE ? ROWS : 1 + (i + call) % 8;
                for (int r = 0; r < ROWS; r++) {
                    input.put(r * 18, rows[r]); // padding zeroes the rows after n
                }
                gbdt.score(input, n, out);
                mlp.score(input, n, out);
            }
            assertThat(OnnxModel.openSessions()).isEqualTo(2);
        }
        return input;
    }

    /** Resident memory of this process, after a GC so the Java heap's garbage does not count. */
    private static long residentKb() throws IOException, InterruptedException {
        System.gc();
        Thread.sleep(200);
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("/proc/self/status has no VmRSS line");
    }
}
