package dev.streamscore.operators.serde;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.events.AvroEvents;
import dev.streamscore.pipeline.events.DecodeException;
import dev.streamscore.pipeline.events.EventFields;
import dev.streamscore.pipeline.events.JsonEvents;
import dev.streamscore.pipeline.expr.Variables;
import dev.streamscore.pipeline.expr.Vars;
import dev.streamscore.pipeline.features.FeatureEngine;
import dev.streamscore.pipeline.features.FeatureException;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.serde.AvroReaderLimits;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.function.BiConsumer;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericRecord;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Decodes a pipeline's input records (its {@code input.format}: Avro single-object encoding or
 * JSON) into its reader schema and validates them: a key, an id and a time that make sense, then
 * the file's {@code checks}. A record that does not decode goes to the dead-letter side output with
 * stage DECODE, one that decodes but is not valid with stage VALIDATE; both with the original bytes
 * and their Kafka coordinates. No input bytes make it throw ({@code EventDecoderFuzzTest}).
 *
 * <pre>{@code
 * SingleOutputStreamOperator<PipelineEvent> valid =
 *         raw.process(new EventDecoder(pipeline.definition(), 1 << 20, Duration.ofMinutes(5)))
 *                 .uid("decode-validate").name("decode + validate");
 * DataStream<DeadLetter> rejected = valid.getSideOutput(DeadLetters.TAG);
 * }</pre>
 */
public class EventDecoder extends ProcessFunction<KafkaRecord, PipelineEvent> {

    private static final long serialVersionUID = 1L;

    /** Default of {@code max-record-bytes}: the default largest record of a Kafka topic. */
    public static final int DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

    /** Largest {@code max-record-bytes} accepted: what Avro's reader limits let through. */
    public static final int MAX_RECORD_BYTES_LIMIT = AvroReaderLimits.MAX_STRING_BYTES;

    /** Earliest event time accepted; anything before is a unit or encoding mistake. */
    public static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z");

    /** How far past the wall clock an event time may be by default. */
    public static final Duration DEFAULT_MAX_CLOCK_SKEW = Duration.ofMinutes(5);

    /** Longest key and id accepted, in characters. */
    public static final int MAX_ID_CHARS = 128;

    /**
     * Counter of the nanoseconds spent decoding and validating (downstream operators excluded), for
     * the per-stage cost {@code streamscore bench} reports.
     */
    public static final String DECODE_TIME_NANOS = "decodeTimeNanos";

    /** Name of the counter of records that could not be decoded (dead letters, stage DECODE). */
    public static final String DEAD_LETTERS_DECODE = "deadLettersDecode";

    /** Name of the counter of decoded records that failed validation (stage VALIDATE). */
    public static final String DEAD_LETTERS_VALIDATE = "deadLettersValidate";

    private final PipelineDefinition definition;
    private final int maxRecordBytes;
    private final long maxClockSkewMillis;

    private transient Pipeline.Format format;
    private transient AvroEvents avro;
    private transient JsonEvents json;
    private transient EventFields fields;
    private transient FeatureEngine engine;
    private transient int keyPos;
    private transient int idPos;
    private transient int timePos;
    private transient byte[] readerFingerprint;
    private transient Variables.Variable keyVar;
    private transient Variables.Variable idVar;
    private transient Variables.Variable timeVar;
    private transient Counter decodeFailures;
    private transient Counter validationFailures;
    private transient Counter decodeTimeNanos;

    /**
     * @param maxRecordBytes records larger than this are dead letters without being decoded
     * @param maxClockSkew how far past the wall clock an event time may be
     */
    public EventDecoder(PipelineDefinition definition, int maxRecordBytes, Duration maxClockSkew) {
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
        this.definition = definition;
        this.maxRecordBytes = maxRecordBytes;
        this.maxClockSkewMillis = maxClockSkew.toMillis();
    }

    @Override
    public void open(OpenContext openContext) throws Exception {
        open();
        decodeFailures = getRuntimeContext().getMetricGroup().counter(DEAD_LETTERS_DECODE);
        validationFailures = getRuntimeContext().getMetricGroup().counter(DEAD_LETTERS_VALIDATE);
        decodeTimeNanos = getRuntimeContext().getMetricGroup().counter(DECODE_TIME_NANOS);
    }

