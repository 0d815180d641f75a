package dev.streamscore.tools.bench.handwritten;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.AvroReaderLimits;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.schemas.serde.SingleObjectCodec.DecodeException;
import java.time.Duration;
import java.util.function.BiConsumer;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Decodes Avro single-object encoded transactions and validates them. A record that does not decode
 * goes to the dead-letter side output with stage DECODE, one that decodes but is not a valid
 * transaction with stage VALIDATE; both with the original bytes and their Kafka coordinates. No
 * input bytes make it throw: see {@link #decode}.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<SourcedTransaction> valid =
 *         raw.process(new TransactionDecoder()).uid("decode").name("decode + validate");
 * DataStream<DeadLetter> rejected = valid.getSideOutput(DeadLetters.TAG);
 * }</pre>
 */
public class TransactionDecoder extends ProcessFunction<KafkaRecord, SourcedTransaction> {

    private static final long serialVersionUID = 1L;

    /** Default of {@code max-record-bytes}: the default largest record of a Kafka topic. */
    public static final int DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

    /** Largest {@code max-record-bytes} accepted: what Avro's reader limits let through. */
    public static final int MAX_RECORD_BYTES_LIMIT = AvroReaderLimits.MAX_STRING_BYTES;

    private final SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
    private final int maxRecordBytes;
    private final long maxClockSkewMillis;
    private transient Counter decodeFailures;
    private transient Counter validationFailures;
    private transient Counter decodeTimeNanos;

    /** With the default record size limit and clock skew. */
    public TransactionDecoder() {
        this(DEFAULT_MAX_RECORD_BYTES, TransactionValidator.DEFAULT_MAX_CLOCK_SKEW);
    }

    /**
     * @param maxRecordBytes records larger than this are dead letters without being decoded
     * @param maxClockSkew how far past the wall clock an event time may be
     */
    public TransactionDecoder(int maxRecordBytes, Duration maxClockSkew) {
        if (maxRecordBytes < 1 || maxRecordBytes > MAX_RECORD_BYTES_LIMIT) {
            throw new IllegalArgumentException(
                    "max-record-bytes must be 1.."
                            + MAX_RECORD_BYTES_LIMIT
                            + ", got "
                            + maxRecordBytes);
        }
        if (maxClockSkew == null || maxClockSkew.isNegative()) {
            throw new IllegalArgumentException(
                    "max-clock-skew must be zero or positive, got " + maxClockSkew);
        }
        this.maxRecordBytes = maxRecordBytes;
        this.maxClockSkewMillis = maxClockSkew.toMillis();
    }

    @Override
    public void open(org.apache.flink.api.common.functions.OpenContext openContext) {
        decodeFailures = getRuntimeContext().getMetricGroup().counter(DEAD_LETTERS_DECODE);
        validationFailures = getRuntimeContext().getMetricGroup().counter(DEAD_LETTERS_VALIDATE);
        decodeTimeNanos = getRuntimeContext().getMetricGroup().counter(DECODE_TIME_NANOS);
    }

    /**
     * Counter of the nanoseconds spent decoding and validating (downstream operators excluded), for
     * the per-stage cost {@code streamscore bench} reports.
     */
    public static final String DECODE_TIME_NANOS = "decodeTimeNanos";

    /** Name of the counter of records that could not be decoded (dead letters, stage DECODE). */
    public static final String DEAD_LETTERS_DECODE = "deadLettersDecode";

    /** Name of the counter of decoded records that failed validation (stage VALIDATE). */
    public static final String DEAD_LETTERS_VALIDATE = "deadLettersValidate";

    @Override
    public void processElement(KafkaRecord record, Context ctx, Collector<SourcedTransaction> out) {
        long start = System.nanoTime();
        SourcedTransaction valid = decode(record, System.currentTimeMillis(), this::reject, ctx);
        decodeTimeNanos.inc(System.nanoTime() - start);
        if (valid != null) {
            out.collect(valid);
        }
    }

    private void reject(DeadLetter letter, Context ctx) {
        (letter.getStage() == Stage.DECODE ? decodeFailures : validationFailures).inc();
        ctx.output(DeadLetters.TAG, letter);
    }

    /**
     * The transaction {@code record} holds, or null after handing {@code rejected} its one dead
     * letter. Never throws for any bytes: a record over {@code max-record-bytes} is refused unread,
     * Avro's failures (and any other exception of the decoder) are stage DECODE, the validator's
     * stage VALIDATE.
     *
     * @param nowMillis the wall clock, against which event times are checked
     */
    <C> SourcedTransaction decode(
            KafkaRecord record, long nowMillis, BiConsumer<DeadLetter, C> rejected, C context) {
        byte[] bytes = record.value == null ? new byte[0] : record.value;
        if (bytes.length > maxRecordBytes) {
            rejected.accept(
                    deadLetter(
                            record,
                            Stage.DECODE,
                            "dev.streamscore.RecordTooLarge",
                            "record of "
                                    + bytes.length
                                    + " bytes is over max-record-bytes ("
                                    + maxRecordBytes
                                    + "); not decoded",
                            null),
                    context);
            return null;
        }
        Transaction txn;
        try {
            txn = codec.decode(bytes);
        } catch (DecodeException | RuntimeException e) {
            rejected.accept(deadLetter(record, Stage.DECODE, e, null), context);
            return null;
        }
        String problem;
        try {
            problem = TransactionValidator.problemWith(txn, nowMillis + maxClockSkewMillis);
        } catch (RuntimeException e) {
            rejected.accept(deadLetter(record, Stage.VALIDATE, e, txn.getTransactionId()), context);
            return null;
        }
        if (problem != null) {
            rejected.accept(
                    deadLetter(
                            record,
                            Stage.VALIDATE,
                            "dev.streamscore.InvalidTransaction",
                            problem,
                            txn.getTransactionId()),
                    context);
            return null;
        }
        return new SourcedTransaction(txn, bytes, record.topic, record.partition, record.offset);
    }

    private static DeadLetter deadLetter(
            KafkaRecord record, Stage stage, Throwable error, String transactionId) {
        return deadLetter(
                record,
                stage,
                error.getClass().getName(),
                String.valueOf(error.getMessage()),
                transactionId);
    }

    private static DeadLetter deadLetter(
            KafkaRecord record,
            Stage stage,
            String errorClass,
            String message,
            String transactionId) {
        return DeadLetters.of(
                record.value,
                record.topic,
                record.partition,
                record.offset,
                stage,
                errorClass,
                message,
                transactionId);
    }
}
