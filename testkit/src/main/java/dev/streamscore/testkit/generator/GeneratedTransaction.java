package dev.streamscore.testkit.generator;

import dev.streamscore.schemas.Transaction;

/**
 * One generated transaction with its ground truth.
 *
 * @param transaction what goes on the wire
 * @param pattern the fraud pattern that produced it, {@link FraudPattern#NONE} if legitimate
 * @param duplicate whether this is a re-send of an earlier transaction (same id and content), as an
 *     at-least-once upstream producer would do
 */
public record GeneratedTransaction(
        Transaction transaction, FraudPattern pattern, boolean duplicate) {}
