package dev.streamscore.operators.serde;

import static dev.streamscore.operators.serde.HostileInputs.CODEC;
import static dev.streamscore.operators.serde.HostileInputs.concat;
import static dev.streamscore.operators.serde.HostileInputs.header;
import static dev.streamscore.operators.serde.HostileInputs.transaction;
import static dev.streamscore.operators.serde.HostileInputs.varint;

import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.LabelSource;
import dev.streamscore.schemas.LabelValue;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Writes the regression corpus of hostile records in {@code
 * operators/src/test/resources/decode-corpus/}, one file per kind, named {@code
 * <stage>--<kind>.bin} with the stage that must reject it, when {@link EventDecoder} decodes it
 * with the bundled card-fraud pipeline (its checks included) at {@link #NOW}. {@link
 * DecodeCorpusTest} runs every file there, including any added by hand (a fuzz failure's bytes, a
 * record seen in production).
 *
 * <p>Run it again only to add kinds: {@code java -cp ... DecodeCorpus
 * operators/src/test/resources}.
 */
final class DecodeCorpus {

    static final String DIRECTORY = "decode-corpus";

    /** The current time the corpus's event-time cases are judged against. */
    static final Instant NOW = Instant.parse("2026-12-01T00:00:00Z");

    private DecodeCorpus() {}

    static Map<String, byte[]> cases() {
        Map<String, byte[]> c = new LinkedHashMap<>();
        byte[] valid = CODEC.encode(transaction("tx-1", NOW.minusSeconds(60)));
        c.put("decode--empty-value-or-tombstone", new byte[0]);
        byte[] random = new byte[64];
        new Random(20261202).nextBytes(random);
        random[0] = 0x42;
        c.put("decode--random-bytes", random);
        c.put(
                "decode--json-not-avro",
                "{\"transaction_id\":\"tx-1\"}".getBytes(StandardCharsets.UTF_8));
        c.put("decode--header-only", header());
        byte[] unknown = valid.clone();
        Arrays.fill(unknown, 2, 10, (byte) 0);
        c.put("decode--unknown-schema-fingerprint", unknown);
        c.put("decode--truncated-body", Arrays.copyOf(valid, valid.length - 5));
        // The 16-byte record: a string length above 2^31.
        c.put("decode--string-length-past-the-vm-limit", concat(header(), varint((1L << 31) + 5)));
        c.put(
                "decode--string-length-beyond-the-heap",
                concat(header(), varint(Integer.MAX_VALUE - 100L)));
        c.put(
                "decode--string-length-past-the-reader-limit",
                concat(header(), varint(16L * 1024 * 1024 + 1)));
        c.put("decode--string-length-past-the-end", concat(header(), varint(1000), bytes("abc")));
        c.put("decode--string-length-negative", concat(header(), varint(-5)));
        c.put(
                "decode--long-of-eleven-bytes",
                concat(
                        header(),
                        str("tx"),
                        str("c"),
                        str("m"),
                        str("5411"),
                        new byte[] {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1}));
        c.put("decode--enum-index-out-of-range", body(7, 0, NOW.toEpochMilli()));
        c.put("decode--enum-index-negative", body(-1, 0, NOW.toEpochMilli()));
        c.put("decode--union-index-out-of-range", body(0, 5, NOW.toEpochMilli()));
        c.put(
                "validate--event-time-in-microseconds",
                CODEC.encode(
                        transaction("tx-micros", Instant.ofEpochMilli(NOW.toEpochMilli() * 1000))));
        c.put(
                "validate--event-time-long-max",
                CODEC.encode(transaction("tx-max", Instant.ofEpochMilli(Long.MAX_VALUE))));
        c.put(
                "validate--event-time-long-min",
                CODEC.encode(transaction("tx-min", Instant.ofEpochMilli(Long.MIN_VALUE))));
        c.put(
                "validate--event-time-in-2100",
                CODEC.encode(transaction("tx-ahead", Instant.parse("2100-01-01T00:00:00Z"))));
        c.put(
                "validate--transaction-id-of-64-kib",
                CODEC.encode(transaction("x".repeat(65_536), NOW)));
        c.put("validate--transaction-id-empty", CODEC.encode(transaction("", NOW)));
        // Written for the generic decoder (EventDecoder with the card-fraud pipeline): a record of
        // another schema on the topic, the key field, and the pipeline file's checks.
        c.put(
                "decode--a-fraud-label-not-a-transaction",
                SingleObjectCodec.of(FraudLabel.class)
                        .encode(
                                FraudLabel.newBuilder()
                                        .setTransactionId("tx-1")
                                        .setLabel(LabelValue.FRAUD)
                                        .setSource(LabelSource.CHARGEBACK)
                                        .setLabelledAt(NOW)
                                        .build()));
        c.put(
                "validate--event-time-before-2000",
                CODEC.encode(transaction("tx-old", Instant.parse("1999-12-31T23:59:59.999Z"))));
        Transaction noCard = transaction("tx-no-card", NOW);
        noCard.setCardId("");
        c.put("validate--card-id-empty", CODEC.encode(noCard));
        Transaction longCard = transaction("tx-long-card", NOW);
        longCard.setCardId("c".repeat(129));
        c.put("validate--card-id-of-129-chars", CODEC.encode(longCard));
        Transaction lineEnd = transaction("tx-mcc-line-end", NOW);
        // java.util.regex's $ matches before a final line end; CEL's (RE2's) does not.
        lineEnd.setMerchantCategory("5411\n");
        c.put("validate--check-merchant-category-with-a-line-end", CODEC.encode(lineEnd));
        Transaction lower = transaction("tx-currency", NOW);
        lower.setCurrency("usd");
        c.put("validate--check-currency-in-lower-case", CODEC.encode(lower));
        Transaction free = transaction("tx-zero", NOW);
        free.setAmountMinor(0);
        c.put("validate--check-amount-zero", CODEC.encode(free));
        return c;
    }

    /** A Transaction body written field by field, with a chosen enum and union index. */
    private static byte[] body(int channelIndex, int deviceUnionIndex, long eventTimeMillis) {
        return concat(
                header(),
                str("tx-raw"),
                str("card-1"),
                str("m-1"),
                str("5411"),
                varint(999),
                str("USD"),
                str("US"),
                varint(channelIndex),
                new byte[] {1},
                varint(eventTimeMillis),
                varint(deviceUnionIndex),
                str("device"));
    }

    private static byte[] str(String s) {
        byte[] b = bytes(s);
        return concat(varint(b.length), b);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        Path dir =
                Path.of(args.length > 0 ? args[0] : "operators/src/test/resources")
                        .resolve(DIRECTORY);
        Files.createDirectories(dir);
        for (Map.Entry<String, byte[]> e : cases().entrySet()) {
            Files.write(dir.resolve(e.getKey() + ".bin"), e.getValue());
        }
    }
}
