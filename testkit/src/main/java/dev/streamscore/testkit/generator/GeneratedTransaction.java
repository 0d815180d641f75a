package dev.streamscore.testkit.generator;

import dev.streamscore.schemas.Transaction;

/**
 * One generated transaction with its ground truth and the label a fraud team would have for it.
 *
 * @param transaction what goes on the wire
 * @param pattern the fraud pattern that produced it, {@link FraudPattern#NONE} if legitimate
 * @param duplicate whether this is a re-send of an earlier transaction (same id and content), as an
 *     at-least-once upstream producer would do
 * @param labelledFraud the reported label: {@code pattern.isFraud()} unless the generator's {@link
 *     Difficulty} adds label noise (fraud never reported, genuine transactions disputed)
 */
public record GeneratedTransaction(
        Transaction transaction, FraudPattern pattern, boolean duplicate, boolean labelledFraud) {

    /** A transaction whose label is the truth. */
    public GeneratedTransaction(Transaction transaction, FraudPattern pattern, boolean duplicate) {
        this(transaction, pattern, duplicate, pattern.isFraud());
    }
}
