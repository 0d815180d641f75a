package dev.streamscore.operators.serde;

import dev.streamscore.schemas.serde.SingleObjectCodec;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;

/**
 * Writes records as Avro single-object encoding, the wire format of every streamscore topic.
 *
 * <pre>{@code
 * SerializationSchema<FraudScore> value = SingleObjectSerializationSchema.of(FraudScore.class);
 * }</pre>
 */
public final class SingleObjectSerializationSchema<T extends SpecificRecord>
        implements SerializationSchema<T> {

    private static final long serialVersionUID = 1L;

    private final SingleObjectCodec<T> codec;

    private SingleObjectSerializationSchema(Class<T> type) {
        this.codec = SingleObjectCodec.of(type);
    }

    public static <T extends SpecificRecord> SingleObjectSerializationSchema<T> of(Class<T> type) {
        return new SingleObjectSerializationSchema<>(type);
    }

    @Override
    public byte[] serialize(T element) {
        return codec.encode(element);
    }
}
