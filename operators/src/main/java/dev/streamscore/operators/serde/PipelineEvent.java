package dev.streamscore.operators.serde;

import dev.streamscore.operators.batching.RowHash;
import java.util.Arrays;
import java.util.Objects;

/**
 * One event of a pipeline between operators, as a Flink POJO: its key, id and event time, its body
 * (the Avro binary of the pipeline's reader schema, to read its fields again), the bytes it arrived
 * as and where (for dead letters), and, once enriched, its feature row.
 */
public class PipelineEvent {

    /** The value of the pipeline's key field. */
    public String key;

    /** The value of the pipeline's id field. */
    public String id;

    /** The value of the pipeline's time field, in milliseconds since the epoch. */
    public long time;

    /** The event in the reader schema's Avro binary encoding (no header). */
    public byte[] body;

    /** The record's value exactly as read from Kafka. */
    public byte[] raw;

    public String sourceTopic;
    public int sourcePartition;
    public long sourceOffset;

    /** The model's input row, in the pipeline's feature order; null before enrichment. */
    public float[] features;

    public PipelineEvent() {}

    public PipelineEvent(
            String key,
            String id,
            long time,
            byte[] body,
            byte[] raw,
            String sourceTopic,
            int sourcePartition,
            long sourceOffset) {
        this.key = key;
        this.id = id;
        this.time = time;
        this.body = body;
        this.raw = raw;
        this.sourceTopic = sourceTopic;
        this.sourcePartition = sourcePartition;
        this.sourceOffset = sourceOffset;
    }

    /** This event with its feature row, as a new object (the operators after never change it). */
    public PipelineEvent withFeatures(float[] row) {
        PipelineEvent e =
                new PipelineEvent(
                        key, id, time, body, raw, sourceTopic, sourcePartition, sourceOffset);
        e.features = row;
        return e;
    }

    /**
     * A 64-bit hash of the exact feature row (bit patterns of the floats): equal rows, equal hash.
     * The key of the result cache together with the model version.
     */
    public long featureHash() {
        return RowHash.of(features);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PipelineEvent)) {
            return false;
        }
        PipelineEvent that = (PipelineEvent) o;
        return time == that.time
                && sourcePartition == that.sourcePartition
                && sourceOffset == that.sourceOffset
                && Objects.equals(key, that.key)
                && Objects.equals(id, that.id)
                && Arrays.equals(body, that.body)
                && Arrays.equals(raw, that.raw)
                && Objects.equals(sourceTopic, that.sourceTopic)
                && Arrays.equals(features, that.features);
    }

    @Override
    public int hashCode() {
        return Objects.hash(key, id, time, sourceTopic, sourcePartition, sourceOffset)
                + 31 * Arrays.hashCode(features);
    }

    @Override
    public String toString() {
        return "PipelineEvent{"
                + id
                + " key="
                + key
                + " time="
                + time
                + (features == null ? "" : " features=" + Arrays.toString(features))
                + " from "
                + sourceTopic
                + "/"
                + sourcePartition
                + "@"
                + sourceOffset
                + "}";
    }
}
