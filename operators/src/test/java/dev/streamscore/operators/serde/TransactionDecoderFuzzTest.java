package dev.streamscore.operators.serde;

import static dev.streamscore.operators.serde.HostileInputs.CODEC;
import static dev.streamscore.operators.serde.HostileInputs.concat;
import static dev.streamscore.operators.serde.HostileInputs.header;
import static dev.streamscore.operators.serde.HostileInputs.varint;
import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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

/**
 * Property-based fuzzing of decode and validation: 100,000 records per run, each random bytes, a
 * valid header with a random body, or a valid encoding of a random transaction put through up to
 * four mutations (bit flips, overwritten and inserted bytes, Avro lengths from 0 to far beyond the
 * heap, cuts and repeats). Whatever the bytes, the decoder must give a valid transaction or exactly
 * one dead letter that fits on its topic and identifies the original bytes, and never throw.
 *
 * <p>The share of each outcome is checked too, so that the generators keep reaching validation and
 * valid transactions, not only the header check. jqwik prints the seed of any failure; put the
 * failing bytes into {@code src/test/resources/decode-corpus/} (see {@link DecodeCorpusTest}).
 */
class TransactionDecoderFuzzTest {

    private static final long NOW = Instant.parse("2026-12-01T00:00:00Z").toEpochMilli();
    private static final SingleObjectCodec<DeadLetter> DEAD_LETTERS =
            SingleObjectCodec.of(DeadLetter.class);

    private final TransactionDecoder decoder = new TransactionDecoder();

    // The generators name their edge values themselves; jqwik's own would crowd out the rest.
    @Property(tries = 100_000, shrinking = ShrinkingMode.BOUNDED, edgeCases = EdgeCasesMode.NONE)
    void anyBytesGiveAValidTransactionOrExactlyOneDeadLetter(@ForAll("records") byte[] bytes) {
        List<DeadLetter> letters = new ArrayList<>();
        SourcedTransaction out =
                decoder.decode(
                        new KafkaRecord(bytes, "transactions", 3, 77, 0),
                        NOW,
                        (letter, ignored) -> letters.add(letter),
                        null);

        if (out != null) {
            assertThat(letters).isEmpty();
            assertThat(TransactionValidator.problemWith(out.transaction, NOW)).isNull();
            assertThat(CODEC.encode(out.transaction)).isNotEmpty(); // it can be written on
            Statistics.label("outcome").collect("valid");
            return;
        }
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.getStage()).isIn(Stage.DECODE, Stage.VALIDATE);
        assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
        assertThat(letter.getPayloadSha256()).isEqualTo(DeadLetters.sha256(bytes));
        assertThat(letter.getPayload().remaining())
                .isEqualTo(Math.min(bytes.length, DeadLetters.MAX_PAYLOAD_BYTES));
        assertThat(letter.getErrorMessage()).isNotBlank();
        assertThat(letter.getErrorMessage().length())
                .isLessThanOrEqualTo(DeadLetters.MAX_MESSAGE_CHARS);
        assertThat(DEAD_LETTERS.encode(letter).length)
                .isLessThanOrEqualTo(DeadLetters.MAX_ENCODED_BYTES);
        Statistics.label("outcome").collect(letter.getStage().name());
        Statistics.label("outcome")
                .coverage(
                        c -> {
                            c.check("DECODE").percentage(p -> p > 20);
                            c.check("VALIDATE").percentage(p -> p > 5);
                            c.check("valid").percentage(p -> p > 1);
                        });
    }

    @Provide
    Arbitrary<byte[]> records() {
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
        // Each field mostly valid, so that a good share of records reaches validation and passes.
        Arbitrary<String> ids =
                Arbitraries.frequencyOf(
                        Tuple.of(
                                8,
                                Arbitraries.strings()
                                        .alpha()
                                        .numeric()
                                        .ofMinLength(1)
                                        .ofMaxLength(20)),
                        Tuple.of(1, Arbitraries.strings().ofMaxLength(200)));
        Arbitrary<String> currencies = mostly(Arbitraries.of("EUR", "USD", "GBP"));
        Arbitrary<String> countries = mostly(Arbitraries.of("US", "DE", "GB"));
        Arbitrary<Long> times =
                Arbitraries.oneOf(
                        Arbitraries.longs()
                                .between(
                                        TransactionValidator.EARLIEST.toEpochMilli(),
                                        NOW + 10 * 60_000),
                        Arbitraries.longs()
                                .between(
                                        TransactionValidator.EARLIEST.toEpochMilli(),
                                        NOW + 10 * 60_000),
                        Arbitraries.of(Long.MIN_VALUE, Long.MAX_VALUE, NOW * 1000, 0L, -1L),
                        Arbitraries.longs());
        return Combinators.combine(
                        ids,
                        ids,
                        Arbitraries.oneOf(
                                Arbitraries.strings().numeric().ofLength(4),
                                Arbitraries.strings().ofMaxLength(6)),
                        Arbitraries.oneOf(
                                Arbitraries.longs().between(1, 10_000_000), Arbitraries.longs()),
                        Combinators.combine(currencies, countries)
                                .as((a, b) -> new String[] {a, b}),
                        Arbitraries.of(Channel.values()),
                        times,
                        Arbitraries.strings().ofMaxLength(300).injectNull(0.5))
                .as(
                        (id, card, mcc, amount, place, channel, time, device) ->
                                Transaction.newBuilder()
                                        .setTransactionId(id)
                                        .setCardId(card)
                                        .setMerchantId("m-" + card)
                                        .setMerchantCategory(mcc)
                                        .setAmountMinor(amount)
                                        .setCurrency(place[0])
                                        .setCountry(place[1])
                                        .setChannel(channel)
                                        .setCardPresent(channel != Channel.ECOM)
                                        .setEventTime(Instant.ofEpochMilli(time))
                                        .setDeviceId(device)
                                        .build());
    }

    /** {@code valid} eight times in nine, any short string otherwise. */
    private static Arbitrary<String> mostly(Arbitrary<String> valid) {
        return Arbitraries.frequencyOf(
                Tuple.of(8, valid), Tuple.of(1, Arbitraries.strings().ofMaxLength(5)));
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
}
