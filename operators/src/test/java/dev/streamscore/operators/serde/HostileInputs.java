package dev.streamscore.operators.serde;

import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.PipelineException;
import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;

/**
 * Byte-level building blocks of hostile input records: valid encodings to start from, Avro varints
 * for any length a mutation wants to claim, and the header of the current Transaction schema (the
 * reader schema of the bundled card-fraud pipeline); and the pipelines and decoders the decode
 * tests run.
 */
final class HostileInputs {

    static final SingleObjectCodec<Transaction> CODEC = SingleObjectCodec.of(Transaction.class);

    /** Bytes of the single-object header (marker and fingerprint) of the current schema. */
    static final int HEADER_BYTES = 10;

    /** The bundled card-fraud pipeline (Avro single-object Transactions). */
    static final Pipeline CARD_FRAUD = load(PipelineDefinition.DEFAULT);

    /** The payouts example (JSON events), from the operators module's working directory. */
    static final Pipeline PAYOUTS =
            load(Path.of("..", "pipelines/examples/payouts/payouts.yaml").toString());

    private HostileInputs() {}

    private static Pipeline load(String location) {
        try {
            return Pipeline.load(location, null, false);
        } catch (PipelineException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A decoder of {@code pipeline} opened without Flink, with the default clock skew. */
    static EventDecoder decoder(Pipeline pipeline, int maxRecordBytes) {
        EventDecoder decoder =
                new EventDecoder(
                        pipeline.definition(), maxRecordBytes, EventDecoder.DEFAULT_MAX_CLOCK_SKEW);
        try {
            decoder.open();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return decoder;
    }

    /** A decoder of {@code pipeline} with the default max-record-bytes and clock skew. */
    static EventDecoder decoder(Pipeline pipeline) {
        return decoder(pipeline, EventDecoder.DEFAULT_MAX_RECORD_BYTES);
    }

    /** The default clock skew in milliseconds. */
    static final long SKEW_MILLIS = Duration.ofMinutes(5).toMillis();

    static Transaction transaction(String id, Instant eventTime) {
        return Transaction.newBuilder()
                .setTransactionId(id)
                .setCardId("card-1")
                .setMerchantId("m-1")
                .setMerchantCategory("5411")
                .setAmountMinor(999)
                .setCurrency("USD")
                .setCountry("US")
                .setChannel(Channel.POS)
                .setCardPresent(true)
                .setEventTime(eventTime)
                .setDeviceId(null)
                .build();
    }

    static byte[] header() {
        return Arrays.copyOf(
                CODEC.encode(transaction("x", Instant.parse("2026-11-01T00:00:00Z"))),
                HEADER_BYTES);
    }

    /** Avro's zig-zag varint of {@code value}. */
    static byte[] varint(long value) {
        long n = (value << 1) ^ (value >> 63);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while ((n & ~0x7FL) != 0) {
            out.write((int) ((n & 0x7F) | 0x80));
            n >>>= 7;
        }
        out.write((int) n);
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
