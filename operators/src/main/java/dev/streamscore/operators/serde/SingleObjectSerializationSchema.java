package dev.streamscore.operators.serde;

import dev.streamscore.schemas.serde.SingleObjectCodec;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;

/**
 * Writes records as Avro single-object encoding, the wire format of every streamscore topic.
 *
 * <pre>{@code
 * SerializationSchema<FraudScore> value = SingleObjectSerializationSchema.of(FraudScore.class);
 * }</pre>
 */
public final class SingleObjectSerializationSchema<T extends SpecificRecord>
        implements SerializationSchema<T>, ResultTypeQueryable<T> {

    private static final long serialVersionUID = 1L;

    private final Class<T> type;
    private final SingleObjectCodec<T> codec;

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
    public byte[] serialize(T element) {
        return codec.encode(element);
    }
}