    /** Builds what decoding needs; for tests that call {@link #decode} without Flink. */
    void open() throws Exception {
        Pipeline pipeline = Pipeline.of(definition);
        format = pipeline.inputFormat();
        avro = new AvroEvents(pipeline.inputSchema());
        json = format == Pipeline.Format.JSON ? new JsonEvents(pipeline.inputSchema()) : null;
        Pipeline.Compiled compiled = pipeline.newEngine(1);
        fields = compiled.fields();
        // The decoder reads the key, id and time too, whether or not an expression does.
        java.util.Set<String> read = new java.util.HashSet<>(compiled.referenced());
        read.addAll(
                java.util.List.of(pipeline.keyField(), pipeline.idField(), pipeline.timeField()));
        fields.readOnly(read);
        engine = compiled.engine();
        keyPos = pipeline.inputSchema().getField(pipeline.keyField()).pos();
        idPos = pipeline.inputSchema().getField(pipeline.idField()).pos();
        timePos = pipeline.inputSchema().getField(pipeline.timeField()).pos();
        readerFingerprint =
                SchemaNormalization.parsingFingerprint("CRC-64-AVRO", pipeline.inputSchema());
        keyVar = compiled.variables().get(pipeline.keyField());
        idVar = compiled.variables().get(pipeline.idField());
        timeVar = compiled.variables().get(pipeline.timeField());
    }

