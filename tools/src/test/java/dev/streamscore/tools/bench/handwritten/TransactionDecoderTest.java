package dev.streamscore.tools.bench.handwritten;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;

class TransactionDecoderTest {

    private final SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);

    static Transaction valid() {
        return Transaction.newBuilder()
                .setTransactionId("tx-1")
                .setCardId("card-1")
                .setMerchantId("m-1")
                .setMerchantCategory("5411")
                .setAmountMinor(999)
                .setCurrency("USD")
                .setCountry("US")
                .setChannel(Channel.POS)
                .setCardPresent(true)
                .setEventTime(Instant.parse("2026-11-01T08:00:00Z"))
                .build();
    }

    private OneInputStreamOperatorTestHarness<KafkaRecord, SourcedTransaction> harness()
            throws Exception {
        return ProcessFunctionTestHarnesses.forProcessFunction(new TransactionDecoder());
    }

    @Test
    void passesAValidTransactionOnWithItsCoordinates() throws Exception {
        try (var h = harness()) {
            h.processElement(new KafkaRecord(codec.encode(valid()), "transactions", 1, 42, 0), 0);
            List<SourcedTransaction> out = h.extractOutputValues();
            assertThat(out).hasSize(1);
            assertThat(out.get(0).transaction).isEqualTo(valid());
            assertThat(out.get(0).partition).isEqualTo(1);
            assertThat(out.get(0).offset).isEqualTo(42);
            assertThat(h.getSideOutput(DeadLetters.TAG)).isNull();
        }
    }

    @Test
    void sendsUndecodableBytesToTheDeadLettersWithStageDecode() throws Exception {
        byte[] garbage = {1, 2, 3, 4, 5};
        try (var h = harness()) {
            h.processElement(new KafkaRecord(garbage, "transactions", 0, 7, 0), 0);
            assertThat(h.extractOutputValues()).isEmpty();
            DeadLetter letter = onlyDeadLetter(h);
            assertThat(letter.getStage()).isEqualTo(Stage.DECODE);
            assertThat(letter.getPayload()).isEqualTo(ByteBuffer.wrap(garbage));
            assertThat(letter.getSourceTopic()).isEqualTo("transactions");
            assertThat(letter.getSourceOffset()).isEqualTo(7);
            assertThat(letter.getErrorMessage()).contains("expected Avro single-object header");
            assertThat(letter.getTransactionId()).isNull();
        }
    }

    @Test
    void sendsAnInvalidTransactionToTheDeadLettersWithStageValidate() throws Exception {
        byte[] bytes = codec.encode(Transaction.newBuilder(valid()).setCountry("usa").build());
        try (var h = harness()) {
            h.processElement(new KafkaRecord(bytes, "transactions", 0, 8, 0), 0);
            assertThat(h.extractOutputValues()).isEmpty();
            DeadLetter letter = onlyDeadLetter(h);
            assertThat(letter.getStage()).isEqualTo(Stage.VALIDATE);
            assertThat(letter.getPayload()).isEqualTo(ByteBuffer.wrap(bytes));
            assertThat(letter.getErrorMessage())
                    .isEqualTo(
                            "country: expected an ISO 3166 alpha-2 code of two capital letters,"
                                    + " found 'usa'");
            assertThat(letter.getTransactionId()).isEqualTo("tx-1");
        }
    }

    @Test
    void validatorNamesEachBrokenField() {
        assertThat(TransactionValidator.problemWith(valid())).isNull();
        assertThat(
                        TransactionValidator.problemWith(
                                Transaction.newBuilder(valid()).setAmountMinor(0).build()))
                .startsWith("amount_minor:");
        assertThat(
                        TransactionValidator.problemWith(
                                Transaction.newBuilder(valid())
                                        .setMerchantCategory("54111")
                                        .build()))
                .startsWith("merchant_category:");
        assertThat(
                        TransactionValidator.problemWith(
                                Transaction.newBuilder(valid()).setCurrency("US").build()))
                .startsWith("currency:");
        assertThat(
                        TransactionValidator.problemWith(
                                Transaction.newBuilder(valid()).setCardId(" ").build()))
                .startsWith("card_id:");
        assertThat(
                        TransactionValidator.problemWith(
                                Transaction.newBuilder(valid())
                                        .setEventTime(Instant.ofEpochMilli(5))
                                        .build()))
                .startsWith("event_time:");
    }

    @Test
    void refusesEventTimesPastTheClockPlusTheSkewAndAcceptsThoseWithin() {
        long now = Instant.parse("2026-12-01T00:00:00Z").toEpochMilli();
        TransactionDecoder decoder = new TransactionDecoder(1024, Duration.ofMinutes(5));
        for (long aheadSeconds : new long[] {0, 299, 300, 301, 3600}) {
            Transaction txn =
                    Transaction.newBuilder(valid())
                            .setEventTime(Instant.ofEpochMilli(now + aheadSeconds * 1000))
                            .build();
            List<DeadLetter> letters = new ArrayList<>();
            SourcedTransaction out =
                    decoder.decode(
                            new KafkaRecord(codec.encode(txn), "t", 0, 0, 0),
                            now,
                            (l, ignored) -> letters.add(l),
                            null);
            if (aheadSeconds <= 300) {
                assertThat(out).as("%s s ahead", aheadSeconds).isNotNull();
            } else {
                assertThat(out).as("%s s ahead", aheadSeconds).isNull();
                assertThat(letters)
                        .singleElement()
                        .satisfies(l -> assertThat(l.getErrorMessage()).startsWith("event_time:"));
            }
        }
    }

    @Test
    void aRecordAtTheSizeLimitIsDecodedAndOneByteOverIsRefusedUnread() {
        int limit = TransactionDecoder.DEFAULT_MAX_RECORD_BYTES;
        int overhead =
                codec.encode(Transaction.newBuilder(valid()).setTransactionId("").build()).length;
        // A transaction id that makes the record exactly the limit (its length varint takes 3
        // bytes).
        String id = "x".repeat(limit - overhead - 2);
        byte[] atLimit = codec.encode(Transaction.newBuilder(valid()).setTransactionId(id).build());
        assertThat(atLimit).hasSize(limit);
        byte[] overLimit = Arrays.copyOf(atLimit, limit + 1);

        List<DeadLetter> letters = new ArrayList<>();
        TransactionDecoder decoder = new TransactionDecoder();
        for (byte[] bytes : List.of(atLimit, overLimit)) {
            assertThat(
                            decoder.decode(
                                    new KafkaRecord(bytes, "t", 0, 0, 0),
                                    System.currentTimeMillis(),
                                    (l, ignored) -> letters.add(l),
                                    null))
                    .isNull();
        }
        assertThat(letters).hasSize(2);
        DeadLetter tooLongId = letters.get(0);
        assertThat(tooLongId.getStage()).isEqualTo(Stage.VALIDATE);
        assertThat(tooLongId.getErrorMessage())
                .startsWith("transaction_id: expected an id of at most 128");
        assertThat(tooLongId.getTransactionId()).hasSize(DeadLetters.MAX_ID_CHARS).endsWith("...");
        assertThat(tooLongId.getPayloadTruncated()).isTrue();
        assertThat(tooLongId.getPayload().remaining()).isEqualTo(DeadLetters.MAX_PAYLOAD_BYTES);
        assertThat(tooLongId.getPayloadSize()).isEqualTo(limit);
        assertThat(tooLongId.getPayloadSha256()).isEqualTo(DeadLetters.sha256(atLimit));
        assertThat(SingleObjectCodec.of(DeadLetter.class).encode(tooLongId).length)
                .isLessThanOrEqualTo(DeadLetters.MAX_ENCODED_BYTES);

        DeadLetter tooLarge = letters.get(1);
        assertThat(tooLarge.getStage()).isEqualTo(Stage.DECODE);
        assertThat(tooLarge.getErrorClass()).isEqualTo("dev.streamscore.RecordTooLarge");
        assertThat(tooLarge.getErrorMessage())
                .isEqualTo(
                        "record of 1048577 bytes is over max-record-bytes (1048576); not decoded");
        assertThat(tooLarge.getPayloadSize()).isEqualTo(limit + 1);
    }

    @Test
    void aDeadLetterStillTooLargeForTheProducerIsCutToFit() {
        byte[] payload = new byte[DeadLetters.MAX_PAYLOAD_BYTES + 10];
        java.util.Arrays.fill(payload, (byte) 7);
        DeadLetter letter =
                DeadLetters.of(payload, "t", 0, 1, Stage.DECODE, "E", "m".repeat(10_000), null);
        var schema =
                new dev.streamscore.operators.deadletter.DeadLetterSerializationSchema(64 * 1024);

        byte[] written = schema.serialize(letter);

        assertThat(written.length).isLessThanOrEqualTo(64 * 1024);
        DeadLetter back;
        try {
            back = SingleObjectCodec.of(DeadLetter.class).decode(written);
        } catch (SingleObjectCodec.DecodeException e) {
            throw new AssertionError(e);
        }
        assertThat(back.getPayloadTruncated()).isTrue();
        assertThat(back.getPayloadSize()).isEqualTo(payload.length);
        assertThat(back.getPayloadSha256()).isEqualTo(DeadLetters.sha256(payload));
        assertThat(back.getErrorMessage()).hasSizeLessThanOrEqualTo(DeadLetters.MAX_ID_CHARS);
        // One that fits is written as it is.
        DeadLetter small = DeadLetters.of(new byte[] {1}, "t", 0, 1, Stage.DECODE, "E", "m", null);
        assertThat(schema.serialize(small))
                .isEqualTo(SingleObjectCodec.of(DeadLetter.class).encode(small));
    }

    private static DeadLetter onlyDeadLetter(
            OneInputStreamOperatorTestHarness<KafkaRecord, SourcedTransaction> h) {
        List<DeadLetter> letters =
                h.getSideOutput(DeadLetters.TAG).stream()
                        .map(StreamRecord::getValue)
                        .collect(Collectors.toList());
        assertThat(letters).hasSize(1);
        return letters.get(0);
    }
}
