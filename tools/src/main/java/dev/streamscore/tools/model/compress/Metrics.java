package dev.streamscore.tools.model.compress;

import java.util.Arrays;

/**
 * Ranking quality of fraud scores against labels, defined as the trainer (models/training/train.py)
 * measures it with scikit-learn, so numbers from Java and from training compare:
 *
 * <ul>
 *   <li>{@link #averagePrecision}: PR-AUC as {@code sklearn.metrics.average_precision_score}, the
 *       sum over distinct score thresholds, highest first, of {@code (R_n - R_{n-1}) * P_n}; rows
 *       with equal scores are one threshold (they are flagged together).
 *   <li>{@link #atFalsePositiveRate}: the lowest threshold whose false-positive rate is at most a
 *       target, and the recall there, read off the ROC curve as {@code threshold_at_fpr} does (with
 *       {@code roc_curve(drop_intermediate=False)}).
 * </ul>
 *
 * <pre>{@code
 * double prAuc = Metrics.averagePrecision(scores, fraud);
 * Metrics.OperatingPoint review = Metrics.atFalsePositiveRate(scores, fraud, 0.01);
 * }</pre>
 *
 * Scores are compared as floats (what the models output), so ties are exact float ties; {@code
 * -0.0f} and {@code 0.0f} are one score. NaN scores are refused. Each call sorts once: O(n log n).
 */
public final class Metrics {

    private Metrics() {}

    /**
     * A threshold on the ROC curve: rows scoring at or above {@code threshold} are flagged, which
     * flags {@code falsePositiveRate} of the legit rows and {@code recall} of the frauds, with
     * {@code precision} of the flagged rows fraud.
     */
    public record OperatingPoint(
            float threshold, double falsePositiveRate, double recall, double precision) {}

    /** Average precision (PR-AUC) of {@code scores} for the rows where {@code fraud} is true. */
    public static double averagePrecision(float[] scores, boolean[] fraud) {
        Ranking r = Ranking.of(scores, fraud, false);
        double ap = 0;
        double previousRecall = 0;
        for (int g = 1; g < r.groups; g++) {
            double recall = (double) r.truePositives[g] / r.positives;
            double precision =
                    (double) r.truePositives[g] / (r.truePositives[g] + r.falsePositives[g]);
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
        }
        return ap;
    }

    /**
     * The lowest threshold at which the false-positive rate is at most {@code
     * maxFalsePositiveRate}, with the recall and precision there. When even the top score flags
     * more legit rows than that (many legit rows tied at the top), it is the top score, as the
     * trainer does.
     */
    public static OperatingPoint atFalsePositiveRate(
            float[] scores, boolean[] fraud, double maxFalsePositiveRate) {
        if (!(maxFalsePositiveRate >= 0 && maxFalsePositiveRate <= 1)) {
            throw new IllegalArgumentException(
                    "false-positive rate must be within [0, 1], got " + maxFalsePositiveRate);
        }
        Ranking r = Ranking.of(scores, fraud, true);
        int chosen = 1;
        for (int g = 1; g < r.groups; g++) {
            if ((double) r.falsePositives[g] / r.negatives <= maxFalsePositiveRate) {
                chosen = g;
            } else {
                break; // the false-positive rate only grows as the threshold falls
            }
        }
        long tp = r.truePositives[chosen];
        long fp = r.falsePositives[chosen];
        return new OperatingPoint(
                r.thresholds[chosen],
                (double) fp / r.negatives,
                (double) tp / r.positives,
                (double) tp / (tp + fp));
    }

    /**
     * Rows grouped by distinct score, highest first, with the frauds and legit rows flagged at each
     * group's score and above.
     */
    private static final class Ranking {
        final float[] thresholds;
        final long[] truePositives;
        final long[] falsePositives;
        final int groups;
        final long positives;
        final long negatives;

        private Ranking(float[] thresholds, long[] tp, long[] fp, int groups) {
            this.thresholds = thresholds;
            this.truePositives = tp;
            this.falsePositives = fp;
            this.groups = groups;
            this.positives = tp[groups - 1];
            this.negatives = fp[groups - 1];
        }

        static Ranking of(float[] scores, boolean[] fraud, boolean needsNegatives) {
            if (scores.length != fraud.length) {
                throw new IllegalArgumentException(
                        "need one label per score, got "
                                + scores.length
                                + " scores and "
                                + fraud.length
                                + " labels");
            }
            // One long per row: the score's bits made to sort as the floats do, then the label.
            // A primitive sort keeps this fast enough to run per candidate model.
            long[] keys = new long[scores.length];
            for (int i = 0; i < scores.length; i++) {
                float s = scores[i];
                if (Float.isNaN(s)) {
                    throw new IllegalArgumentException("score of row " + i + " is NaN");
                }
                int bits = Float.floatToIntBits(s == 0f ? 0f : s); // -0.0f is 0.0f
                int sortable = bits ^ ((bits >> 31) & 0x7fff_ffff);
                keys[i] = ((long) sortable << 1) | (fraud[i] ? 1 : 0);
            }
            Arrays.sort(keys);
            // Group 0 is a sentinel above every score: nothing flagged yet.
            float[] thresholds = new float[scores.length + 1];
            long[] tp = new long[scores.length + 1];
            long[] fp = new long[scores.length + 1];
            thresholds[0] = Float.POSITIVE_INFINITY;
            int g = 0;
            for (int i = keys.length - 1; i >= 0; i--) {
                long sortable = keys[i] >> 1;
                if (i == keys.length - 1 || sortable != keys[i + 1] >> 1) {
                    g++;
                    int bits = (int) sortable;
                    thresholds[g] = Float.intBitsToFloat(bits ^ ((bits >> 31) & 0x7fff_ffff));
                    tp[g] = tp[g - 1];
                    fp[g] = fp[g - 1];
                }
                if ((keys[i] & 1) == 1) {
                    tp[g]++;
                } else {
                    fp[g]++;
                }
            }
            Ranking r = new Ranking(thresholds, tp, fp, g + 1);
            if (r.positives == 0) {
                throw new IllegalArgumentException(
                        "need at least one fraud row to measure recall, found none among "
                                + scores.length
                                + " rows");
            }
            if (needsNegatives && r.negatives == 0) {
                throw new IllegalArgumentException(
                        "need at least one legit row to measure a false-positive rate, found"
                                + " none among "
                                + scores.length
                                + " rows");
            }
            return r;
        }
    }
}
