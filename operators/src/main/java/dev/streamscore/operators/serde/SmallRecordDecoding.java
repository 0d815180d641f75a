package dev.streamscore.operators.serde;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import org.apache.avro.specific.SpecificRecord;

/**
 * Decoding of a side topic's small single-object records (model commands, labels): an empty record
 * or one past a size bound is refused before Avro reads it, anything that does not decode is
 * caught, and each refusal becomes one dead letter with the record's bytes and origin.
 *
 * <pre>{@code
 * SmallRecordDecoding.Result<FraudLabel> r = SmallRecordDecoding.decode(record, codec, 64 * 1024, "a label");
 * if (r.value() == null) { rejected.accept(r.deadLetter(record, Stage.DECODE, null)); }
 * }</pre>
 */
public final class SmallRecordDecoding {

    private SmallRecordDecoding() {}

    /** The decoded value, or why there is none (and the error, when one was thrown). */
    public record Result<T>(T value, String problem, Throwable error) {

        /** The dead letter of {@code record} for this problem, at {@code stage}. */
        public DeadLetter deadLetter(KafkaRecord record, Stage stage, String eventId) {
            return SmallRecordDecoding.deadLetter(record, stage, problem, error, eventId);
        }
    }

    /** The dead letter of {@code record}: its bytes and origin, the stage and the problem. */
    public static DeadLetter deadLetter(
            KafkaRecord record, Stage stage, String problem, Throwable error, String eventId) {
        return DeadLetters.of(
                record.value,
                record.topic,
                record.partition,
                record.offset,
                stage,
                error == null
                        ? IllegalArgumentException.class.getName()
                        : error.getClass().getName(),
                problem,
                eventId);
    }

    /**
     * Decodes {@code record} with {@code codec}; never throws.
     *
     * @param what what the record should be, for the messages ("a model command")
     */
    public static <T extends SpecificRecord> Result<T> decode(
            KafkaRecord record, SingleObjectCodec<T> codec, int maxBytes, String what) {
        if (record.value == null || record.value.length == 0) {
            return new Result<>(null, "an empty record (a tombstone?) is not " + what, null);
        }
        if (record.value.length > maxBytes) {
            return new Result<>(
                    null,
                    "a record of "
                            + record.value.length
                            + " bytes is not "
                            + what
                            + " (at most "
                            + maxBytes
                            + ")",
                    null);
        }
        try {
            return new Result<>(codec.decode(record.value), null, null);
        } catch (SingleObjectCodec.DecodeException | RuntimeException e) {
            return new Result<>(
                    null, "not a " + codec.type().getSimpleName() + ": " + e.getMessage(), e);
        }
    }
}
