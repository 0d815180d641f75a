package dev.streamscore.operators.feedback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.streamscore.schemas.Decision;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Precision, recall and PR-AUC, against scikit-learn's values and a direct count. */
class QualityStatsTest {

    private static long[] entries(int[] labels, double[] scores, double review, double decline) {
        long[] e = new long[labels.length];
        for (int i = 0; i < e.length; i++) {
            Decision d =
                    scores[i] >= decline
                            ? Decision.DECLINE
                            : scores[i] >= review ? Decision.REVIEW : Decision.APPROVE;
            e[i] = QualityStats.pack(scores[i], d, labels[i] == 1);
        }
        return e;
    }

    @Test
    void averagePrecisionIsScikitLearnsOnSmallCasesWithAndWithoutTies() {
        long[] a = entries(new int[] {1, 0, 1, 1, 0}, new double[] {0.9, 0.8, 0.7, 0.6, 0.2}, 1, 1);
        assertThat(QualityStats.of(a, a.length).prAuc())
                .isCloseTo(0.8055555555555556, within(1e-12));
        long[] b = entries(new int[] {1, 0, 1}, new double[] {0.5, 0.5, 0.2}, 1, 1);
        assertThat(QualityStats.of(b, b.length).prAuc())
                .isCloseTo(0.5833333333333333, within(1e-12));
    }

    @Test
    void averagePrecisionIsScikitLearnsOnACommittedCaseWithManyTies() throws Exception {
        List<Integer> labels = new ArrayList<>();
        List<Double> scores = new ArrayList<>();
        try (InputStream in = getClass().getResourceAsStream("/quality/ap-case.csv")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.startsWith("#") || line.isBlank()) {
                    continue;
                }
                String[] cells = line.split(",");
                labels.add(Integer.parseInt(cells[0]));
                scores.add(Double.parseDouble(cells[1]));
            }
        }
        assertThat(labels).hasSize(1000);
        long[] e =
                entries(
                        labels.stream().mapToInt(Integer::intValue).toArray(),
                        scores.stream().mapToDouble(Double::doubleValue).toArray(),
                        1,
                        1);
        // scikit-learn scored the scores as float32, as they are packed here.
        assertThat(QualityStats.of(e, e.length).prAuc())
                .isCloseTo(0.4762218096902261, within(1e-9));
    }

    @Test
    void precisionAndRecallAtBothThresholdsAreTheDirectCounts() {
        SplittableRandom random = new SplittableRandom(9);
        for (int round = 0; round < 50; round++) {
            int n = 1 + random.nextInt(400);
            int[] labels = new int[n];
            double[] scores = new double[n];
            for (int i = 0; i < n; i++) {
                labels[i] = random.nextInt(10) == 0 ? 1 : 0;
                scores[i] = Math.min(1, random.nextDouble() * (labels[i] == 1 ? 1.5 : 0.8));
            }
            long[] e = entries(labels, scores, 0.3, 0.7);
            QualityStats s = QualityStats.of(e, n);
            long frauds = 0;
            long reviewTp = 0;
            long reviewAll = 0;
            long declineTp = 0;
            long declineAll = 0;
            for (int i = 0; i < n; i++) {
                frauds += labels[i];
                if (scores[i] >= 0.3) {
                    reviewAll++;
                    reviewTp += labels[i];
                }
                if (scores[i] >= 0.7) {
                    declineAll++;
                    declineTp += labels[i];
                }
            }
            assertThat(s.labelled()).isEqualTo(n);
            assertThat(s.positives()).isEqualTo(frauds);
            assertThat(s.flagged()).isEqualTo(reviewAll);
            assertRatio(s.precisionAtReview(), reviewTp, reviewAll);
            assertRatio(s.recallAtReview(), reviewTp, frauds);
            assertRatio(s.precisionAtDecline(), declineTp, declineAll);
            assertRatio(s.recallAtDecline(), declineTp, frauds);
            if (frauds == 0) {
                assertThat(s.prAuc()).isNaN();
            } else {
                assertThat(s.prAuc()).isBetween(0.0, 1.0);
            }
        }
    }

    @Test
    void aPerfectRankingHasAnAreaOfOne() {
        long[] e = entries(new int[] {1, 1, 0, 0, 0}, new double[] {0.9, 0.8, 0.3, 0.2, 0.1}, 1, 1);
        assertThat(QualityStats.of(e, e.length).prAuc()).isEqualTo(1.0);
    }

    private static void assertRatio(double actual, long part, long whole) {
        if (whole == 0) {
            assertThat(actual).isNaN();
        } else {
            assertThat(actual).isCloseTo((double) part / whole, within(1e-12));
        }
    }
}
