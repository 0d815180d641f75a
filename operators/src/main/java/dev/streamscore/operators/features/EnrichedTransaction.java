package dev.streamscore.operators.features;

import dev.streamscore.operators.batching.RowHash;
import dev.streamscore.schemas.Transaction;
import java.util.Arrays;
import java.util.Objects;

/**
 * A decoded transaction with the feature vector computed for it from its card's history, and the
 * Kafka coordinates it was read from (for dead letters). Travels between operators as a Flink POJO.
 */
public class EnrichedTransaction {

    /** The transaction as decoded and validated. */
    public Transaction transaction;

    /** Model input, in the order of {@link CardFeatures#NAMES}. */
    public float[] features;

    public String sourceTopic;
    public int sourcePartition;
    public long sourceOffset;

    public EnrichedTransaction() {}

    public EnrichedTransaction(
            Transaction transaction,
            float[] features,
            String sourceTopic,
            int sourcePartition,
            long sourceOffset) {
        this.transaction = transaction;
        this.features = features;
        this.sourceTopic = sourceTopic;
        this.sourcePartition = sourcePartition;
        this.sourceOffset = sourceOffset;
    }

    /**
     * A 64-bit hash of the exact feature vector (bit patterns of the floats): equal vectors, equal
     * hash. The key of the result cache together with the model version.
     */
    public long featureHash() {
        return RowHash.of(features);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof EnrichedTransaction)) {
            return false;
        }
        EnrichedTransaction that = (EnrichedTransaction) o;
        return sourcePartition == that.sourcePartition
                && sourceOffset == that.sourceOffset
                && Objects.equals(transaction, that.transaction)
                && Arrays.equals(features, that.features)
                && Objects.equals(sourceTopic, that.sourceTopic);
    }

    @Override
    public int hashCode() {
        return Objects.hash(transaction, sourceTopic, sourcePartition, sourceOffset)
                + 31 * Arrays.hashCode(features);
    }

    @Override
    public String toString() {
        return "EnrichedTransaction{"
                + transaction.getTransactionId()
                + " card="
                + transaction.getCardId()
                + " features="
                + Arrays.toString(features)
                + " from "
                + sourceTopic
                + "/"
                + sourcePartition
                + "@"
                + sourceOffset
                + "}";
    }
}
