package dev.streamscore.operators.serde;

import static dev.streamscore.operators.serde.HostileInputs.CARD_FRAUD;
import static dev.streamscore.operators.serde.HostileInputs.CODEC;
import static dev.streamscore.operators.serde.HostileInputs.PAYOUTS;
import static dev.streamscore.operators.serde.HostileInputs.SKEW_MILLIS;
import static dev.streamscore.operators.serde.HostileInputs.concat;
import static dev.streamscore.operators.serde.HostileInputs.header;
import static dev.streamscore.operators.serde.HostileInputs.varint;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.events.AvroEvents;
import dev.streamscore.pipeline.events.DecodeException;
import dev.streamscore.pipeline.events.EventFields;
import dev.streamscore.pipeline.events.JsonEvents;
import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;
import org.apache.avro.generic.GenericRecord;

/**
 * Property-based fuzzing of {@link EventDecoder}: decode and validation of the bundled card-fraud
 * pipeline's Avro records (100,000 per run: random bytes, a valid header with a random body, or a
 * valid encoding of a random transaction put through up to four mutations: bit flips, overwritten
 * and inserted bytes, Avro lengths from 0 to far beyond the heap, cuts and repeats), and of the
 * payouts example's JSON records (random bytes and text, and JSON objects with fields of the wrong
 * type, missing, unknown, null, huge numbers, deep nesting, any unicode, cut and flipped). Whatever
 * the bytes, the decoder gives an event that is valid (its body reads back as the record decoded,
 * its key, id and time are sane, the file's checks hold) or exactly one dead letter that fits on
 * its topic, identifies the original bytes and says why; and never throws. A record decodes (DECODE
 * or not) exactly when the pipeline's reader alone can read it.
 *
 * <p>The share of each outcome is checked too, so that the generators keep reaching validation and
 * valid events, not only the header check. jqwik prints the seed of any failure; put the failing
 * bytes into {@code src/test/resources/decode-corpus/} (see {@link DecodeCorpusTest}).
 */
class EventDecoderFuzzTest {

    private static final long NOW = Instant.parse("2026-12-01T00:00:00Z").toEpochMilli();
    private static final SingleObjectCodec<DeadLetter> DEAD_LETTERS =
            SingleObjectCodec.of(DeadLetter.class);

    /** The small max-record-bytes of a second decoder that must agree below it. */
    private static final int SMALL_MAX = 96;

    private final EventDecoder avro = HostileInputs.decoder(CARD_FRAUD);
    private final EventDecoder avroSmall = HostileInputs.decoder(CARD_FRAUD, SMALL_MAX);
    private final Reference avroReference = new Reference(CARD_FRAUD);

    private final EventDecoder json = HostileInputs.decoder(PAYOUTS);
    private final Reference jsonReference = new Reference(PAYOUTS);

    // The generators name their edge values themselves; jqwik's own would crowd out the rest.
    @Property(tries = 100_000, shrinking = ShrinkingMode.BOUNDED, edgeCases = EdgeCasesMode.NONE)
    void anyBytesGiveAValidCardEventOrExactlyOneDeadLetter(@ForAll("avroRecords") byte[] bytes) {
        String outcome =
                check(
                        avro,
                        EventDecoder.DEFAULT_MAX_RECORD_BYTES,
                        avroReference,
                        bytes,
                        "transactions",
                        3,
                        77);
        Statistics.label("outcome").collect(outcome);
        Statistics.label("outcome")
                .coverage(
                        c -> {
                            c.check("DECODE").percentage(p -> p > 20);
                            c.check("VALIDATE").percentage(p -> p > 5);
                            c.check("valid").percentage(p -> p > 1);
                        });

        // A decoder with a small max-record-bytes refuses what is larger, unread, and agrees on
        // the rest.
        String small = check(avroSmall, SMALL_MAX, avroReference, bytes, "transactions", 3, 77);
        if (bytes.length > SMALL_MAX) {
            assertThat(small).isEqualTo("DECODE");
        } else {
            assertThat(small).isEqualTo(outcome);
        }
    }

