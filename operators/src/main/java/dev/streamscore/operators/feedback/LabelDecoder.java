package dev.streamscore.operators.feedback;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.EventDecoder;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.operators.serde.SmallRecordDecoding;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Consumer;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Decodes and checks the labels topic's single-object encoded {@link FraudLabel}s. A record that
 * does not decode (or is larger than {@link #MAX_LABEL_BYTES}) is a dead letter with stage DECODE;
 * one with an empty or over-long event id ({@code transaction_id}, the wire format's name), or a
 * {@code labelled_at} before 2000 or later than the wall clock plus {@code maxClockSkew}, one with
 * stage VALIDATE. It never fails the job.
 */
public class LabelDecoder extends ProcessFunction<KafkaRecord, FraudLabel> {

    private static final long serialVersionUID = 1L;

    /** Largest label record decoded: a label is a few dozen bytes. */
    public static final int MAX_LABEL_BYTES = 64 * 1024;

    /** Counter of label records that were dead-lettered. */
    public static final String DEAD_LETTERS = "deadLettersLabels";

    private final long maxClockSkewMillis;
    private final SingleObjectCodec<FraudLabel> codec = SingleObjectCodec.of(FraudLabel.class);
    private transient Counter deadLetters;

    public LabelDecoder(Duration maxClockSkew) {
        this.maxClockSkewMillis = maxClockSkew.toMillis();
    }

    @Override
    public void open(OpenContext openContext) {
        deadLetters = getRuntimeContext().getMetricGroup().counter(DEAD_LETTERS);
    }

    @Override
    public void processElement(KafkaRecord record, Context ctx, Collector<FraudLabel> out) {
        FraudLabel label =
                decode(
                        record,
                        System.currentTimeMillis() + maxClockSkewMillis,
                        letter -> {
                            deadLetters.inc();
                            ctx.output(DeadLetters.TAG, letter);
                        });
        if (label != null) {
            out.collect(label);
        }
    }

    /**
     * The valid label {@code record} holds, or {@code null} after handing {@code rejected} exactly
     * one dead letter saying why; never throws.
     *
     * @param latestMillis the latest {@code labelled_at} accepted
     */
    public FraudLabel decode(KafkaRecord record, long latestMillis, Consumer<DeadLetter> rejected) {
        SmallRecordDecoding.Result<FraudLabel> decoded =
                SmallRecordDecoding.decode(record, codec, MAX_LABEL_BYTES, "a label");
        FraudLabel label = decoded.value();
        if (label == null) {
            rejected.accept(decoded.deadLetter(record, Stage.DECODE, null));
            return null;
        }
        String problem = problemWith(label, latestMillis);
        if (problem == null) {
            return label;
        }
        rejected.accept(
                SmallRecordDecoding.deadLetter(
                        record, Stage.VALIDATE, problem, null, label.getTransactionId()));
        return null;
    }

    /** What is wrong with a decoded label, or null. */
    static String problemWith(FraudLabel label, long latestMillis) {
        String id = label.getTransactionId();
        if (id.isEmpty() || id.length() > EventDecoder.MAX_ID_CHARS) {
            return "transaction_id must have 1 to "
                    + EventDecoder.MAX_ID_CHARS
                    + " characters, found "
                    + id.length();
        }
        Instant at = label.getLabelledAt();
        if (at.isBefore(EventDecoder.EARLIEST) || at.toEpochMilli() > latestMillis) {
            return "labelled_at "
                    + at
                    + " is before "
                    + EventDecoder.EARLIEST
                    + " or later than the wall clock allows ("
                    + Instant.ofEpochMilli(latestMillis)
                    + ")";
        }
        return null;
    }
}
