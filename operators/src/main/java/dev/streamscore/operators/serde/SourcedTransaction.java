package dev.streamscore.operators.serde;

import dev.streamscore.schemas.Transaction;

/** A decoded, valid transaction and the Kafka coordinates it was read from. A Flink POJO. */
public class SourcedTransaction {

    public Transaction transaction;
    public String topic;
    public int partition;
    public long offset;

    public SourcedTransaction() {}

    public SourcedTransaction(Transaction transaction, String topic, int partition, long offset) {
        this.transaction = transaction;
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
    }
}
