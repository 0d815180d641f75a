package dev.streamscore.operators.serde;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.nio.ByteBuffer;
import java.time.Instant;
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
