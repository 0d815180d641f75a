package dev.streamscore.operators.serde;

import dev.streamscore.schemas.serde.SingleObjectCodec;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.metrics.Counter;

/**
 * Writes records as Avro single-object encoding, the wire format of every streamscore topic.
 *
 * <pre>{@code
 * SerializationSchema<ModelStatus> value = SingleObjectSerializationSchema.of(ModelStatus.class);
 * }</pre>
 */
public final class SingleObjectSerializationSchema<T extends SpecificRecord>
        implements SerializationSchema<T>, ResultTypeQueryable<T> {

    private static final long serialVersionUID = 1L;

    private final Class<T> type;
    private final SingleObjectCodec<T> codec;
    private transient Counter encodeTimeNanos;

    /**
     * Counter of the nanoseconds spent encoding, registered where the sink opens this schema, for
     * the per-stage cost {@code streamscore bench} reports.
     */
    public static final String ENCODE_TIME_NANOS = "encodeTimeNanos";

    private SingleObjectSerializationSchema(Class<T> type) {
        this.type = type;
        this.codec = SingleObjectCodec.of(type);
    }

    /** The written type, so the sink's lineage need not guess it from erased generics. */
    @Override
    public TypeInformation<T> getProducedType() {
        return TypeInformation.of(type);
    }

    public static <T extends SpecificRecord> SingleObjectSerializationSchema<T> of(Class<T> type) {
        return new SingleObjectSerializationSchema<>(type);
    }

    @Override
    public void open(InitializationContext context) {
        encodeTimeNanos = context.getMetricGroup().counter(ENCODE_TIME_NANOS);
    }

    @Override
    public byte[] serialize(T element) {
        if (encodeTimeNanos == null) {
            return codec.encode(element);
        }
        long start = System.nanoTime();
        byte[] bytes = codec.encode(element);
        encodeTimeNanos.inc(System.nanoTime() - start);
        return bytes;
    }
}
