package dev.streamscore.operators.feedback;

import dev.streamscore.schemas.Decision;
import java.util.Arrays;

/**
 * Precision and recall at a model's two decision thresholds, and PR-AUC, over a set of labelled
 * scores. PR-AUC is average precision as scikit-learn's {@code average_precision_score} computes
 * it: the sum over the distinct scores, highest first, of the precision at that score times the
 * recall it adds.
 */
public record QualityStats(
        long labelled,
        long positives,
        long flagged,
        double precisionAtReview,
        double recallAtReview,
        double precisionAtDecline,
        double recallAtDecline,
        double prAuc) {

    /** One labelled score in a long: the score's float bits, its decision and the label. */
    public static long pack(double score, Decision decision, boolean positive) {
        // + 0f turns -0.0 into 0.0, whose bits sort first like the value.
        return (Float.floatToIntBits((float) score + 0f) & 0xffff_ffffL)
                | ((long) decision.ordinal() << 32)
                | (positive ? 1L << 34 : 0L);
    }

    static float score(long packed) {
        return Float.intBitsToFloat((int) packed);
    }

    static Decision decision(long packed) {
        return Decision.values()[(int) (packed >>> 32) & 3];
    }

    static boolean positive(long packed) {
        return (packed & (1L << 34)) != 0;
    }

    /** The statistics of the first {@code n} packed entries. */
    public static QualityStats of(long[] entries, int n) {
        long positives = 0;
        long flagged = 0;
        long declined = 0;
        long positiveFlagged = 0;
        long positiveDeclined = 0;
        for (int i = 0; i < n; i++) {
            long e = entries[i];
            boolean positive = positive(e);
            Decision d = decision(e);
            positives += positive ? 1 : 0;
            if (d != Decision.APPROVE) {
                flagged++;
                positiveFlagged += positive ? 1 : 0;
            }
            if (d == Decision.DECLINE) {
                declined++;
                positiveDeclined += positive ? 1 : 0;
            }
        }
        return new QualityStats(
                n,
                positives,
                flagged,
                ratio(positiveFlagged, flagged),
                ratio(positiveFlagged, positives),
                ratio(positiveDeclined, declined),
                ratio(positiveDeclined, positives),
                averagePrecision(entries, n, positives));
    }

    private static double ratio(long part, long whole) {
        return whole == 0 ? Double.NaN : (double) part / whole;
    }

    private static double averagePrecision(long[] entries, int n, long positives) {
        if (positives == 0) {
            return Double.NaN;
        }
        // Scores are probabilities, never negative, so their float bits sort as they do: one
        // sorted array of (score bits, label), walked from the highest score down. Ties form one
        // step of the curve, as in scikit-learn.
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = ((entries[i] & 0xffff_ffffL) << 1) | (positive(entries[i]) ? 1 : 0);
        }
        Arrays.sort(keys);
        double ap = 0;
        long tp = 0;
        long seen = 0;
        double lastRecall = 0;
        int i = n - 1;
        while (i >= 0) {
            long bits = keys[i] >>> 1;
            while (i >= 0 && keys[i] >>> 1 == bits) {
                tp += keys[i] & 1;
                seen++;
                i--;
            }
            double recall = (double) tp / positives;
            ap += (recall - lastRecall) * ((double) tp / seen);
            lastRecall = recall;
        }
        return ap;
    }
}
