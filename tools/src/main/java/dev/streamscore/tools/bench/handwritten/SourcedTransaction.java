package dev.streamscore.tools.bench.handwritten;

import dev.streamscore.schemas.Transaction;

/** A decoded, valid transaction and the Kafka coordinates it was read from. A Flink POJO. */
public class SourcedTransaction {

    public Transaction transaction;
    public String topic;
    public int partition;
    public long offset;

    /** The record's value as read. */
    public byte[] raw;

    public SourcedTransaction() {}

    public SourcedTransaction(
            Transaction transaction, byte[] raw, String topic, int partition, long offset) {
        this.transaction = transaction;
        this.raw = raw;
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
    }
}
