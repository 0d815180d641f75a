package dev.streamscore.testkit;

import dev.streamscore.schemas.Transaction;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import dev.streamscore.testkit.cardfraud.CardHistory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The feature rows of a stream of transactions, each computed from its card's earlier transactions
 * as the job's enrichment computes them, without Flink: the workloads of the benchmarks, the
 * training export and the reference scores of the system tests.
 *
 * <pre>{@code
 * FeatureRows rows = new FeatureRows();
 * float[] features = rows.next(txn); // txn's features; its card's history now includes it
 * float[][] all = FeatureRows.of(transactions);
 * }</pre>
 */
public final class FeatureRows {

    private final Map<String, CardHistory> histories = new HashMap<>();

    /** The features of {@code txn} after every transaction of its card passed here before. */
    public float[] next(Transaction txn) {
        return CardFeatures.computeAndUpdate(
                histories.computeIfAbsent(txn.getCardId(), k -> new CardHistory()), txn);
    }

    /** The features of each of {@code transactions}, in the given order. */
    public static float[][] of(List<Transaction> transactions) {
        FeatureRows rows = new FeatureRows();
        float[][] out = new float[transactions.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = rows.next(transactions.get(i));
        }
        return out;
    }
}