    @Override
    public void processElement(KafkaRecord record, Context ctx, Collector<PipelineEvent> out) {
        long start = System.nanoTime();
        PipelineEvent valid = decode(record, System.currentTimeMillis(), this::reject, ctx);
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
     * The event {@code record} holds, or null after handing {@code rejected} its one dead letter.
     * Never throws for any bytes.
     *
     * @param nowMillis the wall clock, against which event times are checked
     */
    <C> PipelineEvent decode(
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
        if (direct(bytes)) {
            return decodeDirect(record, bytes, nowMillis, rejected, context);
        }
        GenericRecord event;
        try {
            event = format == Pipeline.Format.JSON ? json.decode(bytes) : avro.decodeMessage(bytes);
        } catch (DecodeException | RuntimeException | StackOverflowError e) {
            rejected.accept(deadLetter(record, Stage.DECODE, e, null), context);
            return null;
        }
        String id = null;
        try {
            fields.load(event, engine.vars());
            id = EventFields.text(event.get(idPos));
            return validated(
                    record,
                    bytes,
                    id,
                    EventFields.text(event.get(keyPos)),
                    event.get(timePos),
                    nowMillis,
                    () -> body(bytes, event),
                    rejected,
                    context);
        } catch (RuntimeException e) {
            rejected.accept(deadLetter(record, Stage.VALIDATE, e, cut(id)), context);
            return null;
        }
    }

    /**
     * Whether {@code bytes} are single-object encoded with the reader schema itself, which a direct
     * read takes straight into the variables, no record built: the job's own format.
     */
    private boolean direct(byte[] bytes) {
        return format == Pipeline.Format.AVRO
                && fields.readsBinary()
                && bytes.length >= 10
                && bytes[0] == (byte) 0xC3
                && bytes[1] == 0x01
                && Arrays.equals(bytes, 2, 10, readerFingerprint, 0, 8);
    }

    private <C> PipelineEvent decodeDirect(
            KafkaRecord record,
            byte[] bytes,
            long nowMillis,
            BiConsumer<DeadLetter, C> rejected,
            C context) {
        Vars vars = engine.vars();
        try {
            fields.readBinary(bytes, 10, bytes.length - 10, vars);
        } catch (java.io.IOException | RuntimeException | StackOverflowError e) {
            rejected.accept(
                    deadLetter(
                            record,
                            Stage.DECODE,
                            e.getClass().getName(),
                            "body of "
                                    + bytes.length
                                    + " bytes does not decode as "
                                    + avro.schema().getName()
                                    + ": "
                                    + e.getMessage(),
                            null),
                    context);
            return null;
        }
        String id = null;
        try {
            id = EventFields.text(idVar.get(vars));
            return validated(
                    record,
                    bytes,
                    id,
                    EventFields.text(keyVar.get(vars)),
                    timeVar.get(vars),
                    nowMillis,
                    () -> Arrays.copyOfRange(bytes, 10, bytes.length),
                    rejected,
                    context);
        } catch (RuntimeException e) {
            rejected.accept(deadLetter(record, Stage.VALIDATE, e, cut(id)), context);
            return null;
        }
    }

    /** The event once its key, id and time make sense and the file's checks pass; else null. */
    private <C> PipelineEvent validated(
            KafkaRecord record,
            byte[] bytes,
            String id,
            String key,
            Object time,
            long nowMillis,
            java.util.function.Supplier<byte[]> body,
            BiConsumer<DeadLetter, C> rejected,
            C context) {
        String problem =
                firstNonNull(
                        id("id", definitionField(idPos), id),
                        id("key", definitionField(keyPos), key),
                        time(time, nowMillis + maxClockSkewMillis));
        if (problem != null) {
            rejected.accept(
                    deadLetter(
                            record,
                            Stage.VALIDATE,
                            "dev.streamscore.InvalidEvent",
                            problem,
                            cut(id)),
                    context);
            return null;
        }
        try {
            engine.check();
        } catch (FeatureException e) {
            rejected.accept(
                    deadLetter(
                            record,
                            Stage.VALIDATE,
                            "dev.streamscore.CheckFailed",
                            e.getMessage(),
                            cut(id)),
                    context);
            return null;
        }
        return new PipelineEvent(
                key,
                id,
                ((Number) time).longValue(),
                body.get(),
                bytes,
                record.topic,
                record.partition,
                record.offset);
    }

    private String definitionField(int pos) {
        return avro.schema().getFields().get(pos).name();
    }

    /**
     * The event's reader-schema body: the record's own bytes after the single-object header when it
     * was written with the reader schema itself (no re-encoding), else the event encoded again.
     */
    private byte[] body(byte[] bytes, GenericRecord event) {
        if (format == Pipeline.Format.AVRO
                && bytes.length >= 10
                && Arrays.equals(bytes, 2, 10, readerFingerprint, 0, 8)) {
            return Arrays.copyOfRange(bytes, 10, bytes.length);
        }
        return avro.toBinary(event);
    }

    private static String id(String what, String field, String value) {
        if (value == null || value.isBlank()) {
            return field + " (the " + what + "): expected a non-empty value, found " + quote(value);
        }
        if (value.length() > MAX_ID_CHARS) {
            return field
                    + " (the "
                    + what
                    + "): expected at most "
                    + MAX_ID_CHARS
                    + " characters, found "
                    + value.length()
                    + " starting "
                    + quote(value);
        }
        int unpaired = unpairedSurrogate(value);
        if (unpaired >= 0) {
            // Only a JSON escape of a lone surrogate makes one. It has no UTF-8: the body would
            // hold '?' instead, and the event's key or id would not be the one its body says.
            return field
                    + " (the "
                    + what
                    + "): expected text, found an unpaired UTF-16 surrogate at character "
                    + unpaired;
        }
        return null;
    }

    /** Index of the first surrogate that is not half of a pair, or -1. */
    private static int unpairedSurrogate(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isHighSurrogate(c)
                    && i + 1 < value.length()
                    && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    private String time(Object time, long latestMillis) {
        String field = definitionField(timePos);
        if (!(time instanceof Number)) {
            return field + " (the time): expected milliseconds since 1970, found " + time;
        }
        long t = ((Number) time).longValue();
        if (t < EARLIEST.toEpochMilli()) {
            return field
                    + " (the time): expected a time after "
                    + EARLIEST
                    + ", found "
                    + t
                    + " ms";
        }
        if (t > latestMillis) {
            return field
                    + " (the time): expected a time no later than "
                    + Instant.ofEpochMilli(latestMillis)
                    + " (now plus the allowed clock skew), found "
                    + (t > 253402300799999L ? t + " ms" : Instant.ofEpochMilli(t).toString())
                    + " (a time in microseconds or nanoseconds read as milliseconds?)";
        }
        return null;
    }

    private static String firstNonNull(String a, String b, String c) {
        return a != null ? a : b != null ? b : c;
    }

    private static String cut(String id) {
        return id == null || id.length() <= 256 ? id : id.substring(0, 256);
    }

    private static String quote(String value) {
        if (value == null) {
            return "null";
        }
        if (value.length() <= 64) {
            return "'" + value + "'";
        }
        return "'" + value.substring(0, 64) + "...' (" + value.length() + " characters)";
    }

    private static DeadLetter deadLetter(
            KafkaRecord record, Stage stage, Throwable error, String id) {
        return deadLetter(
                record, stage, error.getClass().getName(), String.valueOf(error.getMessage()), id);
    }

    private static DeadLetter deadLetter(
            KafkaRecord record, Stage stage, String errorClass, String message, String id) {
        return DeadLetters.of(
                record.value,
                record.topic,
                record.partition,
                record.offset,
                stage,
                errorClass,
                message,
                id);
    }
}
