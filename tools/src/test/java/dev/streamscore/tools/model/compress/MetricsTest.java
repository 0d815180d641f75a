package dev.streamscore.tools.model.compress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/**
 * {@link Metrics} gives scikit-learn's numbers: every expected value below was worked by hand and
 * agrees with {@code average_precision_score} and {@code roc_curve} of scikit-learn 1.2.1.
 */
class MetricsTest {

    private static final boolean F = false;
    private static final boolean T = true;

    @Test
    void averagePrecisionSumsPrecisionTimesRecallGainedAtEachThreshold() {
        // 0.9: P 1, R 1/2; 0.8: no recall gained; 0.7: P 2/3, R 1 -> 1/2 + 1/2 * 2/3.
        float[] scores = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
        boolean[] fraud = {T, F, T, F, F};
        assertThat(Metrics.averagePrecision(scores, fraud)).isCloseTo(5.0 / 6, within(1e-12));
    }

    @Test
    void tiedScoresAreOneThresholdWhateverTheirOrder() {
        // Row by row, T T F F would give 1.0 and F F T T 0.42; as one threshold: R 1 at P 1/2.
        assertThat(
                        Metrics.averagePrecision(
                                new float[] {.8f, .8f, .8f, .8f}, new boolean[] {T, T, F, F}))
                .isEqualTo(0.5);
        assertThat(
                        Metrics.averagePrecision(
                                new float[] {.8f, .8f, .8f, .8f}, new boolean[] {F, F, T, T}))
                .isEqualTo(0.5);
        // 0.9: P 0; 0.8 (2 of 4 fraud): R 2/3 at P 1/2; 0.1: R 1 at P 3/5.
        assertThat(
                        Metrics.averagePrecision(
                                new float[] {0.9f, 0.8f, 0.8f, 0.8f, 0.1f},
                                new boolean[] {F, T, F, T, T}))
                .isCloseTo(1.0 / 3 + 0.2, within(1e-12));
        // 0.9: R 1/4 at P 1; 0.7 x3: R 3/4 at P 3/4; 0.3 x2: R 1 at P 4/6.
        assertThat(
                        Metrics.averagePrecision(
                                new float[] {0.3f, 0.7f, 0.9f, 0.7f, 0.3f, 0.7f},
                                new boolean[] {F, F, T, T, T, T}))
                .isCloseTo(0.25 + 0.375 + 0.25 * 4 / 6, within(1e-12));
    }

    @Test
    void aPerfectRankingScoresOneAndNegativeZeroTiesWithZero() {
        assertThat(Metrics.averagePrecision(new float[] {0.2f, 0.1f, 0f}, new boolean[] {T, T, F}))
                .isEqualTo(1.0);
        // -0.0f and 0.0f are one score: R 1 at P 1/2, not a ranking of the fraud first.
        assertThat(Metrics.averagePrecision(new float[] {-0f, 0f}, new boolean[] {F, T}))
                .isEqualTo(0.5);
    }

    @Test
    void operatingPointIsTheLowestThresholdWithinTheFalsePositiveRate() {
        float[] scores = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
        boolean[] fraud = {T, F, T, F, F, T};
        Metrics.OperatingPoint p = Metrics.atFalsePositiveRate(scores, fraud, 0.34);
        assertThat(p.threshold()).isEqualTo(0.7f);
        assertThat(p.falsePositiveRate()).isCloseTo(1.0 / 3, within(1e-12));
        assertThat(p.recall()).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(p.precision()).isCloseTo(2.0 / 3, within(1e-12));
        Metrics.OperatingPoint none = Metrics.atFalsePositiveRate(scores, fraud, 0);
        assertThat(none.threshold()).isEqualTo(0.9f);
        assertThat(none.recall()).isCloseTo(1.0 / 3, within(1e-12));
    }

    @Test
    void operatingPointFallsBackToTheTopScoreWhenLegitRowsShareIt() {
        Metrics.OperatingPoint p =
                Metrics.atFalsePositiveRate(
                        new float[] {0.9f, 0.9f, 0.1f}, new boolean[] {F, T, F}, 0.01);
        assertThat(p.threshold()).isEqualTo(0.9f);
        assertThat(p.falsePositiveRate()).isEqualTo(0.5);
        assertThat(p.recall()).isEqualTo(1.0);
        assertThat(p.precision()).isEqualTo(0.5);
    }

    @Test
    void refusesNaNScoresMissingClassesAndMismatchedLengths() {
        assertThatThrownBy(
                        () -> Metrics.averagePrecision(new float[] {Float.NaN}, new boolean[] {T}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("score of row 0 is NaN");
        assertThatThrownBy(() -> Metrics.averagePrecision(new float[] {0.5f}, new boolean[] {F}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one fraud row");
        assertThatThrownBy(
                        () ->
                                Metrics.atFalsePositiveRate(
                                        new float[] {0.5f}, new boolean[] {T}, 0.01))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one legit row");
        assertThatThrownBy(() -> Metrics.averagePrecision(new float[] {0.5f}, new boolean[] {T, F}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("need one label per score, got 1 scores and 2 labels");
    }
}
