package dev.streamscore.operators.serde;

import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.io.ByteArrayOutputStream;
import java.time.Instant;
import java.util.Arrays;

/**
 * Byte-level building blocks of hostile input records: valid encodings to start from, Avro varints
 * for any length a mutation wants to claim, and the header of the current Transaction schema.
 */
final class HostileInputs {

    static final SingleObjectCodec<Transaction> CODEC = SingleObjectCodec.of(Transaction.class);

    /** Bytes of the single-object header (marker and fingerprint) of the current schema. */
    static final int HEADER_BYTES = 10;

    private HostileInputs() {}

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
