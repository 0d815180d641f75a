package dev.streamscore.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link ModelCeilingRunner} runs JMH in this JVM and turns batches/s into rows/s. Checks only that
 * a number comes out and what it is labelled with: benchmarks never gate on a time.
 */
class ModelCeilingRunnerTest {

    private static final Duration SHORT = Duration.ofMillis(200);

    @Test
    void measuresTheGbdtAtBatchEightInThisJvmAndLeavesNoSessionOpen() {
        int sessionsBefore = OnnxModel.openSessions();
        ByteArrayOutputStream progress = new ByteArrayOutputStream();

        List<BenchResults.ModelCeiling> ceilings =
                ModelCeilingRunner.measure(
                        List.of("gbdt"),
                        List.of(8),
                        1,
                        1,
                        SHORT,
                        SHORT,
                        1,
                        new PrintStream(progress, true, StandardCharsets.UTF_8));

        System.out.print(progress.toString(StandardCharsets.UTF_8));
        assertThat(ceilings).hasSize(1);
        BenchResults.ModelCeiling gbdt = ceilings.get(0);
        System.out.printf("ModelCeilingRunnerTest: %s%n", gbdt);
        assertThat(gbdt.model()).isEqualTo("gbdt");
        assertThat(gbdt.batchSize()).isEqualTo(8);
        assertThat(gbdt.threads()).isEqualTo(1);
        assertThat(gbdt.rowsPerSecond()).isPositive().isFinite();
        assertThat(gbdt.errorRowsPerSecond()).as("no interval from one iteration").isNaN();
        assertThat(progress.toString(StandardCharsets.UTF_8))
                .contains("ModelThroughputBenchmark.scoreBatch");
        assertThat(OnnxModel.openSessions()).isEqualTo(sessionsBefore);
    }

    @Test
    void rowsAreFeaturesOfGeneratedTrafficWithFilledCardHistories() {
        float[][] rows = ModelThroughputBenchmark.featureRows(64);
        assertThat(rows).hasNumberOfRows(64);
        assertThat(List.of(rows)).allSatisfy(row -> assertThat(row).hasSize(CardFeatures.COUNT));
        int txnCount24h = CardFeatures.NAMES.indexOf("txn_count_24h");
        assertThat(List.of(rows)).anySatisfy(row -> assertThat(row[txnCount24h]).isPositive());
        assertThat(ModelThroughputBenchmark.featureRows(64)).isDeepEqualTo(rows);
    }

    @Test
    void rejectsABatchSizeBelowOneBeforeStartingJmh() {
        assertThatThrownBy(
                        () ->
                                ModelCeilingRunner.measure(
                                        List.of("gbdt"), List.of(0), 1, 1, SHORT, SHORT, 1, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("batch sizes must be positive, got [0]");
    }
}