    @Property(tries = 50_000, shrinking = ShrinkingMode.BOUNDED, edgeCases = EdgeCasesMode.NONE)
    void anyBytesGiveAValidPayoutOrExactlyOneDeadLetter(@ForAll("jsonRecords") byte[] bytes) {
        String outcome =
                check(
                        json,
                        EventDecoder.DEFAULT_MAX_RECORD_BYTES,
                        jsonReference,
                        bytes,
                        "payouts",
                        0,
                        Long.MAX_VALUE);
        Statistics.label("outcome").collect(outcome);
        Statistics.label("outcome")
                .coverage(
                        c -> {
                            c.check("DECODE").percentage(p -> p > 20);
                            c.check("VALIDATE").percentage(p -> p > 2);
                            c.check("valid").percentage(p -> p > 5);
                        });
    }

    /**
     * Decodes {@code bytes} with {@code decoder} and checks the outcome against the pipeline's
     * reader alone: {@code "valid"}, or the stage of the one dead letter.
     */
    static String check(
            EventDecoder decoder,
            int maxRecordBytes,
            Reference reference,
            byte[] bytes,
            String topic,
            int partition,
            long offset) {
        List<DeadLetter> letters = new ArrayList<>();
        PipelineEvent event;
        try {
            event =
                    decoder.decode(
                            new KafkaRecord(bytes, topic, partition, offset, 0),
                            NOW,
                            (letter, ignored) -> letters.add(letter),
                            null);
        } catch (Throwable t) {
            throw new AssertionError("the decoder threw on " + Arrays.toString(bytes), t);
        }
        GenericRecord expected = reference.read(bytes);

        if (event != null) {
            assertThat(letters).isEmpty();
            assertThat(expected).as("what the reader alone reads").isNotNull();
            reference.assertValid(event, expected, NOW);
            assertThat(event.raw).isEqualTo(bytes);
            assertThat(event.sourceTopic).isEqualTo(topic);
            assertThat(event.sourcePartition).isEqualTo(partition);
            assertThat(event.sourceOffset).isEqualTo(offset);
            assertThat(event.features).isNull();
            return "valid";
        }
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.getStage()).isIn(Stage.DECODE, Stage.VALIDATE);
        assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
        assertThat(letter.getPayloadSha256()).isEqualTo(DeadLetters.sha256(bytes));
        assertThat(letter.getPayload().remaining())
                .isEqualTo(Math.min(bytes.length, DeadLetters.MAX_PAYLOAD_BYTES));
        assertThat(letter.getSourceTopic()).isEqualTo(topic);
        assertThat(letter.getSourcePartition()).isEqualTo(partition);
        assertThat(letter.getSourceOffset()).isEqualTo(offset);
        assertThat(letter.getErrorClass()).isNotBlank();
        assertThat(letter.getErrorMessage()).isNotBlank();
        assertThat(letter.getErrorMessage().length())
                .isLessThanOrEqualTo(DeadLetters.MAX_MESSAGE_CHARS);
        assertThat(DEAD_LETTERS.encode(letter).length)
                .isLessThanOrEqualTo(DeadLetters.MAX_ENCODED_BYTES);
        if (letter.getStage() == Stage.VALIDATE) {
            assertThat(expected)
                    .as("a VALIDATE letter's record reads: %s", letter.getErrorMessage())
                    .isNotNull();
        } else if (bytes.length <= maxRecordBytes) {
            assertThat(expected)
                    .as("a DECODE letter's record does not read: %s", letter.getErrorMessage())
                    .isNull();
        }
        return letter.getStage().name();
    }

    /** The pipeline's reader, checks and fields, apart from the decoder under test. */
    static final class Reference {
        final Pipeline pipeline;
        final AvroEvents avro;
        final JsonEvents json;
        final Pipeline.Compiled compiled;

        Reference(Pipeline pipeline) {
            this.pipeline = pipeline;
            this.avro = new AvroEvents(pipeline.inputSchema());
            this.json =
                    pipeline.inputFormat() == Pipeline.Format.JSON
                            ? new JsonEvents(pipeline.inputSchema())
                            : null;
            this.compiled = pipeline.newEngine(1);
        }

        /** The record in {@code bytes} as the pipeline's format reads it, or null. */
        GenericRecord read(byte[] bytes) {
            try {
                return json != null ? json.decode(bytes) : avro.decodeMessage(bytes);
            } catch (DecodeException e) {
                return null;
            }
        }

        void assertValid(PipelineEvent event, GenericRecord expected, long now) {
            GenericRecord body = avro.fromBinary(event.body);
            // Strings as Avro writes them (an unpaired surrogate of a JSON escape becomes '?').
            assertThat(body).isEqualTo(asWritten(expected));
            assertThat(event.key).isEqualTo(EventFields.text(body.get(pipeline.keyField())));
            assertThat(event.id).isEqualTo(EventFields.text(body.get(pipeline.idField())));
            assertThat(event.key)
                    .isEqualTo(EventFields.text(expected.get(pipeline.keyField())))
                    .isNotBlank()
                    .hasSizeLessThanOrEqualTo(EventDecoder.MAX_ID_CHARS);
            assertThat(event.id)
                    .isEqualTo(EventFields.text(expected.get(pipeline.idField())))
                    .isNotBlank()
                    .hasSizeLessThanOrEqualTo(EventDecoder.MAX_ID_CHARS);
            assertThat(event.time)
                    .isEqualTo(((Number) expected.get(pipeline.timeField())).longValue())
                    .isBetween(EventDecoder.EARLIEST.toEpochMilli(), now + SKEW_MILLIS);
            compiled.fields().load(body, compiled.vars());
            assertThatCode(() -> compiled.engine().check()).doesNotThrowAnyException();
        }

        private GenericRecord asWritten(GenericRecord r) {
            return avro.fromBinary(avro.toBinary(r));
        }
    }

    // --- Avro records of the card-fraud pipeline ---------------------------------------------

    @Provide
    Arbitrary<byte[]> avroRecords() {
        return Arbitraries.frequencyOf(
                Tuple.of(1, randomBytes()),
                Tuple.of(1, randomBytes().map(body -> concat(header(), body))),
                Tuple.of(6, mutatedEncodings()));
    }

    private static Arbitrary<byte[]> randomBytes() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
    }

    private static Arbitrary<byte[]> mutatedEncodings() {
        Arbitrary<Mutation> mutation =
                Combinators.combine(
                                Arbitraries.integers().between(0, 5),
                                Arbitraries.integers().between(0, 1_000),
                                lengths())
                        .as(Mutation::new);
        Arbitrary<List<Mutation>> mutations =
                Arbitraries.frequencyOf(
                        Tuple.of(1, Arbitraries.just(List.<Mutation>of())),
                        Tuple.of(4, mutation.list().ofMinSize(1).ofMaxSize(4)));
        return Combinators.combine(transactions(), mutations)
                .as(
                        (txn, changes) -> {
                            byte[] bytes = CODEC.encode(txn);
                            for (Mutation m : changes) {
                                bytes = m.applyTo(bytes);
                            }
                            return bytes;
                        });
    }

    /** Lengths and longs a mutation writes as an Avro varint, edges of every limit included. */
    private static Arbitrary<Long> lengths() {
        return Arbitraries.oneOf(
                Arbitraries.longs().between(-3, 300),
                Arbitraries.of(
                        16L * 1024 * 1024,
                        16L * 1024 * 1024 + 1,
                        Integer.MAX_VALUE - 9L,
                        Integer.MAX_VALUE - 8L,
                        (long) Integer.MAX_VALUE,
                        1L << 31,
                        (1L << 31) + 5,
                        1L << 40,
                        Long.MAX_VALUE,
                        Long.MIN_VALUE,
                        -1L),
                Arbitraries.longs());
    }

    private static Arbitrary<Transaction> transactions() {
        // Each field mostly valid, so that a good share of records reaches validation and passes;
        // otherwise around each check's limits.
        Arbitrary<String> ids =
                Arbitraries.frequencyOf(
                        Tuple.of(
                                8,
                                Arbitraries.strings()
                                        .alpha()
                                        .numeric()
                                        .ofMinLength(1)
                                        .ofMaxLength(20)),
                        Tuple.of(1, Arbitraries.strings().ofMaxLength(200)),
                        Tuple.of(
                                1,
                                Arbitraries.strings()
                                        .withChars('x')
                                        .ofMinLength(127)
                                        .ofMaxLength(130)));
        Arbitrary<String> merchants =
                Arbitraries.frequencyOf(
                        Tuple.of(8, ids.map(id -> "m-" + id)),
                        Tuple.of(1, Arbitraries.of("", " ", "m".repeat(128), "m".repeat(129))));
        Arbitrary<String> categories =
                Arbitraries.frequencyOf(
                        Tuple.of(8, Arbitraries.strings().numeric().ofLength(4)),
                        Tuple.of(1, Arbitraries.of("5411\n", "541", "54110", "")),
                        Tuple.of(1, Arbitraries.strings().ofMaxLength(6)));
        Arbitrary<Long> amounts =
                Arbitraries.frequencyOf(
                        Tuple.of(8, Arbitraries.longs().between(1, 10_000_000)),
                        Tuple.of(
                                1,
                                Arbitraries.of(
                                        0L,
                                        -1L,
                                        1_000_000_000_000L,
                                        1_000_000_000_001L,
                                        Long.MAX_VALUE,
                                        Long.MIN_VALUE)),
                        Tuple.of(1, Arbitraries.longs()));
        Arbitrary<String> currencies =
                mostly(Arbitraries.of("EUR", "USD", "GBP"), Arbitraries.of("usd", "USD\n", "EURO"));
        Arbitrary<String> countries =
                mostly(Arbitraries.of("US", "DE", "GB"), Arbitraries.of("us", "DE\n", "USA"));
        Arbitrary<Long> times =
                Arbitraries.oneOf(
                        Arbitraries.longs()
                                .between(EventDecoder.EARLIEST.toEpochMilli(), NOW + 10 * 60_000),
                        Arbitraries.longs()
                                .between(EventDecoder.EARLIEST.toEpochMilli(), NOW + 10 * 60_000),
                        Arbitraries.of(
                                Long.MIN_VALUE,
                                Long.MAX_VALUE,
                                NOW * 1000,
                                0L,
                                -1L,
                                EventDecoder.EARLIEST.toEpochMilli() - 1,
                                EventDecoder.EARLIEST.toEpochMilli(),
                                NOW + SKEW_MILLIS,
                                NOW + SKEW_MILLIS + 1),
                        Arbitraries.longs());
        Arbitrary<String> devices =
                Arbitraries.frequencyOf(
                                Tuple.of(4, Arbitraries.strings().ofMaxLength(300)),
                                Tuple.of(
                                        1,
                                        Arbitraries.strings()
                                                .withChars('d')
                                                .ofMinLength(255)
                                                .ofMaxLength(258)))
                        .injectNull(0.5);
        return Combinators.combine(
                        ids,
                        ids,
                        Combinators.combine(merchants, categories)
                                .as((m, c) -> new String[] {m, c}),
                        amounts,
                        Combinators.combine(currencies, countries)
                                .as((a, b) -> new String[] {a, b}),
                        Arbitraries.of(Channel.values()),
                        times,
                        devices)
                .as(
                        (id, card, merchant, amount, place, channel, time, device) ->
                                Transaction.newBuilder()
                                        .setTransactionId(id)
                                        .setCardId(card)
                                        .setMerchantId(merchant[0])
                                        .setMerchantCategory(merchant[1])
                                        .setAmountMinor(amount)
                                        .setCurrency(place[0])
                                        .setCountry(place[1])
                                        .setChannel(channel)
                                        .setCardPresent(channel != Channel.ECOM)
                                        .setEventTime(Instant.ofEpochMilli(time))
                                        .setDeviceId(device)
                                        .build());
    }

    /** {@code valid} eight times in ten, a near miss or any short string otherwise. */
    private static Arbitrary<String> mostly(Arbitrary<String> valid, Arbitrary<String> nearMiss) {
        return Arbitraries.frequencyOf(
                Tuple.of(8, valid),
                Tuple.of(1, nearMiss),
                Tuple.of(1, Arbitraries.strings().ofMaxLength(5)));
    }

    /** One change to an encoding, at {@code position} (taken modulo the length). */
    private record Mutation(int kind, int position, long value) {

        byte[] applyTo(byte[] bytes) {
            if (bytes.length == 0) {
                return varint(value);
            }
            int at = position % bytes.length;
            return switch (kind) {
                case 0 -> { // flip one bit
                    byte[] b = bytes.clone();
                    b[at] ^= (byte) (1 << (value & 7));
                    yield b;
                }
                case 1 -> { // overwrite one byte
                    byte[] b = bytes.clone();
                    b[at] = (byte) value;
                    yield b;
                }
                case 2 -> Arrays.copyOf(bytes, at); // cut short
                case 3 -> // claim a length (or write a long) in the middle
                        concat(
                                Arrays.copyOfRange(bytes, 0, at),
                                varint(value),
                                Arrays.copyOfRange(bytes, at, bytes.length));
                case 4 -> // overwrite with a varint
                        concat(
                                Arrays.copyOfRange(bytes, 0, at),
                                varint(value),
                                Arrays.copyOfRange(
                                        bytes,
                                        Math.min(bytes.length, at + varint(value).length),
                                        bytes.length));
                default -> // repeat a stretch
                        concat(
                                Arrays.copyOfRange(bytes, 0, at),
                                Arrays.copyOfRange(
                                        bytes, at, Math.min(bytes.length, at + (int) (value & 63))),
                                Arrays.copyOfRange(bytes, at, bytes.length));
            };
        }
    }

    // --- JSON records of the payouts pipeline --------------------------------------------------

    @Provide
    Arbitrary<byte[]> jsonRecords() {
        return Arbitraries.frequencyOf(
                Tuple.of(1, randomBytes()),
                Tuple.of(
                        1,
                        Arbitraries.strings()
                                .all()
                                .ofMaxLength(100)
                                .map(s -> s.getBytes(StandardCharsets.UTF_8))),
                Tuple.of(1, hostileValues().map(s -> s.getBytes(StandardCharsets.UTF_8))),
                Tuple.of(8, payoutObjects()));
    }

    /** The fields of a valid payout as raw JSON values, mostly valid, around the checks. */
    private static Arbitrary<Map<String, String>> payouts() {
        Arbitrary<String> ids =
                Arbitraries.frequencyOf(
                        Tuple.of(
                                12,
                                Arbitraries.strings()
                                        .alpha()
                                        .numeric()
                                        .withChars('-', '_')
                                        .ofMinLength(1)
                                        .ofMaxLength(24)
                                        .map(EventDecoderFuzzTest::quoted)),
                        Tuple.of(1, anyString()),
                        Tuple.of(
                                1,
                                Arbitraries.of(
                                        quoted(""),
                                        quoted("   "),
                                        quoted("p".repeat(128)),
                                        quoted("p".repeat(129)),
                                        "\"\\u00e9\\ud83d\\ude00\"",
                                        "\"\\u0000\"")));
        Arbitrary<String> amounts =
                Arbitraries.frequencyOf(
                        Tuple.of(
                                10,
                                Arbitraries.longs().between(1, 10_000_000).map(String::valueOf)),
                        Tuple.of(
                                1,
                                Arbitraries.of(
                                        "0",
                                        "-1",
                                        "-0",
                                        "9223372036854775807",
                                        "-9223372036854775808")));
        Arbitrary<String> times =
                Arbitraries.frequencyOf(
                        Tuple.of(
                                10,
                                Arbitraries.longs()
                                        .between(
                                                EventDecoder.EARLIEST.toEpochMilli(),
                                                NOW + 10 * 60_000)
                                        .map(String::valueOf)),
                        Tuple.of(
                                1,
                                Arbitraries.of(
                                                0L,
                                                -1L,
                                                NOW * 1000,
                                                Long.MAX_VALUE,
                                                Long.MIN_VALUE,
                                                EventDecoder.EARLIEST.toEpochMilli() - 1,
                                                NOW + SKEW_MILLIS + 1)
                                        .map(String::valueOf)));
        Arbitrary<String> notes =
                Arbitraries.frequencyOf(
                        Tuple.of(2, Arbitraries.just("null")),
                        Tuple.of(2, anyString()),
                        Tuple.of(1, Arbitraries.just(ABSENT)));
        return Combinators.combine(
                        ids,
                        ids,
                        amounts,
                        Arbitraries.of("EUR", "USD", "GBP").map(EventDecoderFuzzTest::quoted),
                        ids,
                        Arbitraries.of("DE", "FR", "US").map(EventDecoderFuzzTest::quoted),
                        Arbitraries.of("ACH", "WIRE", "INSTANT").map(EventDecoderFuzzTest::quoted),
                        Combinators.combine(times, notes).as((t, n) -> new String[] {t, n}))
                .as(
                        (id, merchant, amount, currency, account, country, method, tn) -> {
                            Map<String, String> fields = new java.util.LinkedHashMap<>();
                            fields.put("payout_id", id);
                            fields.put("merchant_id", merchant);
                            fields.put("amount_minor", amount);
                            fields.put("currency", currency);
                            fields.put("bank_account_id", account);
                            fields.put("country", country);
                            fields.put("method", method);
                            fields.put("requested_at", tn[0]);
                            if (!tn[1].equals(ABSENT)) { // else no note at all: its default
                                fields.put("note", tn[1]);
                            }
                            return fields;
                        });
    }

    /** A field left out of the object. */
    private static final String ABSENT = "(absent)";

    private static final List<String> FIELDS =
            List.of(
                    "payout_id",
                    "merchant_id",
                    "amount_minor",
                    "currency",
                    "bank_account_id",
                    "country",
                    "method",
                    "requested_at",
                    "note",
                    "unknown_field",
                    "");

    /** A payout object with up to three fields changed, then perhaps its text cut or flipped. */
    private static Arbitrary<byte[]> payoutObjects() {
        Arbitrary<int[]> fieldChange =
                Combinators.combine(
                                Arbitraries.integers().between(0, 3),
                                Arbitraries.integers().between(0, FIELDS.size() - 1))
                        .as((kind, field) -> new int[] {kind, field});
        Arbitrary<List<Object[]>> changes =
                Arbitraries.frequencyOf(
                        Tuple.of(1, Arbitraries.just(List.<Object[]>of())),
                        Tuple.of(
                                2,
                                Combinators.combine(fieldChange, hostileValues())
                                        .as((c, v) -> new Object[] {c, v})
                                        .list()
                                        .ofMinSize(1)
                                        .ofMaxSize(3)));
        Arbitrary<int[]> textChange =
                Combinators.combine(
                                Arbitraries.integers().between(0, 4),
                                Arbitraries.integers().between(0, 1_000),
                                Arbitraries.integers().between(0, 255))
                        .as((kind, at, value) -> new int[] {kind, at, value});
        Arbitrary<List<int[]>> textChanges =
                Arbitraries.frequencyOf(
                        Tuple.of(6, Arbitraries.just(List.<int[]>of())),
                        Tuple.of(1, textChange.list().ofMinSize(1).ofMaxSize(2)));
        return Combinators.combine(payouts(), changes, textChanges, Arbitraries.of(true, false))
                .as(
                        (fields, fieldChanges, bytesChanges, spaced) -> {
                            Map<String, String> f = new java.util.LinkedHashMap<>(fields);
                            StringBuilder extra = new StringBuilder();
                            for (Object[] change : fieldChanges) {
                                int[] c = (int[]) change[0];
                                String name = FIELDS.get(c[1]);
                                String value = (String) change[1];
                                switch (c[0]) {
                                    case 0 -> f.remove(name); // missing
                                    case 1, 2 -> f.put(name, value); // wrong, null, huge, ...
                                    default -> // the same name twice
                                            extra.append(",")
                                                    .append(quoted(name))
                                                    .append(":")
                                                    .append(value);
                                }
                            }
                            StringBuilder json = new StringBuilder("{");
                            String sep = spaced ? ", " : ",";
                            boolean first = true;
                            for (Map.Entry<String, String> e : f.entrySet()) {
                                if (!first) {
                                    json.append(sep);
                                }
                                first = false;
                                json.append(quoted(e.getKey()))
                                        .append(spaced ? ": " : ":")
                                        .append(e.getValue());
                            }
                            if (!f.isEmpty()) {
                                json.append(extra);
                            }
                            json.append("}");
                            byte[] bytes = json.toString().getBytes(StandardCharsets.UTF_8);
                            for (int[] m : bytesChanges) {
                                bytes = mutateText(bytes, m[0], m[1], m[2]);
                            }
                            return bytes;
                        });
    }

    private static byte[] mutateText(byte[] bytes, int kind, int at, int value) {
        if (bytes.length == 0) {
            return new byte[] {(byte) value};
        }
        int i = at % bytes.length;
        return switch (kind) {
            case 0 -> Arrays.copyOf(bytes, i); // cut short
            case 1 -> { // overwrite one byte
                byte[] b = bytes.clone();
                b[i] = (byte) value;
                yield b;
            }
            case 2 -> { // flip one bit
                byte[] b = bytes.clone();
                b[i] ^= (byte) (1 << (value & 7));
                yield b;
            }
            case 3 -> // insert one byte
                    concat(
                            Arrays.copyOfRange(bytes, 0, i),
                            new byte[] {(byte) value},
                            Arrays.copyOfRange(bytes, i, bytes.length));
            default -> // something after the object
                    concat(bytes, " {}".getBytes(StandardCharsets.UTF_8));
        };
    }

    /** JSON values of every kind, many of the wrong type for a payout's fields. */
    private static Arbitrary<String> hostileValues() {
        return Arbitraries.oneOf(
                Arbitraries.of(
                        "null",
                        "true",
                        "false",
                        "0",
                        "-0",
                        "1",
                        "-1",
                        "1.5",
                        "1e3",
                        "1E-400",
                        "1e400",
                        "-1e400",
                        "0.0",
                        "9223372036854775807",
                        "9223372036854775808",
                        "-9223372036854775809",
                        "123456789012345678901234567890",
                        "1" + "0".repeat(70),
                        "NaN",
                        "Infinity",
                        "[]",
                        "{}",
                        "[1,2,3]",
                        "{\"a\":1}",
                        "\"\"",
                        "\"12\"",
                        "\"ACH\"",
                        "\"ach\"",
                        "\"INSTANT\"",
                        "\"\\ud800\"",
                        "\"\\udc00x\"",
                        "\"\\ud83d\\ude00\"",
                        "\"\\u202e\\u200b\"",
                        "\"\\\"\"",
                        "'single'",
                        "\"unterminated",
                        "undefined"),
                Arbitraries.longs().map(String::valueOf),
                Arbitraries.doubles().map(String::valueOf),
                Arbitraries.integers().between(1, 200).map(EventDecoderFuzzTest::nestedArray),
                Arbitraries.integers().between(1, 200).map(EventDecoderFuzzTest::nestedObject),
                anyString());
    }

    /** Any string, as JSON: non-ASCII raw or escaped (unpaired surrogates included). */
    private static Arbitrary<String> anyString() {
        return Combinators.combine(
                        Arbitraries.strings().all().ofMaxLength(140), Arbitraries.of(true, false))
                .as(EventDecoderFuzzTest::quoted);
    }

    private static String nestedArray(int depth) {
        return "[".repeat(depth) + "]".repeat(depth);
    }

    private static String nestedObject(int depth) {
        return "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
    }

    static String quoted(String s) {
        return quoted(s, false);
    }

    /**
     * {@code s} as a JSON string; with {@code escapeAll}, every character beyond ASCII as a {@code
     * \\u} escape (so that an unpaired surrogate stays one), else as UTF-8.
     */
    static String quoted(String s, boolean escapeAll) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20 || (escapeAll && c > 0x7e)) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
