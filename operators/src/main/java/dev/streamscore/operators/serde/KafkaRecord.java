package dev.streamscore.operators.serde;

/**
 * The raw bytes of one Kafka record and where they came from, before any decoding, so that a record
 * that fails to decode can go to the dead-letter topic exactly as it arrived. A Flink POJO.
 */
public class KafkaRecord {

    public byte[] value;
    public String topic;
    public int partition;
    public long offset;

    /** The record's Kafka timestamp, milliseconds since the epoch. */
    public long timestamp;

    public KafkaRecord() {}

    public KafkaRecord(byte[] value, String topic, int partition, long offset, long timestamp) {
        this.value = value;
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.timestamp = timestamp;
    }
}
