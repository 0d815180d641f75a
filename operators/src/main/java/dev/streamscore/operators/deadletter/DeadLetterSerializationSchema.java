package dev.streamscore.operators.deadletter;

import dev.streamscore.operators.serde.SingleObjectSerializationSchema;
import dev.streamscore.schemas.DeadLetter;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;

/**
 * Writes dead letters as Avro single-object encoding, never larger than the sink can send: a dead
 * letter whose encoding is over {@code maxBytes} (the producer's {@code max.request.size} less room
 * for the record's framing) is written with its payload cut further, its original size and SHA-256
 * kept. A dead letter too large for Kafka would fail the sink, and with it the job.
 *
 * <pre>{@code
 * SerializationSchema<DeadLetter> value = new DeadLetterSerializationSchema(1024 * 1024 - 4096);
 * }</pre>
 */
public final class DeadLetterSerializationSchema
        implements SerializationSchema<DeadLetter>, ResultTypeQueryable<DeadLetter> {

    private static final long serialVersionUID = 1L;

    private final SingleObjectSerializationSchema<DeadLetter> encoding =
            SingleObjectSerializationSchema.of(DeadLetter.class);
    private final int maxBytes;

    public DeadLetterSerializationSchema(int maxBytes) {
        if (maxBytes < 8192) {
            throw new IllegalArgumentException(
                    "a dead letter needs at least 8192 bytes to say why, got a limit of "
                            + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    /** The limit for a producer with this {@code max.request.size}. */
    public static DeadLetterSerializationSchema forMaxRequestSize(int maxRequestSize) {
        return new DeadLetterSerializationSchema(maxRequestSize - 1024);
    }

    @Override
    public void open(InitializationContext context) throws Exception {
        encoding.open(context);
    }

    @Override
    public byte[] serialize(DeadLetter letter) {
        byte[] bytes = encoding.serialize(letter);
        if (bytes.length <= maxBytes) {
            return bytes;
        }
        return encoding.serialize(DeadLetters.shrunk(letter, bytes.length - maxBytes));
    }

    @Override
    public TypeInformation<DeadLetter> getProducedType() {
        return encoding.getProducedType();
    }
}
