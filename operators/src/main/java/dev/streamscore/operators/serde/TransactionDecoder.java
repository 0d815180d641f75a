package dev.streamscore.operators.serde;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.schemas.serde.SingleObjectCodec.DecodeException;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Decodes Avro single-object encoded transactions and validates them. A record that does not decode
 * goes to the dead-letter side output with stage DECODE, one that decodes but is not a valid
 * transaction with stage VALIDATE; both with the original bytes and their Kafka coordinates.
 *
 * <pre>{@code
 * SingleOutputStreamOperator<SourcedTransaction> valid =
 *         raw.process(new TransactionDecoder()).uid("decode").name("decode + validate");
 * DataStream<DeadLetter> rejected = valid.getSideOutput(DeadLetters.TAG);
 * }</pre>
 */
public class TransactionDecoder extends ProcessFunction<KafkaRecord, SourcedTransaction> {

    private static final long serialVersionUID = 1L;

    private final SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
    private transient Counter decodeFailures;
    private transient Counter validationFailures;
    private transient Counter decodeTimeNanos;

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
        SourcedTransaction valid = decodeAndValidate(record, ctx);
        decodeTimeNanos.inc(System.nanoTime() - start);
        if (valid != null) {
            out.collect(valid);
        }
    }

    /** The transaction, or null after sending the record to the dead letters. */
    private SourcedTransaction decodeAndValidate(KafkaRecord record, Context ctx) {
        Transaction txn;
        try {
            txn = codec.decode(record.value);
        } catch (DecodeException e) {
            decodeFailures.inc();
            ctx.output(
                    DeadLetters.TAG,
                    DeadLetters.of(
                            record.value,
                            record.topic,
                            record.partition,
                            record.offset,
                            Stage.DECODE,
                            e,
                            null));
            return null;
        }
        String problem = TransactionValidator.problemWith(txn);
        if (problem != null) {
            validationFailures.inc();
            ctx.output(
                    DeadLetters.TAG,
                    DeadLetters.of(
                            record.value,
                            record.topic,
                            record.partition,
                            record.offset,
                            Stage.VALIDATE,
                            "dev.streamscore.InvalidTransaction",
                            problem,
                            txn.getTransactionId()));
            return null;
        }
        return new SourcedTransaction(txn, record.topic, record.partition, record.offset);
    }
}
